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
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listening side of a proxy of this package: a socket on a free port of 127.0.0.1, an accept
 * loop that hands each new connection to the proxy, and the {@link Relay relays} the proxy starts,
 * tracked until they end so that {@link #close} can reset the open ones.
 *
 * <p>Lifecycle: {@link #bind} listens (the kernel accepts connections into its backlog from then);
 * {@link #acceptWith} starts the accept loop on a daemon thread; {@link #close} stops listening and
 * resets every open relay. Thread-safe.
 */
final class Listener implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Listener.class);

  private final String name;
  private final ServerSocket socket;
  private final Set<Relay> relays = ConcurrentHashMap.newKeySet();
  private final AtomicInteger threads = new AtomicInteger();
  private volatile boolean closed;

  private Listener(String name, ServerSocket socket) {
    this.name = name;
    this.socket = socket;
  }

  /**
   * Listens on a free port of 127.0.0.1.
   *
   * @param name names the threads ({@code name-role-n}) and the log lines
   */
  static Listener bind(String name) {
    try {
      return new Listener(name, new ServerSocket(0, 128, InetAddress.getLoopbackAddress()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen for " + name, e);
    }
  }

  /** Starts accepting: each new connection goes to {@code onAccept}, on the accepting thread. */
  void acceptWith(Consumer<Socket> onAccept) {
    daemon(
            "accept",
            () -> {
              while (!closed) {
                Socket client;
                try {
                  client = socket.accept();
                } catch (IOException e) {
                  if (!closed) {
                    log.warn("{} stopped accepting: {}", name, e.toString());
                  }
                  return;
                }
                onAccept.accept(client);
              }
            })
        .start();
  }

  int port() {
    return socket.getLocalPort();
  }

  boolean closed() {
    return closed;
  }

  /** Relays {@code client} to {@code target} while {@code gate} lets bytes through. */
  void relay(Socket client, InetSocketAddress target, Relay.Gate gate, String role) {
    Relay relay = new Relay(client, target, gate, this::daemon, relays::remove);
    relays.add(relay);
    daemon(role, relay::connectAndRelay).start();
  }

  /** Resets every connection open now. */
  void abortAll() {
    relays.forEach(Relay::abort);
  }

  int openConnections() {
    return relays.size();
  }

  Thread daemon(String role, Runnable body) {
    Thread thread = new Thread(body, name + "-" + role + "-" + threads.incrementAndGet());
    thread.setDaemon(true);
    return thread;
  }

  @Override
  public void close() {
    closed = true;
    try {
      socket.close();
    } catch (IOException e) {
      log.debug("closing {}: {}", name, e.toString());
    }
    abortAll();
  }
}
