package io.credbroker.devstack.network;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A client of a line server on 127.0.0.1 that sends lines and reads them, each within a timeout.
 */
final class LineClient implements AutoCloseable {
  private final Socket socket;
  private final PrintWriter out;
  private final BufferedReader in;

  LineClient(int port, Duration readTimeout) throws IOException {
    socket = new Socket(InetAddress.getLoopbackAddress(), port);
    socket.setSoTimeout((int) readTimeout.toMillis());
    out = new PrintWriter(socket.getOutputStream(), true, StandardCharsets.UTF_8);
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
  }

  void send(String line) {
    out.println(line);
  }

  /** The next line; an IOException when the connection ended, a SocketTimeoutException late. */
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
