package io.credbroker.devstack.network;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy on 127.0.0.1 in front of one server, whose link can be cut: clients connect to {@link
 * #port()} instead of the server, and the proxy relays bytes both ways while it {@link #pass
 * passes}. {@link #blackhole()} is a partition: connections stay open but nothing gets through
 * either way, and new connections are accepted but not relayed, so clients wait for their own
 * timeouts; when the link passes again, what was held goes through, as TCP retransmission delivers
 * it after a short partition. {@link #reset()} is a server gone for good or a firewall that
 * rejects: every open connection and every new one is reset at once.
 *
 * <p>Lifecycle: {@link #start} binds and relays at once; {@link #close} stops listening and closes
 * every connection. Two daemon threads per connection. Thread-safe.
 */
public final class TcpProxy implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(TcpProxy.class);

  /** What the proxy does with traffic. */
  public enum Mode {
    PASS,
    BLACKHOLE,
    RESET
  }

  private final String name;
  private final InetSocketAddress target;
  private final ServerSocket listener;
  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private final Object modeLock = new Object();
  private final AtomicInteger threads = new AtomicInteger();
  private volatile Mode mode = Mode.PASS;
  private volatile boolean closed;

  private TcpProxy(String name, InetSocketAddress target, ServerSocket listener) {
    this.name = name;
    this.target = target;
    this.listener = listener;
  }

  /** Listens on a free port of 127.0.0.1 and relays to {@code targetHost:targetPort}. */
  public static TcpProxy start(String name, String targetHost, int targetPort) {
    try {
      ServerSocket listener = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
      TcpProxy proxy = new TcpProxy(name, new InetSocketAddress(targetHost, targetPort), listener);
      proxy.daemon("accept", proxy::acceptLoop).start();
      return proxy;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen for proxy " + name, e);
    }
  }

  public int port() {
    return listener.getLocalPort();
  }

  public Mode mode() {
    return mode;
  }

  /** Relays traffic again, including what a blackhole held. */
  public void pass() {
    setMode(Mode.PASS);
  }

  /** Holds all traffic, open connections and new ones, until {@link #pass} or {@link #reset}. */
  public void blackhole() {
    setMode(Mode.BLACKHOLE);
  }

  /**
   * Resets every open connection, and every new one as soon as it is accepted, until {@link #pass}.
   */
  public void reset() {
    setMode(Mode.RESET);
    links.forEach(Link::abort);
  }

  private void setMode(Mode next) {
    synchronized (modeLock) {
      mode = next;
      modeLock.notifyAll();
    }
    log.info("proxy {} -> {}: {}", name, target, next);
  }

  /** How many connections are open through the proxy now. */
  public int openConnections() {
    return links.size();
  }

  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException e) {
      log.debug("closing proxy {}: {}", name, e.toString());
    }
    links.forEach(Link::abort);
    synchronized (modeLock) {
      modeLock.notifyAll();
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        if (!closed) {
          log.warn("proxy {} stopped accepting: {}", name, e.toString());
        }
        return;
      }
      if (mode == Mode.RESET) {
        abort(client);
        continue;
      }
      Link link = new Link(client);
      links.add(link);
      daemon("connect", link::connectAndRelay).start();
    }
  }

  /** Blocks while the proxy holds traffic; returns whether the bytes may go through. */
  private boolean awaitPassing() throws InterruptedException {
    synchronized (modeLock) {
      while (mode == Mode.BLACKHOLE && !closed) {
        modeLock.wait();
      }
      return mode == Mode.PASS && !closed;
    }
  }

  private Thread daemon(String role, Runnable body) {
    Thread thread =
        new Thread(body, "proxy-" + name + "-" + role + "-" + threads.incrementAndGet());
    thread.setDaemon(true);
    return thread;
  }

  /** Closes with RST instead of FIN, as a rejecting firewall or a crashed host's stack answers. */
  private static void abort(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (SocketException ignored) {
      // Already closed.
    }
    try {
      socket.close();
    } catch (IOException ignored) {
      // Nothing left to free.
    }
  }

  /** One client connection and its connection to the target. */
  private final class Link {
    private final Socket client;
    private final Socket upstream = new Socket();
    private final AtomicInteger halvesClosed = new AtomicInteger();

    Link(Socket client) {
      this.client = client;
    }

    void connectAndRelay() {
      try {
        if (!awaitPassing()) {
          abort();
          return;
        }
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        upstream.connect(target, 5_000);
        daemon("up", () -> pump(client, upstream)).start();
        pump(upstream, client);
      } catch (IOException e) {
        abort();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        abort();
      }
    }

    private void pump(Socket from, Socket to) {
      byte[] buffer = new byte[16 * 1024];
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        int n;
        while ((n = in.read(buffer)) >= 0) {
          if (!awaitPassing()) {
            abort();
            return;
          }
          out.write(buffer, 0, n);
          out.flush();
        }
        // An orderly close on one side is passed on as one; the link ends when both sides closed.
        to.shutdownOutput();
        if (halvesClosed.incrementAndGet() == 2) {
          links.remove(this);
          client.close();
          upstream.close();
        }
      } catch (IOException e) {
        abort();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        abort();
      }
    }

    void abort() {
      links.remove(this);
      TcpProxy.abort(client);
      TcpProxy.abort(upstream);
    }
  }

  @Override
  public String toString() {
    return "TcpProxy[" + name + " :" + port() + " -> " + target + ", " + mode + "]";
  }
}
