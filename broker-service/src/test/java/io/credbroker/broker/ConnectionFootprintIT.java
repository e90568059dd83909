package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a pod's own connection and its long stream cost the broker beyond the stream's state: no
 * HPACK dynamic table and no TLS session ticket kept per connection, and no observation held open
 * per stream. The broker runs from the packaged jar, as in production: the tests' classpath also
 * holds grpc-java's shaded Netty, which spring-grpc would pick instead of the Netty server the
 * broker ships with.
 */
class ConnectionFootprintIT {

  private static final int SETTINGS = 0x4;
  private static final int FLAG_ACK = 0x1;
  private static final int SETTINGS_HEADER_TABLE_SIZE = 0x1;

  @TempDir static Path workDir;
  private static DevStack devStack;
  private static BrokerProcess broker;

  @BeforeAll
  static void startBroker() throws InterruptedException {
    devStack =
        BrokerFixture.startDevStack(
            workDir.resolve("dev-stack"), Duration.ofHours(1), Duration.ofHours(24));
    broker =
        BrokerProcess.startReady(
                Path.of("target", "replicas", ConnectionFootprintIT.class.getSimpleName()),
                BrokerFixture.replicaProperties(devStack),
                Duration.ofSeconds(180),
                "footprint")
            .get(0);
  }

  @AfterAll
  static void stopBroker() throws InterruptedException {
    if (broker != null) {
      broker.close();
    }
    if (devStack != null) {
      devStack.close();
    }
  }

  /**
   * A client that speaks HTTP/2 over the broker's TLS port reads, in the server's SETTINGS frames,
   * a header table size of 0: the client's encoder may keep no dynamic table, and the broker's
   * decoder keeps none for the connection's life.
   */
  @Test
  void theServerAnnouncesNoHpackDynamicTable() throws Exception {
    Map<Integer, Long> announced = connectH2(TestTls.sslContext(devStack.caCertPath())).settings();

    assertThat(announced).containsEntry(SETTINGS_HEADER_TABLE_SIZE, 0L);
  }

  /**
   * A client that connects again with the TLS context it used before, as a pod's channel does when
   * it reconnects, gets a full handshake every time: the broker gave it no session ticket to be
   * resumed with. (A resumed session is a copy of the one its ticket came from, creation time
   * included.) The first connection the broker serves still gets a ticket, so another client
   * connects first.
   */
  @Test
  void aClientThatComesBackIsNotResumedFromASessionTicket() throws Exception {
    connectH2(TestTls.sslContext(devStack.caCertPath()));
    SSLContext pod = TestTls.sslContext(devStack.caCertPath());
    List<Long> sessionsCreated = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      sessionsCreated.add(connectH2(pod).session().getCreationTime());
      Thread.sleep(20);
    }

    assertThat(sessionsCreated).doesNotHaveDuplicates();
  }

  /**
   * An open {@code WatchCredential} stream holds no gRPC server observation (no active long task
   * under {@code grpc_server_active_seconds}), while a one-shot call is still timed under {@code
   * grpc_server_seconds}.
   */
  @Test
  void aLongStreamHoldsNoObservationWhileOtherCallsAreStillTimed() throws Exception {
    KubernetesApiServer kubernetes = devStack.kubernetes();
    kubernetes.createPod("public", "footprint-once", "application");
    kubernetes.createPod("public", "footprint-watch", "application");
    new BrokerTestClient(broker.channel)
        .issue(podToken(kubernetes, "footprint-once"), BrokerFixture.DATABASE_ROLE);

    try (EventStream stream =
        EventStream.open(
            broker.channel,
            podToken(kubernetes, "footprint-watch"),
            WatchCredentialRequest.newBuilder()
                .setDatabaseRole(BrokerFixture.DATABASE_ROLE)
                .build())) {
      stream.first();
      String metrics =
          await("the stream counted as open")
              .atMost(Duration.ofSeconds(20))
              .until(() -> metrics(), body -> sample(body, "credbroker_streams_active", "") >= 1);

      assertThat(sample(metrics, "grpc_server_seconds_count", "IssueCredential")).isEqualTo(1);
      // The one-shot call's long-task series exists (at 0 once it ended): the family is named
      // right.
      assertThat(metrics)
          .containsPattern("(?m)^grpc_server_active_seconds_count\\{[^}]*IssueCredential");
      assertThat(sample(metrics, "grpc_server_active_seconds_count", "WatchCredential"))
          .as("observations open for WatchCredential")
          .isZero();
    }
  }

  /**
   * The sum of the samples of {@code family} (no suffix) whose labels mention {@code label}; 0 when
   * there is none.
   */
  private static double sample(String metrics, String family, String label) {
    double sum = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith(family + "{") || line.startsWith(family + " ")) {
        String labels = line.substring(0, line.lastIndexOf(' '));
        if (labels.contains(label)) {
          sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
    }
    return sum;
  }

  /** What a client saw of one HTTP/2 connection to the broker. */
  private record H2Connection(Map<Integer, Long> settings, SSLSession session) {}

  /**
   * Opens TLS with {@code tls} and ALPN {@code h2} to the broker's gRPC port, sends the client
   * preface and an empty SETTINGS frame, and collects every setting of the server's SETTINGS frames
   * (not acknowledgements) that arrive within 10 s, until the header table size is among them.
   */
  private static H2Connection connectH2(SSLContext tls) throws IOException {
    Map<Integer, Long> settings = new LinkedHashMap<>();
    Duration wait = Duration.ofSeconds(10);
    try (SSLSocket socket =
        (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", broker.grpcPort)) {
      SSLParameters parameters = socket.getSSLParameters();
      parameters.setApplicationProtocols(new String[] {"h2"});
      socket.setSSLParameters(parameters);
      socket.startHandshake();
      assertThat(socket.getApplicationProtocol()).isEqualTo("h2");
      OutputStream out = socket.getOutputStream();
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[] {0, 0, 0, SETTINGS, 0, 0, 0, 0, 0});
      out.flush();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      long deadline = System.nanoTime() + wait.toNanos();
      List<Integer> frames = new ArrayList<>();
      while (System.nanoTime() < deadline && !settings.containsKey(SETTINGS_HEADER_TABLE_SIZE)) {
        socket.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        byte[] header = new byte[9];
        try {
          in.readFully(header);
        } catch (SocketTimeoutException e) {
          break;
        }
        int length = ((header[0] & 0xff) << 16) | ((header[1] & 0xff) << 8) | (header[2] & 0xff);
        int type = header[3] & 0xff;
        int flags = header[4] & 0xff;
        byte[] payload = new byte[length];
        in.readFully(payload);
        frames.add(type);
        if (type == SETTINGS && (flags & FLAG_ACK) == 0) {
          for (int i = 0; i + 6 <= length; i += 6) {
            int id = ((payload[i] & 0xff) << 8) | (payload[i + 1] & 0xff);
            long value =
                ((long) (payload[i + 2] & 0xff) << 24)
                    | ((payload[i + 3] & 0xff) << 16)
                    | ((payload[i + 4] & 0xff) << 8)
                    | (payload[i + 5] & 0xff);
            settings.put(id, value);
          }
        }
      }
      assertThat(frames).as("frame types from the server").contains(SETTINGS);
      return new H2Connection(settings, socket.getSession());
    }
  }

  private static String metrics() throws IOException, InterruptedException {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(broker.managementUri("/actuator/prometheus"))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private static String podToken(KubernetesApiServer kubernetes, String pod) {
    return kubernetes.issueToken(
        "public", "application", pod, List.of("credbroker"), Duration.ofMinutes(10));
  }
}
