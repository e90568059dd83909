package io.credbroker.devstack.network;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
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
  private final Set<Relay> links = ConcurrentHashMap.newKeySet();
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
    links.forEach(Relay::abort);
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
    links.forEach(Relay::abort);
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
        Relay.abort(client);
        continue;
      }
      Relay relay = new Relay(client, target, this::awaitPassing, this::daemon, links::remove);
      links.add(relay);
      daemon("connect", relay::connectAndRelay).start();
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

  @Override
  public String toString() {
    return "TcpProxy[" + name + " :" + port() + " -> " + target + ", " + mode + "]";
  }
}
