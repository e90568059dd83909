package io.credbroker.devstack.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client's idle keep-alive connection stays open as long as on the real servers: kube-apiserver
 * closes an idle connection after 90 s ({@code IdleTimeout: 90 * time.Second} in {@code
 * k8s.io/apiserver/pkg/server/secure_serving.go}), Vault after 5 minutes ({@code
 * http_idle_timeout}), and the JDK's server after 30 to 40 s unless told otherwise. A client that
 * keeps idle connections for 60 s (the fabric8 Kubernetes client's Vert.x default) never reuses a
 * connection kube-apiserver closed, but did reuse ones the stand-in closed, and its request failed
 * with "Connection was closed".
 */
class IdleConnectionIT {

  private final HttpEndpoint endpoint =
      HttpEndpoint.start(
          new InetSocketAddress("127.0.0.1", 0),
          null,
          "idle",
          request -> HttpResponse.json(200, Map.of("path", request.path())));

  @AfterEach
  void close() {
    endpoint.close();
  }

  @Test
  void aConnectionIdleForFortyFiveSecondsIsStillServed() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", endpoint.port())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));

      assertThat(get(out, in, "/first")).contains("/first");
      Thread.sleep(45_000);

      assertThat(get(out, in, "/after-idle")).contains("/after-idle");
    }
  }

  /** Sends a keep-alive GET on the connection and returns its status line and body. */
  private static String get(OutputStream out, BufferedReader in, String path) throws Exception {
    out.write(
        ("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    String status = in.readLine();
    assertThat(status).as("status line (null: the server closed the connection)").isNotNull();
    int length = 0;
    String header;
    while (!(header = in.readLine()).isEmpty()) {
      if (header.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(header.substring(header.indexOf(':') + 1).trim());
      }
    }
    char[] body = new char[length];
    int read = 0;
    while (read < length) {
      read += in.read(body, read, length - read);
    }
    return status + " " + new String(body);
  }
}
