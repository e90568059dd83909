package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.healthcheck.HealthCheckCommand;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLSocket;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker's transport security through the real wire: TLS on the gRPC API and the admin API,
 * plain HTTP only on the management port, plaintext refused on the TLS ports, and a renewed
 * certificate served from the next handshake on while open streams go on.
 */
class TransportSecurityIT {

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static TestPods pods;

  @BeforeAll
  static void startBroker() {
    fixture = BrokerFixture.start(workDir);
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "tls-app-");
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void aPlaintextCallToTheGrpcPortFailsAndObtainsNothing() throws Exception {
    String pod = pods.create();
    ManagedChannel plaintext =
        ManagedChannelBuilder.forAddress("127.0.0.1", fixture.grpcPort).usePlaintext().build();
    try {
      assertThatThrownBy(
              () ->
                  CredentialBrokerGrpc.newBlockingStub(plaintext)
                      .withInterceptors(
                          MetadataUtils.newAttachHeadersInterceptor(bearer(pods.token(pod))))
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .watchCredential(request())
                      .next())
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    } finally {
      plaintext.shutdownNow();
    }
    // The broker never read the request: no credential exists for the pod.
    HttpResponse<String> credentials = listCredentials();
    assertThat(credentials.statusCode()).as(credentials.body()).isEqualTo(200);
    assertThat(credentials.body()).doesNotContain("\"" + pod + "\"");
  }

  @Test
  void plainHttpToTheAdminPortIsRefused() throws Exception {
    HttpResponse<String> answer;
    try {
      answer =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:" + fixture.adminPort + "/admin/v1/credentials"))
                      .header("Authorization", "Bearer " + sreToken())
                      .timeout(Duration.ofSeconds(10))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
    } catch (IOException refused) {
      return; // the connection was closed without an answer: refused as well
    }
    // Tomcat answers a plain request on a TLS port with 400 and nothing else.
    assertThat(answer.statusCode()).isEqualTo(400);
    assertThat(answer.body()).doesNotContain("items").containsIgnoringCase("TLS");
  }

