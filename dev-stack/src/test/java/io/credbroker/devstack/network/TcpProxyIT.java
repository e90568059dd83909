package io.credbroker.devstack.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
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
    try (LineClient line = line()) {
      assertThat(line.call("hello")).isEqualTo("hello");
    }
  }

  @Test
  void blackholeHoldsTrafficOnOpenConnectionsUntilTheLinkPassesAgain() throws IOException {
    try (LineClient line = line()) {
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
    try (LineClient line = line()) {
      line.send("waiting");
      assertThatThrownBy(line::receive).isInstanceOf(SocketTimeoutException.class);
      proxy.pass();
      assertThat(line.receive()).isEqualTo("waiting");
    }
  }

  @Test
  void resetBreaksOpenConnectionsAndNewOnes() throws IOException {
    try (LineClient open = line()) {
      assertThat(open.call("before")).isEqualTo("before");
      proxy.reset();
      assertThatThrownBy(() -> open.call("after")).isInstanceOf(IOException.class);
    }
    try (LineClient fresh = line()) {
      assertThatThrownBy(() -> fresh.call("new")).isInstanceOf(IOException.class);
    }
    proxy.pass();
    try (LineClient again = line()) {
      assertThat(again.call("again")).isEqualTo("again");
    }
  }

  /** A client of the echo server through the proxy, waiting at most a second for each line. */
  private LineClient line() throws IOException {
    return new LineClient(proxy.port(), Duration.ofSeconds(1));
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
