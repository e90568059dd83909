package io.credbroker.devstack.network;

import java.net.InetSocketAddress;
import java.net.Socket;
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
  private final Listener listener;
  private final Object modeLock = new Object();
  private volatile Mode mode = Mode.PASS;

  private TcpProxy(String name, InetSocketAddress target, Listener listener) {
    this.name = name;
    this.target = target;
    this.listener = listener;
  }

  /** Listens on a free port of 127.0.0.1 and relays to {@code targetHost:targetPort}. */
  public static TcpProxy start(String name, String targetHost, int targetPort) {
    TcpProxy proxy =
        new TcpProxy(
            name, new InetSocketAddress(targetHost, targetPort), Listener.bind("proxy-" + name));
    proxy.listener.acceptWith(proxy::accept);
    return proxy;
  }

  public int port() {
    return listener.port();
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
    listener.abortAll();
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
    return listener.openConnections();
  }

  @Override
  public void close() {
    listener.close();
    synchronized (modeLock) {
      modeLock.notifyAll();
    }
  }

  private void accept(Socket client) {
    if (mode == Mode.RESET) {
      Relay.abort(client);
    } else {
      listener.relay(client, target, this::awaitPassing, "connect");
    }
  }

  /** Blocks while the proxy holds traffic; returns whether the bytes may go through. */
  private boolean awaitPassing() throws InterruptedException {
    synchronized (modeLock) {
      while (mode == Mode.BLACKHOLE && !listener.closed()) {
        modeLock.wait();
      }
      return mode == Mode.PASS && !listener.closed();
    }
  }

  @Override
  public String toString() {
    return "TcpProxy[" + name + " :" + port() + " -> " + target + ", " + mode + "]";
  }
}
