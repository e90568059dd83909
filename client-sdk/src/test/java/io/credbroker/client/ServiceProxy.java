package io.credbroker.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A Kubernetes Service in front of broker replicas, as a client sees it over TCP: one address, and
 * each new connection relayed to the replica that is ready now. A connection already open stays on
 * its replica whatever happens to the routing, as with kube-proxy. {@link #freezeOpenConnections()}
 * stands for SIGSTOP of the replica behind them: the connections stay open and accept bytes, but
 * nothing answers. With no ready replica, a new connection is reset at once (a closed port).
 */
final class ServiceProxy implements AutoCloseable {

  private final ServerSocket listener;
  private final List<Relay> relays = new CopyOnWriteArrayList<>();
  private final AtomicInteger connectionAttempts = new AtomicInteger();
  private volatile @Nullable Integer readyPort;

  private ServiceProxy(ServerSocket listener) {
    this.listener = listener;
    Thread acceptor = new Thread(this::acceptLoop, "service-proxy-" + listener.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** A proxy on a free port of 127.0.0.1 with no ready replica yet. */
  static ServiceProxy start() throws IOException {
    return new ServiceProxy(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
  }

  int port() {
    return listener.getLocalPort();
  }

  /** Relays new connections to the replica listening on {@code port} of 127.0.0.1. */
  void routeTo(int port) {
    this.readyPort = port;
  }

  /** Refuses new connections, as a Service without ready endpoints. */
  void routeNowhere() {
    this.readyPort = null;
  }

  /** Stops relaying on every connection open now, leaving them open. */
  void freezeOpenConnections() {
    relays.forEach(relay -> relay.frozen = true);
  }

  /** How many connections clients opened to the proxy so far, refused ones included. */
  int connectionAttempts() {
    return connectionAttempts.get();
  }

  @Override
  public void close() throws IOException {
    listener.close();
    for (Relay relay : relays) {
      relay.close();
    }
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return;
      }
      connectionAttempts.incrementAndGet();
      Integer port = readyPort;
      try {
        if (port == null) {
          client.setSoLinger(true, 0);
          client.close();
          continue;
        }
        Relay relay = new Relay(client, new Socket(InetAddress.getLoopbackAddress(), port));
        relays.add(relay);
        relay.start();
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // Already gone.
    }
  }

  /** One client connection and its connection to a replica. */
  private static final class Relay {

    private final Socket client;
    private final Socket replica;
    volatile boolean frozen;

    Relay(Socket client, Socket replica) {
      this.client = client;
      this.replica = replica;
    }

    void start() {
      pump(client, replica);
      pump(replica, client);
    }

    private void pump(Socket from, Socket to) {
      Thread thread =
          new Thread(
              () -> {
                byte[] buffer = new byte[16 * 1024];
                try (InputStream in = from.getInputStream();
                    OutputStream out = to.getOutputStream()) {
                  int read;
                  while ((read = in.read(buffer)) >= 0) {
                    while (frozen && !from.isClosed()) {
                      // A stopped process: the bytes arrived, nobody handles them.
                      Thread.sleep(20);
                    }
                    out.write(buffer, 0, read);
                    out.flush();
                  }
                } catch (IOException e) {
                  // One side closed.
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } finally {
                  close();
                }
              },
              "service-proxy-relay");
      thread.setDaemon(true);
      thread.start();
    }

    void close() {
      closeQuietly(client);
      closeQuietly(replica);
    }
  }
}
