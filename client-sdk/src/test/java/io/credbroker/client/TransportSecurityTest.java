package io.credbroker.client;

import static io.credbroker.client.RecordingCredentialBroker.credential;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.client.RecordingCredentialBroker.WatchCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token only ever travels over TLS, over real sockets: a broker verified by its CA, the refusal
 * of a channel without privacy, and the handshake failures between a TLS side and a plaintext side.
 */
class TransportSecurityTest {

  private static final String JDBC_URL = "jdbc:postgresql://localhost:5432/db1";
  private static final Duration NO_RETRY_WINDOW = Duration.ofMillis(400);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir Path dir;

  private final RecordingCredentialBroker broker = new RecordingCredentialBroker();
  private final RecordingCredentialListener listener = new RecordingCredentialListener();
  private final RecordingEventListener events = new RecordingEventListener();

  /** Every call that reached a broker, as "method authorization", whatever the method. */
  private final List<String> callsSeen = new CopyOnWriteArrayList<>();

  private final Deque<AutoCloseable> toClose = new ArrayDeque<>();
  private Path tokenFile;
  private TestCertificates certificates;

  @BeforeEach
  void writeTokenAndCertificates() throws Exception {
    tokenFile = Files.writeString(dir.resolve("token"), "token-1\n");
    certificates = TestCertificates.create(dir);
  }

  @AfterEach
  void closeEverything() throws Exception {
    // Clients before their channels before the servers: the reverse of the order they were made in.
    while (!toClose.isEmpty()) {
      toClose.pop().close();
    }
  }

