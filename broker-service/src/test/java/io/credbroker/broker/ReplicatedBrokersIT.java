package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.login;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three broker processes on one state database, with the dev-stack's Vault and Kubernetes stand-ins
 * and embedded PostgreSQL: the replicas behave as one service. An SRE revokes, through replica A, a
 * pod that streams from replica C, and the time from the REST call to the last visible effect is
 * measured over many runs.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicatedBrokersIT {

  private static final int RUNS = 20;
  private static final Duration TOKEN_TTL = Duration.ofMinutes(30);
  private static final Duration EFFECT_TIMEOUT = Duration.ofSeconds(10);

  /** Short leases, so that renewals (or their absence) show within seconds. */
  private static final Duration SHORT_TTL = Duration.ofSeconds(6);

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir static Path workDir;
  private static DevStack devStack;
  private static KubernetesApiServer kubernetes;
  private static final List<BrokerProcess> replicas = new ArrayList<>();
  private static BrokerProcess a;
  private static BrokerProcess b;
  private static BrokerProcess c;
  private static String sreToken;
  private static TestPods pods;

  @BeforeAll
  static void startReplicas() throws InterruptedException {
    // The setup command's default TTLs (1 h, max 24 h); tests ask for shorter leases per request.
    devStack =
        BrokerFixture.startDevStack(
            workDir.resolve("dev-stack"), Duration.ofHours(1), Duration.ofHours(24));
    kubernetes = devStack.kubernetes();
    pods = new TestPods(kubernetes, "replicated-app-");

    replicas.addAll(
        BrokerProcess.startReady(
            Path.of("target", "replicas", ReplicatedBrokersIT.class.getSimpleName()),
            BrokerFixture.replicaProperties(devStack),
            Duration.ofSeconds(120),
            "replica-a",
            "replica-b",
            "replica-c"));
    a = replicas.get(0);
    b = replicas.get(1);
    c = replicas.get(2);
    sreToken = kubernetes.issueToken("ops", "sre", null, List.of(), TOKEN_TTL);
  }

  @AfterAll
  static void stopReplicas() throws Exception {
    for (BrokerProcess replica : replicas) {
      replica.close();
    }
    if (devStack != null) {
      devStack.close();
    }
  }

  @Test
  @Order(1)
  void sreRevokesThroughReplicaAPodThatStreamsFromReplicaC() throws Exception {
    // A neighbour of the same service account streams from replica B the whole time.
    String neighbour = pods.create();
    RecordingStream neighbourStream =
        RecordingStream.open(b.channel, pods.token(neighbour, TOKEN_TTL));
    Credential neighbourCredential = neighbourStream.awaitIssued();

    // The first revocation also pays for cold code paths in three fresh JVMs (class loading, the
    // first TokenReview and SubjectAccessReview); it is reported on its own, not in the
    // percentiles.
    long warmUp = revokeOnePodAndMeasure(true);
    List<Long> latencies = new ArrayList<>();
    for (int run = 0; run < RUNS; run++) {
      latencies.add(revokeOnePodAndMeasure(false));
    }

    // The neighbour was never touched: its stream is open, nothing but heartbeats arrived, and its
    // role still logs in.
    assertThat(neighbourStream.ended()).isNull();
    assertThat(neighbourStream.revokedEvents()).isZero();
    try (Connection session = login(neighbourCredential)) {
      assertThat(session.isValid(2)).isTrue();
    }
    neighbourStream.cancel();

    List<Long> sorted = new ArrayList<>(latencies);
    Collections.sort(sorted);
    long p50 = percentile(sorted, 0.50);
    long p99 = percentile(sorted, 0.99);
    String report =
        String.format(
            "Pod revocation through replica A of a pod streaming from replica C, %d runs: REST call"
                + " -> last effect (stream revoked, session terminated, login refused, new"
                + " WatchCredential refused): p50 %d ms, p99 %d ms, max %d ms; all runs (ms): %s;"
                + " first (cold) run, not counted: %d ms%n",
            RUNS, p50, p99, sorted.get(sorted.size() - 1), latencies, warmUp);
    System.out.print(report);
    Path file = Path.of("target", "revocation-latency.txt");
    Files.createDirectories(file.getParent());
    Files.writeString(file, report);
    // The target is p99 under a second. It is a figure to report, not a pass mark: every effect
    // above is asserted within EFFECT_TIMEOUT, and timing thresholds would only make a busy build
    // machine flaky. The figures land in the build output and in target/revocation-latency.txt.
    assertThat(latencies).hasSize(RUNS).allSatisfy(ms -> assertThat(ms).isPositive());
  }

  @Test
  @Order(2)
  void clientsOfAKilledReplicaResumeOnTheOthersWithTheirRolesKeptAlive() throws Exception {
    int clients = 6;
    List<String> tokens = new ArrayList<>();
    List<Credential> credentials = new ArrayList<>();
    List<RecordingStream> streams = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      String token = pods.token(pods.create(), TOKEN_TTL);
      RecordingStream stream = RecordingStream.open(b.channel, token, request(SHORT_TTL, null));
      tokens.add(token);
      credentials.add(stream.awaitIssued());
      streams.add(stream);
    }
    java.time.Instant latestExpiry =
        credentials.stream()
            .map(cred -> java.time.Instant.ofEpochSecond(cred.getExpireTime().getSeconds()))
            .max(java.time.Instant::compareTo)
            .orElseThrow();
    long credentialRows = stateCount("SELECT count(*) FROM credential");

    b.kill();

    await()
        .atMost(EFFECT_TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(streams)
                    .allSatisfy(
                        stream ->
                            assertThat(stream.ended())
                                .isNotNull()
                                .extracting(Status::getCode)
                                .isEqualTo(Status.Code.UNAVAILABLE)));
    List<RecordingStream> resumed = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      BrokerProcess target = i % 2 == 0 ? a : c;
      RecordingStream stream =
          RecordingStream.open(
              target.channel,
              tokens.get(i),
              request(SHORT_TTL, credentials.get(i).getCredentialId()));
      Credential again = stream.awaitIssued();
      assertThat(stream.resumed()).as("resumed on " + target).isTrue();
      assertThat(again.getCredentialId()).isEqualTo(credentials.get(i).getCredentialId());
      assertThat(again.getUsername()).isEqualTo(credentials.get(i).getUsername());
      resumed.add(stream);
    }

    // Past the moment every lease would have run out without renewal: each role still logs in,
    // because the replicas that adopted the streams renewed it.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> java.time.Instant.now().isAfter(latestExpiry.plusSeconds(2)));
    for (int i = 0; i < clients; i++) {
      try (Connection session = login(credentials.get(i))) {
        assertThat(session.isValid(2)).isTrue();
      }
      assertThat(resumed.get(i).renewals()).as("renewals after resume").isPositive();
      assertThat(resumed.get(i).ended()).isNull();
    }
    // The resume created no credential and no PostgreSQL role.
    assertThat(stateCount("SELECT count(*) FROM credential")).isEqualTo(credentialRows);
    resumed.forEach(RecordingStream::cancel);
  }

  /** One pod streaming from C with an open session, revoked through A; returns milliseconds. */
  private long revokeOnePodAndMeasure(boolean checkEveryReplica) throws Exception {
    String pod = pods.create();
    String token = pods.token(pod, TOKEN_TTL);
    RecordingStream stream = RecordingStream.open(c.channel, token);
    Credential credential = stream.awaitIssued();
    Connection session = login(credential);
    AtomicLong sessionEnded = new AtomicLong();
    CompletableFuture<Void> busy =
        CompletableFuture.runAsync(
            () -> {
              try (Statement sql = session.createStatement()) {
                sql.execute("SELECT pg_sleep(60)");
              } catch (SQLException e) {
                sessionEnded.set(System.nanoTime());
              }
            });
    await().atMost(EFFECT_TIMEOUT).until(() -> activeBackends(credential.getUsername()) == 1);

    long start = System.nanoTime();
    HttpResponse<String> response =
        a.adminHttpClient()
            .send(
                HttpRequest.newBuilder(
                        a.adminUri("/admin/v1/namespaces/public/pods/" + pod + "/revocations"))
                    .header("Authorization", "Bearer " + sreToken)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"reason\":\"compromised\"}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(response.body()).contains(credential.getUsername());

    AtomicLong loginRefused = new AtomicLong();
    await()
        .atMost(EFFECT_TIMEOUT)
        .pollInterval(Duration.ofMillis(10))
        .until(
            () -> {
              try (Connection ignored = login(credential)) {
                return false;
              } catch (SQLException e) {
                loginRefused.compareAndSet(0, System.nanoTime());
                return true;
              }
            });
    AtomicLong watchRefused = new AtomicLong();
    await()
        .atMost(EFFECT_TIMEOUT)
        .pollInterval(Duration.ofMillis(10))
        .until(() -> watchRefused(c.channel, token, watchRefused));
    await().atMost(EFFECT_TIMEOUT).until(() -> stream.revokedAt() != 0 && stream.ended() != null);
    await().atMost(EFFECT_TIMEOUT).until(() -> sessionEnded.get() != 0);
    busy.join();
    session.close();

    assertThat(stream.revokedCredentialId()).isEqualTo(credential.getCredentialId());
    assertThat(stream.revokedReason()).isEqualTo("POD_REVOKED");
    assertThat(stream.ended().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    if (checkEveryReplica) {
      for (BrokerProcess replica : replicas) {
        AtomicLong refused = new AtomicLong();
        assertThat(watchRefused(replica.channel, token, refused)).as(replica.toString()).isTrue();
      }
    }
    long last =
        Math.max(
            Math.max(stream.revokedAt(), sessionEnded.get()),
            Math.max(loginRefused.get(), watchRefused.get()));
    return TimeUnit.NANOSECONDS.toMillis(last - start);
  }

  /**
   * Opens a WatchCredential for the pod and reports whether it was refused as a revoked pod; any
   * other answer (a credential, another error) is a failure, not a "not yet".
   */
  private static boolean watchRefused(ManagedChannel channel, String token, AtomicLong when) {
    try {
      CredentialEvent first = stub(channel, token).watchCredential(request()).next();
      throw new AssertionError("a revoked pod obtained a credential: " + first.getEventCase());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED
          && BrokerTestClient.errorInfo(e).getReason().equals("POD_REVOKED")) {
        when.compareAndSet(0, System.nanoTime());
        return true;
      }
      // Even when the block has not reached this replica's cache yet, the insert trigger refuses
      // the
      // credential and the broker answers POD_REVOKED (it once answered UNAVAILABLE): nothing else
      // is right.
      throw new AssertionError("a revoked pod was refused with " + e.getStatus(), e);
    }
  }

  private static CredentialBrokerGrpc.CredentialBrokerBlockingStub stub(
      ManagedChannel channel, String token) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    return CredentialBrokerGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private static WatchCredentialRequest request() {
    return WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build();
  }

  private static WatchCredentialRequest request(Duration ttl, String resumeCredentialId) {
    WatchCredentialRequest.Builder request =
        WatchCredentialRequest.newBuilder()
            .setDatabaseRole("db1")
            .setRequestedTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.toSeconds()));
    if (resumeCredentialId != null) {
      request.setResumeCredentialId(resumeCredentialId);
    }
    return request.build();
  }

  private static long stateCount(String sql) throws SQLException {
    try (Connection state = devStack.postgres().connect("credbroker");
        Statement statement = state.createStatement();
        ResultSet rs = statement.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static int activeBackends(String username) throws SQLException {
    try (Connection admin = devStack.postgres().connect("db1");
        PreparedStatement query =
            admin.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = ? AND state = 'active'")) {
      query.setString(1, username);
      try (ResultSet rs = query.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  private static long percentile(List<Long> sorted, double quantile) {
    int index = (int) Math.ceil(quantile * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  /** A pod's WatchCredential stream that records what arrives and when. */
  static final class RecordingStream implements StreamObserver<CredentialEvent> {

    private final BlockingQueue<CredentialEvent> issued = new LinkedBlockingQueue<>();
    private final AtomicLong revokedAt = new AtomicLong();
    private final AtomicInteger revokedEvents = new AtomicInteger();
    private final AtomicInteger renewed = new AtomicInteger();
    private final AtomicReference<CredentialEvent> first = new AtomicReference<>();
    private final AtomicReference<CredentialEvent> revoked = new AtomicReference<>();
    private final AtomicReference<Status> ended = new AtomicReference<>();
    private final io.grpc.Context.CancellableContext context =
        io.grpc.Context.current().withCancellation();

    static RecordingStream open(ManagedChannel channel, String token) {
      return open(channel, token, request());
    }

    static RecordingStream open(
        ManagedChannel channel, String token, WatchCredentialRequest request) {
      RecordingStream stream = new RecordingStream();
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      stream.context.run(
          () ->
              CredentialBrokerGrpc.newStub(channel)
                  .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                  .watchCredential(request, stream));
      return stream;
    }

    Credential awaitIssued() throws InterruptedException {
      CredentialEvent first = issued.poll(20, TimeUnit.SECONDS);
      this.first.set(first);
      if (first == null) {
        throw new AssertionError("no credential within 20 s; stream ended with " + ended.get());
      }
      return first.hasIssued()
          ? first.getIssued().getCredential()
          : first.getResumed().getCredential();
    }

    /** Whether the first event was {@code resumed} (the broker adopted the credential). */
    boolean resumed() {
      CredentialEvent event = first.get();
      return event != null && event.hasResumed();
    }

    int renewals() {
      return renewed.get();
    }

    @Override
    public void onNext(CredentialEvent event) {
      if (event.hasIssued() || event.hasResumed()) {
        issued.add(event);
      } else if (event.hasRenewed()) {
        renewed.incrementAndGet();
      } else if (event.hasRevoked()) {
        revokedAt.compareAndSet(0, System.nanoTime());
        revoked.compareAndSet(null, event);
        revokedEvents.incrementAndGet();
      }
    }

    @Override
    public void onError(Throwable t) {
      ended.compareAndSet(null, Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.compareAndSet(null, Status.OK);
    }

    long revokedAt() {
      return revokedAt.get();
    }

    int revokedEvents() {
      return revokedEvents.get();
    }

    String revokedCredentialId() {
      return revoked.get().getRevoked().getCredentialId();
    }

    String revokedReason() {
      return revoked.get().getRevoked().getReason();
    }

    Status ended() {
      return ended.get();
    }

    void cancel() {
      context.cancel(null);
    }
  }
}
