package io.credbroker.devstack.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.credbroker.devstack.network.ServiceProxy.ReadinessProbe;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ServiceProxyIT {

  /** Fast timings, same meaning as a readinessProbe's: every 200 ms, 300 ms timeout. */
  private static final Duration PERIOD = Duration.ofMillis(200);

  private static final Duration TIMEOUT = Duration.ofMillis(300);

  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  @Test
  void routesNewConnectionsOnlyToEndpointsWhoseProbeAnswers200To399() throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 3, 1));
    Pod ok = pod("ok", 200);
    Pod unavailable = pod("unavailable", 503);
    Pod redirect = pod("redirect", 399);
    Pod badRequest = pod("bad-request", 400);
    for (Pod pod : List.of(ok, unavailable, redirect, badRequest)) {
      pod.addTo(service);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().size() == 2);
    // The unready ones have been probed several times by now, and failed each time.
    await().atMost(Duration.ofSeconds(10)).until(() -> unavailable.probes.size() >= 3);
    await().atMost(Duration.ofSeconds(10)).until(() -> badRequest.probes.size() >= 3);

    assertThat(service.readyEndpoints()).containsExactly("ok", "redirect");
    Map<String, Integer> reached = new HashMap<>();
    for (int i = 0; i < 12; i++) {
      try (LineClient line = line(service)) {
        reached.merge(line.call("who"), 1, Integer::sum);
      }
    }
    assertThat(reached).isEqualTo(Map.of("ok", 6, "redirect", 6));
    assertThat(unavailable.connections.get()).isZero();
    assertThat(badRequest.connections.get()).isZero();
  }

  @Test
  void removesAnEndpointOnlyAfterFailureThresholdConsecutiveFailures() throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 3, 1));
    Pod pod = pod("a", 200);
    pod.addTo(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));

    // Two failures and a success, three times: never three in a row; then failures only.
    pod.script(500, 500, 200, 500, 500, 200, 500, 500, 200);
    pod.fallback = 500;
    await().atMost(Duration.ofSeconds(20)).until(() -> pod.probesFromScript(14) != null);

    List<Probe> probes = pod.probesFromScript(14);
    // Ready when each of the 9 scripted probes and the next 3 failures arrived; out after them.
    for (int i = 0; i < 12; i++) {
      assertThat(probes.get(i).readyWhenItArrived).as("ready when probe %d arrived", i).isTrue();
    }
    assertThat(probes.get(12).readyWhenItArrived).as("ready when probe 12 arrived").isFalse();
    assertThat(service.readyEndpoints()).isEmpty();
  }

  @Test
  void aProbeThatHangsPastTheTimeoutCountsAsAFailure() throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 2, 1));
    Pod pod = pod("a", 200);
    pod.addTo(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));

    // Answers 200, but only after 5 s: too late for a 300 ms timeout. Without the timeout the
    // endpoint would stay ready (each probe a late success).
    pod.hang = Duration.ofSeconds(5);
    pod.script(200, 200, 200);
    long hungAt = System.nanoTime();
    await().atMost(Duration.ofSeconds(4)).until(() -> service.readyEndpoints().isEmpty());
    Duration removedAfter = Duration.ofNanos(System.nanoTime() - hungAt);
    await().atMost(Duration.ofSeconds(4)).until(() -> pod.probesFromScript(3) != null);

    // Out after two timeouts, not one, and long before any hung probe was answered.
    List<Probe> probes = pod.probesFromScript(3);
    assertThat(probes.get(0).readyWhenItArrived).isTrue();
    assertThat(probes.get(1).readyWhenItArrived).isTrue();
    assertThat(probes.get(2).readyWhenItArrived).isFalse();
    assertThat(removedAfter).isLessThan(Duration.ofSeconds(4));
  }

  @Test
  void addsAnEndpointBackAfterSuccessThresholdConsecutiveSuccesses() throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 1, 2));
    Pod pod = pod("a", 200);
    pod.addTo(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));
    pod.fallback = 503;
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().isEmpty());

    pod.script(200, 500, 200);
    pod.fallback = 200;
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));
    await().atMost(Duration.ofSeconds(10)).until(() -> pod.probesFromScript(5) != null);

    List<Probe> probes = pod.probesFromScript(5);
    // 200, 500, 200, 200: in after the second success in a row, not after the first.
    for (int i = 0; i < 4; i++) {
      assertThat(probes.get(i).readyWhenItArrived).as("ready when probe %d arrived", i).isFalse();
    }
    assertThat(probes.get(4).readyWhenItArrived).as("ready when probe 4 arrived").isTrue();
    try (LineClient line = line(service)) {
      assertThat(line.call("who")).isEqualTo("a");
    }
  }

  @Test
  void aConnectionAlreadyOpenStaysOnItsEndpointWhenTheEndpointLeavesTheService()
      throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 1, 1));
    Pod a = pod("a", 200);
    Pod b = pod("b", 200);
    a.addTo(service);
    b.addTo(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().size() == 2);

    try (LineClient open = line(service)) {
      String first = open.call("who");
      Pod leaving = first.equals("a") ? a : b;
      String other = first.equals("a") ? "b" : "a";
      leaving.fallback = 503;
      await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().size() == 1);

      assertThat(open.call("who")).isEqualTo(first);
      for (int i = 0; i < 4; i++) {
        try (LineClient fresh = line(service)) {
          assertThat(fresh.call("who")).isEqualTo(other);
        }
      }
      service.removeEndpoint(first);
      assertThat(open.call("who")).isEqualTo(first);
    }
  }

  @Test
  void withNoReadyEndpointANewConnectionIsRefusedAtOnce() throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 1, 1));
    try (LineClient nothingBehind = line(service)) {
      assertRefusedAtOnce(nothingBehind);
    }
    Pod pod = pod("a", 503);
    pod.addTo(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> pod.probes.size() >= 2);
    try (LineClient unready = line(service)) {
      assertRefusedAtOnce(unready);
    }
    assertThat(pod.connections.get()).isZero();

    pod.fallback = 200;
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));
    try (LineClient ready = line(service)) {
      assertThat(ready.call("who")).isEqualTo("a");
    }
  }

  @Test
  void aReplacedEndpointStartsUnreadyWhileConnectionsToItsPredecessorStay() throws IOException {
    ServiceProxy service = service(new ReadinessProbe(PERIOD, TIMEOUT, 1, 2));
    Pod old = pod("old", 200);
    old.addTo(service, "a");
    await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));
    try (LineClient open = line(service)) {
      assertThat(open.call("who")).isEqualTo("old");

      Pod successor = pod("successor", 200);
      successor.addTo(service, "a");
      assertThat(service.readyEndpoints()).isEmpty();
      await().atMost(Duration.ofSeconds(10)).until(() -> service.readyEndpoints().contains("a"));
      assertThat(successor.probes).hasSizeGreaterThanOrEqualTo(2);

      try (LineClient fresh = line(service)) {
        assertThat(fresh.call("who")).isEqualTo("successor");
      }
      assertThat(open.call("who")).isEqualTo("old");
    }
  }

  private static void assertRefusedAtOnce(LineClient line) {
    long start = System.nanoTime();
    assertThatThrownBy(() -> line.call("who"))
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(SocketTimeoutException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
  }

  private ServiceProxy service(ReadinessProbe probe) {
    ServiceProxy service = ServiceProxy.start("test", probe);
    closing.add(0, service);
    return service;
  }

  private Pod pod(String name, int status) throws IOException {
    Pod pod = new Pod(name, status);
    closing.add(pod);
    return pod;
  }

  /**
   * One readiness probe as the pod saw it: whether the Service had the pod ready when it arrived,
   * and whether its answer came from the test's script.
   */
  private record Probe(boolean readyWhenItArrived, boolean scripted) {}

  /**
   * A pod behind the Service: a TCP server that answers each line with its name, and a readiness
   * endpoint (JDK HttpServer) whose answers the test scripts, recording for each probe whether the
   * Service had the pod ready when the probe arrived (the previous probe's outcome is applied
   * before the next probe starts).
   */
  private static final class Pod implements AutoCloseable {
    final String name;
    final ServerSocket server;
    final HttpServer readiness;
    final AtomicInteger connections = new AtomicInteger();
    final List<Probe> probes = new CopyOnWriteArrayList<>();
    final Queue<Integer> script = new ConcurrentLinkedQueue<>();
    volatile int fallback;

    /** How long the scripted answers take. */
    volatile Duration hang = Duration.ZERO;

    volatile BooleanSupplier ready = () -> false;

    Pod(String name, int firstStatus) throws IOException {
      this.name = name;
      this.fallback = firstStatus;
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread accept = new Thread(this::acceptLoop, "pod-" + name);
      accept.setDaemon(true);
      accept.start();
      readiness = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      // Hung probes must not hold up the next ones.
      readiness.setExecutor(Executors.newCachedThreadPool());
      readiness.createContext(
          "/ready",
          exchange -> {
            boolean readyNow = ready.getAsBoolean();
            Integer scripted = script.poll();
            probes.add(new Probe(readyNow, scripted != null));
            int status = scripted != null ? scripted : fallback;
            Duration delay = scripted != null ? hang : Duration.ZERO;
            if (!delay.isZero()) {
              try {
                Thread.sleep(delay.toMillis());
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            byte[] body = ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
          });
      readiness.start();
    }

    /**
     * The first {@code count} probes from the first one the script answered, or null while fewer
     * have arrived.
     */
    @org.jspecify.annotations.Nullable
    List<Probe> probesFromScript(int count) {
      List<Probe> all = List.copyOf(probes);
      for (int i = 0; i < all.size(); i++) {
        if (all.get(i).scripted()) {
          return all.size() - i >= count ? all.subList(i, i + count) : null;
        }
      }
      return null;
    }

    void script(Integer... statuses) {
      script.addAll(List.of(statuses));
    }

    void addTo(ServiceProxy service) {
      addTo(service, name);
    }

    void addTo(ServiceProxy service, String endpoint) {
      ready = () -> service.readyEndpoints().contains(endpoint);
      service.putEndpoint(
          endpoint,
          "127.0.0.1",
          server.getLocalPort(),
          URI.create("http://127.0.0.1:" + readiness.getAddress().getPort() + "/ready"));
    }

    private void acceptLoop() {
      while (!server.isClosed()) {
        try {
          Socket socket = server.accept();
          connections.incrementAndGet();
          Thread serve = new Thread(() -> serve(socket), "pod-" + name + "-conn");
          serve.setDaemon(true);
          serve.start();
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket socket) {
      try (socket;
          BufferedReader in =
              new BufferedReader(
                  new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
          PrintWriter out =
              new PrintWriter(socket.getOutputStream(), true, StandardCharsets.UTF_8)) {
        while (in.readLine() != null) {
          out.println(name);
        }
      } catch (IOException ignored) {
        // The client went away.
      }
    }

    @Override
    public void close() throws IOException {
      readiness.stop(0);
      server.close();
    }
  }

  /** A client of the Service that asks who answers, waiting at most two seconds. */
  private static LineClient line(ServiceProxy service) throws IOException {
    return new LineClient(service.port(), Duration.ofSeconds(2));
  }
}