  @Test
  void tokenTravelsToABrokerWhoseCertificateThePrivateCaIssued() throws Exception {
    Server tls = startBroker(tlsCredentials());
    CredentialBrokerClient client =
        client(
            CredentialBrokerClient.builder()
                .target("localhost:" + tls.getPort())
                .trustedCertificates(certificates.caCertificate()));

    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    assertThat(call.authorization()).isEqualTo("Bearer token-1");
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));

    assertThat(subscription.awaitCredential(Duration.ofSeconds(5)).password()).isEqualTo("pw-1");
  }

  @Test
  void brokerCertificateFromACaTheJvmDoesNotTrustIsRefusedBeforeAnyCall() throws Exception {
    Server tls = startBroker(tlsCredentials());
    CredentialBrokerClient client =
        client(CredentialBrokerClient.builder().target("localhost:" + tls.getPort()));

    CredentialSubscription subscription = client.watch("db1", listener);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(events.events)
                    .filteredOn(event -> event.equals("failed UNAVAILABLE null"))
                    .hasSizeGreaterThanOrEqualTo(2));
    assertThat(callsSeen).isEmpty();
    assertThat(subscription.isActive())
        .as("a broker's certificate can be fixed: the client keeps trying")
        .isTrue();
  }

  @Test
  void tokenIsNeverSentOverAChannelWithoutPrivacyAndTheSubscriptionStopsAtOnce() throws Exception {
    Server plaintext = startBroker(InsecureServerCredentials.create());
    CredentialBrokerClient client =
        client(CredentialBrokerClient.builder().channel(insecureChannel(plaintext)));

    CredentialSubscription subscription = client.watch("db1", listener);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.stops).hasSize(1));
    CredentialBrokerException error = listener.stops.get(0);
    assertThat(error.code()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(error.reason()).isEqualTo("INSECURE_TRANSPORT");
    assertThat(error.getMessage())
        .contains("db1", "Observed security level: NONE", "allowInsecureTransport()")
        .doesNotContain("token-1");
    assertThat(subscription.isActive()).isFalse();
    await()
        .during(NO_RETRY_WINDOW)
        .atMost(NO_RETRY_WINDOW.multipliedBy(2))
        .until(() -> callsSeen.isEmpty());
    assertThat(events.events)
        .containsExactly(
            "connect 1 resume=null",
            "failed UNAUTHENTICATED INSECURE_TRANSPORT",
            "stopped UNAUTHENTICATED INSECURE_TRANSPORT");
  }

  @Test
  void channelWithoutPrivacyIsRefusedBeforeTheTokenFileIsRead() throws Exception {
    Server plaintext = startBroker(InsecureServerCredentials.create());
    CredentialBrokerClient client =
        client(CredentialBrokerClient.builder().channel(insecureChannel(plaintext)));
    Files.delete(tokenFile);

    client.watch("db1", listener);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.stops).hasSize(1));
    assertThat(listener.stops.get(0).reason()).isEqualTo("INSECURE_TRANSPORT");
    assertThat(listener.stops.get(0).getMessage()).doesNotContain(tokenFile.toString());
  }

  @Test
  void allowInsecureTransportSendsTheTokenOverTheApplicationsPlaintextChannel() throws Exception {
    Server plaintext = startBroker(InsecureServerCredentials.create());
    CredentialBrokerClient client =
        client(
            CredentialBrokerClient.builder()
                .channel(insecureChannel(plaintext))
                .allowInsecureTransport());

    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    assertThat(call.authorization()).isEqualTo("Bearer token-1");
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));

    assertThat(subscription.awaitCredential(Duration.ofSeconds(5)).password()).isEqualTo("pw-1");
  }

  @Test
  void tlsClientFailsCleanlyAgainstAPlaintextBroker() throws Exception {
    Server plaintext = startBroker(InsecureServerCredentials.create());
    CredentialBrokerClient client =
        client(
            CredentialBrokerClient.builder()
                .target("localhost:" + plaintext.getPort())
                .trustedCertificates(certificates.caCertificate()));

    client.watch("db1", listener);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(events.events).contains("failed UNAVAILABLE null"));
    assertThat(callsSeen).isEmpty();
    assertThat(listener.credentials).isEmpty();
  }

  @Test
  void plaintextClientFailsCleanlyAgainstATlsBroker() throws Exception {
    Server tls = startBroker(tlsCredentials());
    CredentialBrokerClient client =
        client(
            CredentialBrokerClient.builder()
                .target("localhost:" + tls.getPort())
                .plaintext()
                .allowInsecureTransport());

    client.watch("db1", listener);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(events.events).contains("failed UNAVAILABLE null"));
    assertThat(callsSeen).isEmpty();
    assertThat(listener.credentials).isEmpty();
  }

  @Test
  void plaintextWithoutAllowInsecureTransportIsRefusedAtBuild() {
    assertThatThrownBy(
            () -> CredentialBrokerClient.builder().target("localhost:9090").plaintext().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("plaintext()")
        .hasMessageContaining("allowInsecureTransport()");
  }

  private Server startBroker(ServerCredentials credentials) throws IOException {
    Server server =
        Grpc.newServerBuilderForPort(0, credentials)
            .addService(
                ServerInterceptors.intercept(broker, broker.headerRecorder(), callRecorder()))
            .build()
            .start();
    toClose.push(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return server;
  }

  private ServerCredentials tlsCredentials() throws IOException {
    return TlsServerCredentials.create(
        certificates.serverCertificate().toFile(), certificates.serverKey().toFile());
  }

  private ManagedChannel insecureChannel(Server server) {
    ManagedChannel channel =
        Grpc.newChannelBuilder("localhost:" + server.getPort(), InsecureChannelCredentials.create())
            .build();
    toClose.push(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return channel;
  }

  private CredentialBrokerClient client(CredentialBrokerClient.Builder builder) {
    CredentialBrokerClient client =
        builder
            .tokenFile(tokenFile)
            .backoff(Duration.ofMillis(10), Duration.ofMillis(100))
            .eventListener(events)
            .build();
    toClose.push(client);
    return client;
  }

  private ServerInterceptor callRecorder() {
    return new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
          ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        callsSeen.add(
            call.getMethodDescriptor().getFullMethodName() + " " + headers.get(AUTHORIZATION));
        return next.startCall(call, headers);
      }
    };
  }
}
