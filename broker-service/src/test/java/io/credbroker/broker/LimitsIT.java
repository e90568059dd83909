package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.assertRefused;
import static io.credbroker.broker.BrokerTestClient.retryInfo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.rpc.RetryInfo;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.IssueCredentialResponse;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one pod, callers with junk tokens, and a flood of calls may cost the broker, through the
 * real wire: per-pod stream, TTL and issuance limits, the bound on TokenReviews for unknown tokens,
 * load shedding at call admission, and the replica heartbeat going on while request work has every
 * connection of the state-database pool.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LimitsIT {

  private static final int STREAMS_PER_POD_ROLE = 2;
  private static final Duration MIN_TTL = Duration.ofSeconds(30);
  private static final int ISSUANCE_BURST = 3;
  private static final int REVIEWS_PER_SECOND = 5;
  private static final int MAX_PENDING_CALLS = 3;
  private static final int POOL_SIZE = 4;
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(2);
  private static final int CALLS_PER_CONNECTION = 12;

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static BrokerTestClient client;
  private static TestPods pods;
  private final List<EventStream> streams = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.limits.streams-per-pod-role", STREAMS_PER_POD_ROLE);
    properties.put("credbroker.limits.min-requested-ttl", MIN_TTL.toSeconds() + "s");
    properties.put("credbroker.limits.issuance-burst", ISSUANCE_BURST);
    properties.put("credbroker.limits.issuances-per-minute", 1);
    properties.put("credbroker.limits.token-reviews-per-second", REVIEWS_PER_SECOND);
    properties.put("credbroker.grpc.max-pending-calls", MAX_PENDING_CALLS);
    properties.put("credbroker.grpc.request-timeout", REQUEST_TIMEOUT.toMillis() + "ms");
    properties.put("credbroker.grpc.max-calls-per-connection", CALLS_PER_CONNECTION);
    properties.put("spring.datasource.hikari.maximum-pool-size", POOL_SIZE);
    properties.put("spring.datasource.hikari.connection-timeout", "20000");
    properties.put("credbroker.cluster.heartbeat-interval", "500ms");
    properties.put("credbroker.cluster.stale-after", "3s");
    fixture = BrokerFixture.start(workDir, properties, devStack -> {});
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "limited-");
    client = new BrokerTestClient(fixture.channel);
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @AfterEach
  void closeStreams() {
    streams.forEach(EventStream::close);
  }

  @Test
  @Order(1)
  void aPodHoldsTwoStreamsPerDatabaseRoleAndATheThirdIsRefusedUntilOneCloses() {
    String token = pods.token(pods.create());
    EventStream first = watch(token, null);
    EventStream second = watch(token, null);
    assertThat(first.first().hasIssued()).isTrue();
    assertThat(second.first().hasIssued()).isTrue();

    StatusRuntimeException refused =
        assertRefused(
            () -> watch(token, null).first(), Status.Code.RESOURCE_EXHAUSTED, "TOO_MANY_STREAMS");
    assertThat(retryInfo(refused)).isNotNull();

    first.close();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(watch(token, null).first().hasIssued()).isTrue());
  }

  @Test
  @Order(2)
  void aOneSecondTtlIsRaisedToTheMinimumSoTheBrokerDoesNotRenewEverySecond() {
    EventStream stream = watch(pods.token(pods.create()), Duration.ofSeconds(1));
    Credential credential = stream.first().getIssued().getCredential();

    Duration lifetime =
        Duration.ofSeconds(
            credential.getExpireTime().getSeconds() - credential.getIssueTime().getSeconds());
    assertThat(lifetime).isBetween(MIN_TTL.minusSeconds(2), MIN_TTL.plusSeconds(2));
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(5))
        .until(() -> stream.events.stream().noneMatch(CredentialEvent::hasRenewed));
  }

  @Test
  @Order(3)
  void aPodBeyondItsIssuanceBurstIsRefusedWithRetryInfoWhileOtherPodsAreNot() {
    String token = pods.token(pods.create());
    for (int i = 0; i < ISSUANCE_BURST; i++) {
      client.issue(token, BrokerFixture.DATABASE_ROLE);
    }

    StatusRuntimeException refused =
        assertRefused(
            () -> client.issue(token, BrokerFixture.DATABASE_ROLE),
            Status.Code.RESOURCE_EXHAUSTED,
            "ISSUANCE_RATE_EXCEEDED");
    RetryInfo retry = retryInfo(refused);
    assertThat(retry).isNotNull();
    assertThat(retry.getRetryDelay().getSeconds()).isBetween(1L, 60L);

    assertThat(client.issue(pods.token(pods.create()), BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotEmpty();
  }

  @Test
  @Order(4)
  void extremeRequestedTtlsAreClearRefusalsOrCappedAndNeverAStackTrace() {
    int logLinesBefore = fixture.logs.lines().size();
    // One pod (one review): the refusals cost no issuance, the two credentials fit its burst.
    String token = pods.token(pods.create());

    assertRefused(
        () -> issueWithTtl(token, Long.MAX_VALUE), Status.Code.INVALID_ARGUMENT, "INVALID_REQUEST");
    assertRefused(() -> issueWithTtl(token, -5), Status.Code.INVALID_ARGUMENT, "INVALID_REQUEST");
    assertRefused(
        () -> issueWithTtl(token, Long.MIN_VALUE, -1),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
    assertRefused(
        () -> watch(token, Duration.ofSeconds(-5)).first(),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
    // The longest duration protobuf allows (about 10,000 years): Vault's max TTL applies.
    assertThat(issueWithTtl(token, 315_576_000_000L).getCredential().getUsername()).isNotEmpty();
    assertThat(
            watch(token, Duration.ofSeconds(315_576_000_000L))
                .first()
                .getIssued()
                .getCredential()
                .getUsername())
        .isNotEmpty();

    assertThat(fixture.logs.lines().subList(logLinesBefore, fixture.logs.lines().size()))
        .noneMatch(LimitsIT::isServingStackTrace);
  }

  @Test
  @Order(5)
  void aFivePartTokenIsUnauthenticatedWithoutAReviewOrAStackTrace() {
    int logLinesBefore = fixture.logs.lines().size();
    long reviewsBefore = kubernetes.tokenReviewCount();
    String jwe =
        b64("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}") + ".a2V5.aXY.Y2lwaGVydGV4dA.dGFn";

    assertRefused(
        () -> client.issue(jwe, BrokerFixture.DATABASE_ROLE),
        Status.Code.UNAUTHENTICATED,
        "TOKEN_MALFORMED");

    assertThat(kubernetes.tokenReviewCount()).isEqualTo(reviewsBefore);
    assertThat(fixture.logs.lines().subList(logLinesBefore, fixture.logs.lines().size()))
        .noneMatch(LimitsIT::isServingStackTrace);
  }

  @Test
  @Order(6)
  void junkTokensCauseAtMostTheBoundedRateOfTokenReviews() throws Exception {
    // Not even shaped like a JWT: never reviewed.
    long before = kubernetes.tokenReviewCount();
    for (int i = 0; i < 20; i++) {
      String junk = "junk-" + UUID.randomUUID();
      assertRefused(
          () -> client.issue(junk, BrokerFixture.DATABASE_ROLE),
          Status.Code.UNAUTHENTICATED,
          "TOKEN_MALFORMED");
    }
    assertThat(kubernetes.tokenReviewCount()).isEqualTo(before);

    // Signed by the cluster, each one new, none for the broker (another audience): each needs a
    // review, and reviews are bounded per second.
    int calls = 80;
    List<String> otherAudience = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      otherAudience.add(
          kubernetes.issueToken(
              "public", "application", null, List.of("another-service"), Duration.ofMinutes(10)));
    }
    Iterator<String> tokens = otherAudience.iterator();
    AtomicInteger throttled = new AtomicInteger();
    AtomicInteger rejected = new AtomicInteger();
    AtomicInteger shed = new AtomicInteger();
    AtomicReference<RetryInfo> retry = new AtomicReference<>();
    // As many callers as calls may be pending; one may still be shed while its predecessor leaves.
    ExecutorService pool = Executors.newFixedThreadPool(MAX_PENDING_CALLS);
    long start = System.nanoTime();
    double startedEpochSeconds = System.currentTimeMillis() / 1000.0;
    before = kubernetes.tokenReviewCount();
    try {
      List<Future<?>> results = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        String token = tokens.next();
        results.add(
            pool.submit(
                () -> {
                  try {
                    client.issue(token, BrokerFixture.DATABASE_ROLE);
                  } catch (StatusRuntimeException e) {
                    String reason = BrokerTestClient.errorInfo(e).getReason();
                    if (reason.equals("TOKEN_REVIEWS_THROTTLED")) {
                      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                      retry.set(retryInfo(e));
                      throttled.incrementAndGet();
                    } else if (reason.equals("OVERLOADED")) {
                      shed.incrementAndGet();
                    } else {
                      assertThat(reason).isEqualTo("TOKEN_REJECTED");
                      rejected.incrementAndGet();
                    }
                  }
                }));
      }
      for (Future<?> result : results) {
        result.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    long reviews = kubernetes.tokenReviewCount() - before;
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) + 1;

    assertThat(rejected.get() + throttled.get() + shed.get()).isEqualTo(calls);
    assertThat(reviews).isEqualTo(rejected.get());
    // The window may have refreshed once more than the whole seconds elapsed.
    assertThat(reviews).isLessThanOrEqualTo(REVIEWS_PER_SECOND * (seconds + 1));
    assertThat(throttled.get()).isPositive();
    assertThat(retry.get()).isNotNull();
    // Operators see when the cluster last refused a client (graces of detached credentials are
    // extended from then): within this burst, one second allowed for the clocks' rounding.
    assertThat(
            PrometheusScrape.gauge(
                fixture.httpGet("/actuator/prometheus").body(),
                "credbroker_cluster_last_refusal_timestamp_seconds"))
        .isBetween(startedEpochSeconds - 1, System.currentTimeMillis() / 1000.0 + 1);
  }

  @Test
  @Order(11)
  void forgedTokensAreRejectedWithoutAReviewSoTheyCannotUseUpTheReviewRate() throws Exception {
    int logLinesBefore = fixture.logs.lines().size();
    long reviewsBefore = kubernetes.tokenReviewCount();
    MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);
    double throttledBefore = meters.get("credbroker.tokenreview.throttled").counter().count();

    // Far more than the review rate allows in the time they take, each one new: half name a key
    // the cluster does not have, half the key the cluster signs with (copied from a real token).
    String clusterKeyId =
        com.nimbusds.jose.JWSObject.parse(pods.token(pods.create())).getHeader().getKeyID();
    for (int i = 0; i < REVIEWS_PER_SECOND * 6; i++) {
      String forged = forgedToken(i % 2 == 0 ? "made-up" : clusterKeyId);
      assertRefused(
          () -> client.issue(forged, BrokerFixture.DATABASE_ROLE),
          Status.Code.UNAUTHENTICATED,
          "TOKEN_REJECTED");
    }

    assertThat(kubernetes.tokenReviewCount()).isEqualTo(reviewsBefore);
    assertThat(meters.get("credbroker.tokenreview.throttled").counter().count())
        .isEqualTo(throttledBefore);
    assertThat(
            meters
                .get("credbroker.tokenreview.signatures")
                .tag("outcome", "invalid")
                .counter()
                .count())
        .isGreaterThanOrEqualTo(REVIEWS_PER_SECOND * 6);
    // A pod that comes now is reviewed at once, not throttled.
    assertThat(client.issue(pods.token(pods.create()), BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotEmpty();
    assertThat(fixture.logs.lines().subList(logLinesBefore, fixture.logs.lines().size()))
        .noneMatch(LimitsIT::isServingStackTrace);
  }

  @Test
  @Order(7)
  void withEveryPooledConnectionHeldByRequestWorkTheHeartbeatStillAdvances() throws Exception {
    try (HeldPool held = HeldPool.all()) {
      Instant beat = heartbeatTime();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> heartbeatTime().isAfter(beat.plusMillis(1000)));
    }
  }

  @Test
  @Order(8)
  void callsBeyondThePendingBoundAreShedAtOnceWithRetryInfoAndTheOthersComplete() throws Exception {
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i <= MAX_PENDING_CALLS; i++) {
      tokens.add(pods.token(pods.create()));
    }
    MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);
    List<Pending> pending = new ArrayList<>();
    // The flood of unknown tokens before may have used up this second's reviews; the pending calls
    // must each get their review (REVIEWS_PER_SECOND > MAX_PENDING_CALLS), not be refused as
    // throttled, so they start in a fresh window of the review limiter (one second).
    TimeUnit.MILLISECONDS.sleep(1_100);
    // The calls wait for a state-database connection (the pod-block check), as under real load.
    try (HeldPool held = HeldPool.all()) {
      for (int i = 0; i < MAX_PENDING_CALLS; i++) {
        pending.add(issueAsync(tokens.get(i)));
      }
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  meters.get("credbroker.grpc.calls.pending").gauge().value() == MAX_PENDING_CALLS);

      long start = System.nanoTime();
      StatusRuntimeException shed =
          assertRefused(
              () -> client.issue(tokens.get(MAX_PENDING_CALLS), BrokerFixture.DATABASE_ROLE),
              Status.Code.RESOURCE_EXHAUSTED,
              "OVERLOADED");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(retryInfo(shed)).isNotNull();
      assertThat(pending).allMatch(call -> call.done.getCount() == 1);
    }
    for (Pending call : pending) {
      assertThat(call.done.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(call.error.get()).isNull();
    }
    assertThat(
            client.issue(tokens.get(MAX_PENDING_CALLS), BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotEmpty();
  }

  @Test
  @Order(9)
  void callsStartedWithoutTheirRequestHoldNoSlotAndAreClosedAfterTheRequestTimeout()
      throws Exception {
    // One connection and no token: more calls than the replica has slots, headers only.
    List<UnfinishedCalls.Unfinished> silent = new ArrayList<>();
    try {
      for (int i = 0; i < MAX_PENDING_CALLS * 3; i++) {
        silent.add(UnfinishedCalls.issueCredential(fixture.channel));
      }
      TimeUnit.MILLISECONDS.sleep(REQUEST_TIMEOUT.toMillis() / 4);

      assertThat(client.issue(pods.token(pods.create()), BrokerFixture.DATABASE_ROLE).getUsername())
          .isNotEmpty();
      assertThat(silent).noneMatch(call -> call.closed().isDone());
      MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);
      double shedBefore = meters.get("credbroker.grpc.calls.shed").counter().count();

      for (UnfinishedCalls.Unfinished call : silent) {
        Status status = call.closed().get(REQUEST_TIMEOUT.toSeconds() + 10, TimeUnit.SECONDS);
        assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(status.getDescription()).contains("request did not arrive");
      }
      assertThat(meters.get("credbroker.grpc.calls.request.timeouts").counter().count())
          .isEqualTo(MAX_PENDING_CALLS * 3);
      assertThat(meters.get("credbroker.grpc.calls.shed").counter().count()).isEqualTo(shedBefore);
    } finally {
      silent.forEach(UnfinishedCalls.Unfinished::cancel);
    }
  }

  @Test
  @Order(10)
  void aConnectionHasAtMostItsCallLimitOpenAndACallBeyondItWaitsForOneToEnd() throws Exception {
    ManagedChannel connection = TestTls.channel(fixture.grpcPort, fixture.devStack.caCertPath());
    List<EventStream> open = new ArrayList<>();
    try {
      // As many open streams as the connection may carry.
      while (open.size() < CALLS_PER_CONNECTION) {
        String token = pods.token(pods.create());
        for (int i = 0; i < STREAMS_PER_POD_ROLE && open.size() < CALLS_PER_CONNECTION; i++) {
          EventStream stream =
              EventStream.open(
                  connection, token, EventStream.request(BrokerFixture.DATABASE_ROLE, null));
          open.add(stream);
          client.remember(stream.first().getIssued().getCredential());
        }
      }

      // One call more: the broker announced its limit (SETTINGS_MAX_CONCURRENT_STREAMS), so the
      // client holds it back until one of the streams ends.
      Pending beyond = issueAsync(connection, pods.token(pods.create()));
      assertThat(beyond.done().await(2, TimeUnit.SECONDS)).isFalse();

      open.get(0).close();
      assertThat(beyond.done().await(20, TimeUnit.SECONDS)).isTrue();
      assertThat(beyond.error().get()).isNull();
    } finally {
      open.forEach(EventStream::close);
      connection.shutdownNow();
    }
  }

  /** Every connection of the broker's request pool, held by the test as busy request work would. */
  private record HeldPool(List<Connection> connections) implements AutoCloseable {
    static HeldPool all() throws java.sql.SQLException {
      DataSource pool = fixture.broker.getBean(DataSource.class);
      List<Connection> connections = new ArrayList<>();
      for (int i = 0; i < POOL_SIZE; i++) {
        connections.add(pool.getConnection());
      }
      return new HeldPool(connections);
    }

    @Override
    public void close() throws java.sql.SQLException {
      for (Connection connection : connections) {
        connection.close();
      }
    }
  }

  // ---- helpers ----

  /** A failure of a call logged with its exception: by the error mapper, or by gRPC itself. */
  private static boolean isServingStackTrace(String line) {
    return line.startsWith("io.credbroker.broker.grpc.")
        || (line.startsWith("io.grpc.") && line.contains(" | "));
  }

  private static Instant heartbeatTime() throws Exception {
    try (Connection state = fixture.devStack.postgres().connect("credbroker");
        PreparedStatement query =
            state.prepareStatement("SELECT heartbeat_time FROM replica WHERE id = ?")) {
      query.setString(1, fixture.broker.getBean(ReplicaId.class).value());
      try (ResultSet rs = query.executeQuery()) {
        assertThat(rs.next()).isTrue();
        Timestamp time = rs.getTimestamp(1);
        return time.toInstant();
      }
    }
  }

  private record Pending(CountDownLatch done, AtomicReference<Throwable> error) {}

  private static Pending issueAsync(String token) {
    return issueAsync(fixture.channel, token);
  }

  private static Pending issueAsync(ManagedChannel channel, String token) {
    Pending pending = new Pending(new CountDownLatch(1), new AtomicReference<>());
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(
        io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    io.credbroker.api.v1.CredentialBrokerGrpc.newStub(channel)
        .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .issueCredential(
            IssueCredentialRequest.newBuilder()
                .setDatabaseRole(BrokerFixture.DATABASE_ROLE)
                .build(),
            new StreamObserver<>() {
              @Override
              public void onNext(IssueCredentialResponse value) {
                client.remember(value.getCredential());
              }

              @Override
              public void onError(Throwable t) {
                pending.error().set(t);
                pending.done().countDown();
              }

              @Override
              public void onCompleted() {
                pending.done().countDown();
              }
            });
    return pending;
  }

  private static IssueCredentialResponse issueWithTtl(String token, long seconds) {
    return issueWithTtl(token, seconds, 0);
  }

  private static IssueCredentialResponse issueWithTtl(String token, long seconds, int nanos) {
    return client
        .as(token)
        .issueCredential(
            IssueCredentialRequest.newBuilder()
                .setDatabaseRole(BrokerFixture.DATABASE_ROLE)
                .setRequestedTtl(
                    com.google.protobuf.Duration.newBuilder().setSeconds(seconds).setNanos(nanos))
                .build());
  }

  private EventStream watch(String token, Duration ttl) {
    EventStream stream =
        EventStream.open(
            fixture.channel, token, EventStream.request(BrokerFixture.DATABASE_ROLE, ttl));
    streams.add(stream);
    return stream;
  }

  /**
   * A token shaped like a pod's (RS256 header naming key {@code keyId}, claims, signature) that the
   * cluster did not sign.
   */
  private static String forgedToken(String keyId) {
    long exp = Instant.now().plusSeconds(600).getEpochSecond();
    return b64("{\"alg\":\"RS256\",\"kid\":\"" + keyId + "\"}")
        + "."
        + b64(
            "{\"iss\":\"https://kubernetes.default.svc\",\"sub\":\"system:serviceaccount:public:application\","
                + "\"aud\":[\"credbroker\"],\"exp\":"
                + exp
                + ",\"jti\":\""
                + UUID.randomUUID()
                + "\"}")
        + "."
        + b64(UUID.randomUUID().toString());
  }

  private static String b64(String text) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }
}
