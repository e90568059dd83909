package io.credbroker.devstack.network;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Consumer;

/**
 * One accepted client connection relayed to its own connection to a target, both ways: what the
 * proxies of this package do with each connection. An orderly close (FIN) of one side is passed on
 * as one, and the relay ends when both sides closed; an error on either side resets both (RST), as
 * a connection to a crashed host or through a rejecting firewall ends.
 *
 * <p>Lifecycle: {@link #connectAndRelay} connects to the target and then relays, on the calling
 * thread and one more; {@link #abort} ends it from any thread. {@code onEnd} runs when the relay
 * ends, possibly more than once.
 */
final class Relay {

  /** How long a connection to the target may take before the client's connection is reset. */
  private static final int CONNECT_TIMEOUT_MILLIS = 5_000;

  /**
   * Whether bytes may go through now; may block while traffic is held. False ends the relay with a
   * reset.
   */
  interface Gate {
    boolean awaitPassing() throws InterruptedException;
  }

  private final Socket client;
  private final Socket upstream = new Socket();
  private final InetSocketAddress target;
  private final Gate gate;
  private final BiFunction<String, Runnable, Thread> daemon;
  private final Consumer<Relay> onEnd;
  private final AtomicInteger halvesClosed = new AtomicInteger();

  /**
   * @param daemon makes an unstarted daemon thread from a role name and a body
   * @param onEnd runs when the relay ended
   */
  Relay(
      Socket client,
      InetSocketAddress target,
      Gate gate,
      BiFunction<String, Runnable, Thread> daemon,
      Consumer<Relay> onEnd) {
    this.client = client;
    this.target = target;
    this.gate = gate;
    this.daemon = daemon;
    this.onEnd = onEnd;
  }

  /** Waits for the gate, connects to the target and relays until the connection ends. */
  void connectAndRelay() {
    try {
      if (!gate.awaitPassing()) {
        abort();
        return;
      }
      client.setTcpNoDelay(true);
      upstream.setTcpNoDelay(true);
      upstream.connect(target, CONNECT_TIMEOUT_MILLIS);
      daemon.apply("up", () -> pump(client, upstream)).start();
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
        if (!gate.awaitPassing()) {
          abort();
          return;
        }
        out.write(buffer, 0, n);
        out.flush();
      }
      // An orderly close on one side is passed on as one; the link ends when both sides closed.
      to.shutdownOutput();
      if (halvesClosed.incrementAndGet() == 2) {
        onEnd.accept(this);
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

  /** Resets both connections. */
  void abort() {
    onEnd.accept(this);
    abort(client);
    abort(upstream);
  }

  /** Closes with RST instead of FIN, as a rejecting firewall or a crashed host's stack answers. */
  static void abort(Socket socket) {
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
}