  @Test
  void theAdminApiIsServedWithTlsAndOnlyTheActuatorInPlainHttp() throws Exception {
    HttpResponse<String> admin = listCredentials();
    assertThat(admin.statusCode()).as(admin.body()).isEqualTo(200);

    assertThat(fixture.httpGet("/actuator/health/readiness").statusCode()).isEqualTo(200);
    assertThat(fixture.httpGet("/actuator/prometheus").body()).contains("credbroker_");
    assertThat(fixture.httpGet("/admin/v1/credentials").statusCode()).isEqualTo(404);
    assertThat(fixture.httpGet("/v3/api-docs").statusCode()).isEqualTo(404);
    HttpResponse<String> actuatorOnAdminPort =
        fixture
            .adminHttpClient()
            .send(
                HttpRequest.newBuilder(fixture.adminUri("/actuator/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(actuatorOnAdminPort.statusCode()).isNotEqualTo(200);
  }

  @Test
  void aRenewedCertificateIsServedFromTheNextHandshakeWhileOpenStreamsGoOn() throws Exception {
    BigInteger grpcBefore = servedSerial(fixture.grpcPort);
    BigInteger adminBefore = servedSerial(fixture.adminPort);
    assertThat(grpcBefore).isEqualTo(adminBefore);

    CountingStream stream = CountingStream.open(fixture.channel, pods.token(pods.create()));
    await("the first credential")
        .atMost(Duration.ofSeconds(20))
        .until(() -> stream.issued.get() == 1);

    // Renewed twice, as cert-manager does over a broker's life: each time the kubelet's way, a new
    // hidden directory behind the ..data symlink, which is switched atomically.
    BigInteger served = grpcBefore;
    for (int renewal = 1; renewal <= 2; renewal++) {
      fixture.devStack.issueBrokerCertificate();
      assertThat(fixture.devStack.brokerCertificatePath()).isSymbolicLink();
      BigInteger renewed = serial(fixture.devStack.brokerCertificatePath());
      assertThat(renewed).isNotEqualTo(served);
      await("the gRPC API serves renewal " + renewal)
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> servedSerial(fixture.grpcPort).equals(renewed));
      await("the admin API serves renewal " + renewal)
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> servedSerial(fixture.adminPort).equals(renewed));
      served = renewed;
    }

    // The stream opened before the renewal is still open and still receives heartbeats.
    int seen = stream.events.get();
    await("heartbeats on the old connection")
        .atMost(Duration.ofSeconds(10))
        .until(() -> stream.events.get() >= seen + 3);
    assertThat(stream.error.get()).isNull();
    stream.close();

    // A new connection verifies the renewed certificate and works.
    ManagedChannel fresh = TestTls.channel(fixture.grpcPort, fixture.devStack.caCertPath());
    try {
      assertThat(
              HealthGrpc.newBlockingStub(fresh)
                  .check(HealthCheckRequest.getDefaultInstance())
                  .getStatus())
          .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    } finally {
      fresh.shutdownNow();
    }
  }

  @Test
  void theHealthCheckCommandVerifiesTheBrokersCertificate() {
    String target = "127.0.0.1:" + fixture.grpcPort;
    String ca = fixture.devStack.caCertPath().toString();

    assertThat(HealthCheckCommand.run("--target", target, "--ca-file", ca)).isZero();
    // The JVM's own CAs did not sign the dev-stack's certificate.
    assertThat(HealthCheckCommand.run("--target", target, "--timeout", "5s")).isEqualTo(1);
    // Nor is it valid for another name.
    assertThat(
            HealthCheckCommand.run(
                "--target",
                target,
                "--ca-file",
                ca,
                "--authority",
                "other.example",
                "--timeout",
                "5s"))
        .isEqualTo(1);
    // Bad arguments.
    assertThat(HealthCheckCommand.run("--ca-file", ca)).isEqualTo(2);
  }

  @Test
  void withoutItsKeyAndCertificateTheBrokerRefusesToStart() {
    Path missing = workDir.resolve("no-such-dir");
    assertThatThrownBy(
            () ->
                fixture
                    .startReplica(
                        Map.of(
                            "credbroker.tls.certificate-file",
                                missing.resolve("tls.crt").toString(),
                            "credbroker.tls.private-key-file",
                                missing.resolve("tls.key").toString()))
                    .close())
        .hasStackTraceContaining("Unable to register SSL bundle 'server'")
        .hasStackTraceContaining(missing.resolve("tls.crt").toString());
  }

  // ---- helpers ----

  /** The admin API's list of namespace {@code public}'s credentials, asked with TLS as an SRE. */
  private static HttpResponse<String> listCredentials() throws IOException, InterruptedException {
    return fixture
        .adminHttpClient()
        .send(
            HttpRequest.newBuilder(fixture.adminUri("/admin/v1/credentials?namespace=public"))
                .header("Authorization", "Bearer " + sreToken())
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  /**
   * The serial number of the certificate that {@code 127.0.0.1:port} presents in a new handshake.
   */
  private static BigInteger servedSerial(int port) throws IOException {
    try (SSLSocket socket =
        (SSLSocket)
            TestTls.sslContext(fixture.devStack.caCertPath())
                .getSocketFactory()
                .createSocket("127.0.0.1", port)) {
      socket.setSoTimeout(5000);
      socket.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
      javax.net.ssl.SSLParameters parameters = socket.getSSLParameters();
      parameters.setApplicationProtocols(new String[] {"h2"});
      socket.setSSLParameters(parameters);
      socket.startHandshake();
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }

  private static BigInteger serial(Path pem) throws Exception {
    try (var in = java.nio.file.Files.newInputStream(pem)) {
      return ((X509Certificate)
              java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in))
          .getSerialNumber();
    }
  }

  private static WatchCredentialRequest request() {
    return WatchCredentialRequest.newBuilder().setDatabaseRole(BrokerFixture.DATABASE_ROLE).build();
  }

  private static Metadata bearer(String token) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    return headers;
  }

  private static String sreToken() {
    return kubernetes.issueToken("ops", "sre", null, List.of(), Duration.ofMinutes(10));
  }

  /** A stream that counts every event, heartbeats included. */
  private static final class CountingStream implements AutoCloseable {
    final AtomicInteger events = new AtomicInteger();
    final AtomicInteger issued = new AtomicInteger();
    final AtomicReference<@Nullable Throwable> error = new AtomicReference<>();
    private final io.grpc.Context.CancellableContext context =
        io.grpc.Context.current().withCancellation();

    static CountingStream open(ManagedChannel channel, String token) {
      CountingStream stream = new CountingStream();
      stream.context.run(
          () ->
              CredentialBrokerGrpc.newStub(channel)
                  .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
                  .watchCredential(
                      request(),
                      new StreamObserver<>() {
                        @Override
                        public void onNext(CredentialEvent event) {
                          stream.events.incrementAndGet();
                          if (event.hasIssued()) {
                            stream.issued.incrementAndGet();
                          }
                        }

                        @Override
                        public void onError(Throwable t) {
                          stream.error.set(t);
                        }

                        @Override
                        public void onCompleted() {}
                      }));
      return stream;
    }

    @Override
    public void close() {
      context.cancel(null);
    }
  }
}
