package io.credbroker.devstack.network;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kubernetes Service of type ClusterIP on one port of 127.0.0.1, with the kubelet's readiness
 * probes of its endpoints: clients connect to {@link #port()}, and each new connection is relayed
 * to one endpoint that is ready now, as kube-proxy sends it. An endpoint is a pod: a {@code
 * host:port} and a readiness URL the proxy probes with HTTP GET, as the kubelet runs a pod's {@code
 * readinessProbe}.
 *
 * <p>What is kept from Kubernetes, with where it is specified:
 *
 * <ul>
 *   <li>Probing ({@code pkg/kubelet/prober/worker.go}): each endpoint is probed right when it is
 *       added, then once every {@link ReadinessProbe#period}; a probe that outlasts the period is
 *       followed by the next one at once (a Go ticker keeps one tick). A new endpoint starts not
 *       ready ({@code initialValue = results.Failure} for readiness; "The default state of
 *       readiness before the initial delay is Failure", kubernetes.io/docs/concepts/workloads/pods/
 *       pod-lifecycle). The outcome changes only after {@link ReadinessProbe#failureThreshold}
 *       consecutive failures or {@link ReadinessProbe#successThreshold} consecutive successes
 *       ({@code resultRun} against {@code FailureThreshold}/{@code SuccessThreshold}: "Minimum
 *       consecutive failures for the probe to be considered failed after having succeeded",
 *       "Minimum consecutive successes for the probe to be considered successful after having
 *       failed",
 *       kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes,
 *       Configure Probes). An unready endpoint is still probed, and comes back after successes.
 *   <li>One probe ({@code pkg/probe/http/http.go}, {@code DoHTTPProbe}): a GET on a new connection
 *       (the kubelet's transport disables keep-alive) with {@code User-Agent: kube-probe}; an
 *       answer with a status from 200 to 399 is a success ("400 > code >= 200"), any other status
 *       is a failure, and so is any error of the exchange, a refused connection or the {@link
 *       ReadinessProbe#timeout} running out before the whole answer arrived ({@code http.Client{
 *       Timeout}}: "Convert errors into failures to catch timeouts"). Redirects are not followed: a
 *       3xx is a success, as the kubelet counts a redirect to another host.
 *   <li>Routing (kubernetes.io/docs/reference/networking/virtual-ips): a new connection goes to one
 *       ready endpoint. kube-proxy's iptables mode picks one at random ({@code -m statistic --mode
 *       random}), its IPVS mode round-robin by default; this proxy takes them round-robin, so that
 *       tests see every ready endpoint used. A connection already open stays on its endpoint
 *       whatever the routing does later (connection tracking), until one side closes it. With no
 *       ready endpoint, kube-proxy rejects a new connection ({@code REJECT}, the client sees it
 *       refused); this proxy accepts it and resets it at once, which a client sees the same way (a
 *       connection that ends with an error before any byte). An endpoint that is ready but whose
 *       port is closed resets the connection too, as the pod's kernel answers the forwarded SYN.
 * </ul>
 *
 * <p>Left out: the kubelet's whole-second fields (this proxy takes any positive duration, so tests
 * can probe faster), {@code initialDelaySeconds}, startup probes, and the delay before a probe's
 * outcome reaches kube-proxy through the API server and the EndpointSlice controller (here it
 * routes by the outcome at once).
 *
 * <p>Lifecycle: {@link #start} listens at once; {@link #putEndpoint} adds or replaces an endpoint
 * and starts probing it, {@link #removeEndpoint} stops; {@link #close} stops listening, probing and
 * every relayed connection. One daemon thread per endpoint for probes and two per connection.
 * Thread-safe.
 */
public final class ServiceProxy implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ServiceProxy.class);

  /** The kubelet reads at most this much of a probe's answer ({@code maxRespBodyLength}). */
  private static final int MAX_ANSWER_BYTES = 10 * 1024;

  /**
   * A readiness probe's timings, with the meaning of the same fields of a Kubernetes container's
   * {@code readinessProbe}.
   *
   * @param period how often the probe runs ({@code periodSeconds})
   * @param timeout how long one probe may take before it counts as a failure ({@code
   *     timeoutSeconds})
   * @param failureThreshold consecutive failures that take a ready endpoint out of the Service
   * @param successThreshold consecutive successes that put an unready endpoint (a new one included)
   *     in
   */
  public record ReadinessProbe(
      Duration period, Duration timeout, int failureThreshold, int successThreshold) {

    public ReadinessProbe {
      if (period.isNegative() || period.isZero()) {
        throw new IllegalArgumentException("period must be positive, was " + period);
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, was " + timeout);
      }
      if (failureThreshold < 1 || successThreshold < 1) {
        throw new IllegalArgumentException(
            "thresholds must be at least 1, were "
                + failureThreshold
                + " (failure) and "
                + successThreshold
                + " (success)");
      }
    }

    /**
     * Kubernetes' defaults: every 10 s, a 1 s timeout, out after 3 failures, in after 1 success.
     */
    public static ReadinessProbe defaults() {
      return new ReadinessProbe(Duration.ofSeconds(10), Duration.ofSeconds(1), 3, 1);
    }
  }

  private final String name;
  private final ReadinessProbe probe;
  private final Listener listener;

  /** By name, in the order they were first added (the round-robin order). */
  private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();

  private final List<String> order = new CopyOnWriteArrayList<>();
  private final AtomicInteger nextEndpoint = new AtomicInteger();

  private ServiceProxy(String name, ReadinessProbe probe, Listener listener) {
    this.name = name;
    this.probe = probe;
    this.listener = listener;
  }

  /** Listens on a free port of 127.0.0.1, with no endpoint yet (every connection is reset). */
  public static ServiceProxy start(String name, ReadinessProbe probe) {
    ServiceProxy service = new ServiceProxy(name, probe, Listener.bind("service-" + name));
    service.listener.acceptWith(service::accept);
    return service;
  }

  public int port() {
    return listener.port();
  }

  public ReadinessProbe probe() {
    return probe;
  }

  /**
   * Adds the endpoint {@code endpoint}, or replaces the one of that name as a new pod replaces a
   * deleted one: the new endpoint is not ready until its probe has succeeded {@code
   * successThreshold} times in a row, and connections open to the old one stay where they are.
   *
   * @param readiness the URL the readiness probe GETs (plain HTTP)
   */
  public synchronized void putEndpoint(String endpoint, String host, int port, URI readiness) {
    if (!"http".equals(readiness.getScheme()) || readiness.getHost() == null) {
      throw new IllegalArgumentException("readiness must be an http:// URL, was " + readiness);
    }
    Endpoint added = new Endpoint(endpoint, new InetSocketAddress(host, port), readiness);
    Endpoint old = endpoints.put(endpoint, added);
    if (old != null) {
      old.stop();
    } else {
      order.add(endpoint);
    }
    log.info(
        "service {}: endpoint {} at {}:{} (readiness {})", name, endpoint, host, port, readiness);
    listener.daemon("probe-" + endpoint, added::probeLoop).start();
  }

  /**
   * Takes endpoint {@code endpoint} out of the Service, as when its pod is deleted: no new
   * connection goes to it, open ones stay.
   */
  public synchronized void removeEndpoint(String endpoint) {
    Endpoint removed = endpoints.remove(endpoint);
    order.remove(endpoint);
    if (removed != null) {
      removed.stop();
      log.info("service {}: endpoint {} removed", name, endpoint);
    }
  }

  /** The names of the endpoints that get new connections now, in round-robin order. */
  public List<String> readyEndpoints() {
    List<String> ready = new ArrayList<>();
    for (String endpoint : order) {
      Endpoint e = endpoints.get(endpoint);
      if (e != null && e.ready) {
        ready.add(endpoint);
      }
    }
    return ready;
  }

  /** How many connections are open through the Service now. */
  public int openConnections() {
    return listener.openConnections();
  }

  @Override
  public void close() {
    listener.close();
    endpoints.values().forEach(Endpoint::stop);
  }

  private void accept(Socket client) {
    Endpoint endpoint = pick();
    if (endpoint == null) {
      Relay.abort(client);
    } else {
      listener.relay(
          client, endpoint.address, () -> !listener.closed(), "connect-" + endpoint.name);
    }
  }

  /** The next ready endpoint, round-robin; null when none is ready. */
  private @Nullable Endpoint pick() {
    List<String> ready = readyEndpoints();
    if (ready.isEmpty()) {
      return null;
    }
    String chosen = ready.get(Math.floorMod(nextEndpoint.getAndIncrement(), ready.size()));
    return endpoints.get(chosen);
  }

  /** One pod behind the Service and its readiness probe's state. */
  private final class Endpoint {
    final String name;
    final InetSocketAddress address;
    final URI readiness;
    volatile boolean ready;
    private volatile boolean stopped;
    private volatile @Nullable Thread prober;

    // Written and read by the probe thread only.
    private boolean lastSucceeded;
    private int resultRun;

    Endpoint(String name, InetSocketAddress address, URI readiness) {
      this.name = name;
      this.address = address;
      this.readiness = readiness;
    }

    void stop() {
      stopped = true;
      ready = false;
      Thread thread = prober;
      if (thread != null) {
        thread.interrupt();
      }
    }

    /** Probes at once, then on every tick of the period; a tick missed by a long probe is kept. */
    void probeLoop() {
      prober = Thread.currentThread();
      long period = probe.period().toNanos();
      long nextTick = System.nanoTime() + period;
      while (!stopped && !listener.closed()) {
        record(probeOnce());
        long now = System.nanoTime();
        if (now >= nextTick) {
          // A Go ticker holds one tick for a slow receiver: the next probe runs at once, and the
          // ticks after it stay on the period's grid.
          nextTick += ((now - nextTick) / period + 1) * period;
          continue;
        }
        try {
          TimeUnit.NANOSECONDS.sleep(nextTick - now);
        } catch (InterruptedException e) {
          return;
        }
        nextTick += period;
      }
    }

    private void record(Outcome outcome) {
      if (stopped) {
        return;
      }
      if (outcome.success == lastSucceeded && resultRun > 0) {
        resultRun++;
      } else {
        lastSucceeded = outcome.success;
        resultRun = 1;
      }
      int threshold = outcome.success ? probe.successThreshold() : probe.failureThreshold();
      if (resultRun >= threshold && ready != outcome.success) {
        ready = outcome.success;
        log.info(
            "service {}: endpoint {} {} after {} {} in a row (last: {})",
            ServiceProxy.this.name,
            name,
            ready ? "ready" : "not ready",
            resultRun,
            outcome.success ? "successes" : "failures",
            outcome.detail);
      }
    }

    /** One HTTP GET of the readiness URL on a new connection, within the probe's timeout. */
    private Outcome probeOnce() {
      long deadline = System.nanoTime() + probe.timeout().toNanos();
      int port = readiness.getPort() < 0 ? 80 : readiness.getPort();
      String path =
          readiness.getRawPath() == null || readiness.getRawPath().isEmpty()
              ? "/"
              : readiness.getRawPath();
      if (readiness.getRawQuery() != null) {
        path += "?" + readiness.getRawQuery();
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(readiness.getHost(), port), remainingMillis(deadline));
        OutputStream out = socket.getOutputStream();
        out.write(
            ("GET "
                    + path
                    + " HTTP/1.1\r\nHost: "
                    + readiness.getHost()
                    + ":"
                    + port
                    + "\r\nUser-Agent: kube-probe/1.34\r\nAccept: */*\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] answer = readAnswer(socket, deadline);
        String head = new String(answer, StandardCharsets.ISO_8859_1);
        int lineEnd = head.indexOf("\r\n");
        String statusLine = lineEnd < 0 ? head : head.substring(0, lineEnd);
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
          return new Outcome(false, "not an HTTP answer");
        }
        int status = Integer.parseInt(parts[1]);
        return new Outcome(status >= 200 && status < 400, "HTTP " + status);
      } catch (SocketTimeoutException e) {
        return new Outcome(false, "timed out after " + probe.timeout().toMillis() + " ms");
      } catch (IOException | NumberFormatException e) {
        return new Outcome(false, e.toString());
      }
    }

    /**
     * Reads the answer until the server closes the connection (the request asked it to), keeping
     * the first {@link #MAX_ANSWER_BYTES}; the deadline covers the whole answer, as the kubelet's
     * client timeout does.
     */
    private byte[] readAnswer(Socket socket, long deadline) throws IOException {
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream kept = new ByteArrayOutputStream();
      byte[] buffer = new byte[4096];
      while (true) {
        socket.setSoTimeout(remainingMillis(deadline));
        int n = in.read(buffer);
        if (n < 0) {
          return kept.toByteArray();
        }
        kept.write(buffer, 0, Math.min(n, Math.max(0, MAX_ANSWER_BYTES - kept.size())));
      }
    }

    private static int remainingMillis(long deadline) throws SocketTimeoutException {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) {
        throw new SocketTimeoutException("probe deadline passed");
      }
      return (int) Math.min(Integer.MAX_VALUE, left);
    }
  }

  /** What one probe found. */
  private record Outcome(boolean success, String detail) {}

  @Override
  public String toString() {
    return "ServiceProxy[" + name + " :" + port() + " -> " + readyEndpoints() + " ready]";
  }
}
