package io.credbroker.devstack.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TcpProxyIT {

  private final ServerSocket echo = echoServer();
  private final TcpProxy proxy = TcpProxy.start("echo", "127.0.0.1", echo.getLocalPort());

  @AfterEach
  void close() throws IOException {
    proxy.close();
    echo.close();
  }

  @Test
  void passesBytesBothWays() throws IOException {
    try (Line line = new Line(proxy.port())) {
      assertThat(line.call("hello")).isEqualTo("hello");
    }
  }

  @Test
  void blackholeHoldsTrafficOnOpenConnectionsUntilTheLinkPassesAgain() throws IOException {
    try (Line line = new Line(proxy.port())) {
      assertThat(line.call("before")).isEqualTo("before");
      proxy.blackhole();

      line.send("held");
      assertThatThrownBy(line::receive).isInstanceOf(SocketTimeoutException.class);

      proxy.pass();
      assertThat(line.receive()).isEqualTo("held");
    }
  }

  @Test
  void blackholeAcceptsNewConnectionsButRelaysNothing() throws IOException {
    proxy.blackhole();
    try (Line line = new Line(proxy.port())) {
      line.send("waiting");
      assertThatThrownBy(line::receive).isInstanceOf(SocketTimeoutException.class);
      proxy.pass();
      assertThat(line.receive()).isEqualTo("waiting");
    }
  }

  @Test
  void resetBreaksOpenConnectionsAndNewOnes() throws IOException {
    try (Line open = new Line(proxy.port())) {
      assertThat(open.call("before")).isEqualTo("before");
      proxy.reset();
      assertThatThrownBy(() -> open.call("after")).isInstanceOf(IOException.class);
    }
    try (Line fresh = new Line(proxy.port())) {
      assertThatThrownBy(() -> fresh.call("new")).isInstanceOf(IOException.class);
    }
    proxy.pass();
    try (Line again = new Line(proxy.port())) {
      assertThat(again.call("again")).isEqualTo("again");
    }
  }

  /** A client that sends and reads lines, waiting at most a second for each. */
  private static final class Line implements AutoCloseable {
    private final Socket socket;
    private final PrintWriter out;
    private final BufferedReader in;

    Line(int port) throws IOException {
      socket = new Socket(InetAddress.getLoopbackAddress(), port);
      socket.setSoTimeout(1000);
      out = new PrintWriter(socket.getOutputStream(), true, StandardCharsets.UTF_8);
      in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    }

    void send(String line) {
      out.println(line);
    }

    String receive() throws IOException {
      String line = in.readLine();
      if (line == null) {
        throw new IOException("connection closed");
      }
      return line;
    }

    String call(String line) throws IOException {
      send(line);
      return receive();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private static ServerSocket echoServer() {
    try {
      ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread accept =
          new Thread(
              () -> {
                while (!server.isClosed()) {
                  try {
                    Socket socket = server.accept();
                    Thread echo =
                        new Thread(
                            () -> {
                              try (socket) {
                                socket.getInputStream().transferTo(socket.getOutputStream());
                              } catch (IOException ignored) {
                                // The client went away.
                              }
                            });
                    echo.setDaemon(true);
                    echo.start();
                  } catch (IOException e) {
                    return;
                  }
                }
              });
      accept.setDaemon(true);
      accept.start();
      return server;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
