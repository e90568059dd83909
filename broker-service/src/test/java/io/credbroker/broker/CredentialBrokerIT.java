package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.assertRefused;
import static io.credbroker.broker.BrokerTestClient.login;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.rpc.RetryInfo;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.StatusProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue flow end to end through the real wire: gRPC to the broker, TokenReview over HTTPS to
 * the Kubernetes stand-in, Vault's HTTP API on the Vault stand-in, PostgreSQL over JDBC.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CredentialBrokerIT {

  private static final String AUDIENCE = "credbroker";
  private static final Duration TOKEN_TTL = Duration.ofMinutes(10);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static BrokerTestClient client;
  private static final AtomicInteger pods = new AtomicInteger();

  @BeforeAll
  static void startBroker() {
    fixture = BrokerFixture.start(workDir);
    kubernetes = fixture.devStack.kubernetes();
    client = new BrokerTestClient(fixture.channel);
    // The real API server accepts tokens up to 60 s past their expiry; the test cannot wait that
    // long.
    kubernetes.tokenLeeway(Duration.ZERO);
    kubernetes.createServiceAccount("public", "unbound");
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  @Order(1)
  void podTokenObtainsCredentialOnTheStreamThatLogsInAndCreatesATable() throws Exception {
    String pod = newPod("application");
    String token = podToken("application", pod);
    Context.CancellableContext call = Context.current().withCancellation();
    Credential credential;
    try {
      Iterator<CredentialEvent> events =
          call.call(
              () ->
                  blocking(token)
                      .watchCredential(
                          WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build()));

      CredentialEvent first = events.next();
      assertThat(first.hasIssued()).isTrue();
      credential = client.remember(first.getIssued().getCredential());
      assertThat(credential.getRenewable()).isTrue();
      assertThat(credential.getConnection().getDatabase()).isEqualTo("db1");

      try (Connection db = login(credential);
          Statement sql = db.createStatement()) {
        sql.execute("CREATE TABLE orders_" + pods.get() + " (id serial PRIMARY KEY, item text)");
        sql.execute("INSERT INTO orders_" + pods.get() + " (item) VALUES ('tea')");
        try (ResultSet rs =
            sql.executeQuery(
                "SELECT current_user, count(*) FROM orders_" + pods.get() + " GROUP BY 1")) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getString(1)).isEqualTo(credential.getUsername());
          assertThat(rs.getLong(2)).isEqualTo(1);
        }
      }

      // The stream stays open: heartbeats follow the credential.
      assertThat(events.next().hasHeartbeat()).isTrue();

      // The state store knows the lease, the pod and the owning replica, never the password.
      CredentialQueries credentials = fixture.broker.getBean(CredentialQueries.class);
      CredentialRecord record =
          credentials.findById(UUID.fromString(credential.getCredentialId())).orElseThrow();
      assertThat(credentials.findByUsername(credential.getUsername())).containsExactly(record);
      assertThat(record.owner().namespace()).isEqualTo("public");
      assertThat(record.owner().serviceAccount()).isEqualTo("application");
      assertThat(record.owner().podName()).isEqualTo(pod);
      assertThat(record.owner().podUid()).isNotBlank();
      assertThat(record.state()).isEqualTo(CredentialState.ACTIVE);
      assertThat(record.kind()).isEqualTo(CredentialKind.STREAM);
      assertThat(record.leaseId()).startsWith("database/creds/db1/");
      assertThat(record.ownerReplica()).isEqualTo(fixture.broker.getBean(ReplicaId.class).value());
      assertThat(stateRow(credential.getCredentialId())).doesNotContain(credential.getPassword());
    } finally {
      call.cancel(null);
    }

    // The broker notices the client leaving and records when the stream ended.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> stateRow(credential.getCredentialId()).contains("\"detached_time\":\"20"));
  }

  @Test
  @Order(2)
  void twoPodsGetTwoDifferentRoles() throws Exception {
    String podA = newPod("application");
    String podB = newPod("application");

    Credential a = issue(podToken("application", podA));
    Credential b = issue(podToken("application", podB));

    assertThat(a.getUsername()).isNotEqualTo(b.getUsername());
    assertThat(a.getRenewable()).isFalse();
    for (Credential credential : List.of(a, b)) {
      try (Connection db = login(credential)) {
        assertThat(db.isValid(2)).isTrue();
      }
    }
  }

  @Test
  @Order(3)
  void expiredTokenIsUnauthenticated() {
    String pod = newPod("application");
    String token =
        kubernetes.issueToken(
            "public", "application", pod, List.of(AUDIENCE), Duration.ofSeconds(1));

    // The token's own expiry is the clock here, not the test.
    await()
        .pollDelay(Duration.ofMillis(1100))
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertRefused(() -> issue(token), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED"));
  }

  @Test
  @Order(4)
  void tokenForAnotherAudienceIsUnauthenticated() {
    String pod = newPod("application");
    String token = kubernetes.issueToken("public", "application", pod, List.of("vault"), TOKEN_TTL);

    assertRefused(() -> issue(token), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED");
  }

  @Test
  @Order(5)
  void forgedTokenIsUnauthenticated() {
    String pod = newPod("application");
    String genuine = podToken("application", pod);
    String other = podToken("application", newPod("application"));
    // The genuine header and claims with a signature made for other claims.
    String[] parts = genuine.split("\\.");
    String forged = parts[0] + "." + parts[1] + "." + other.split("\\.")[2];

    assertRefused(() -> issue(forged), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED");
    assertRefused(() -> issue("not-a-jwt"), Status.Code.UNAUTHENTICATED, "TOKEN_MALFORMED");
  }

  @Test
  @Order(6)
  void deletedPodsTokenIsUnauthenticatedOnceItsCachedReviewLapses() throws Exception {
    String pod = newPod("application");
    String token = podToken("application", pod);
    issue(token);

    kubernetes.deletePod("public", pod);

    // The broker trusts a review for at most cache-max-ttl (2 s here), then asks Kubernetes again.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertRefused(() -> issue(token), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED"));

    String other = newPod("application");
    String neverUsed = podToken("application", other);
    kubernetes.deletePod("public", other);
    assertRefused(() -> issue(neverUsed), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED");
  }

  @Test
  @Order(7)
  void tokenWithoutPodIsUnauthenticated() {
    String token =
        kubernetes.issueToken("public", "application", null, List.of(AUDIENCE), TOKEN_TTL);

    assertRefused(() -> issue(token), Status.Code.UNAUTHENTICATED, "TOKEN_NOT_POD_BOUND");
  }

  @Test
  @Order(8)
  void unboundServiceAccountIsPermissionDenied() {
    String pod = newPod("unbound");

    assertRefused(
        () -> issue(podToken("unbound", pod)), Status.Code.PERMISSION_DENIED, "NOT_BOUND");
  }

  @Test
  @Order(9)
  void unknownDatabaseRoleIsNotFound() {
    String token = podToken("application", newPod("application"));

    assertRefused(
        () ->
            blocking(token)
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db2").build()),
        Status.Code.NOT_FOUND,
        "UNKNOWN_DATABASE_ROLE");
  }

  @Test
  @Order(10)
  void missingTokenIsUnauthenticated() {
    assertRefused(
        () ->
            client
                .anonymous()
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build()),
        Status.Code.UNAUTHENTICATED,
        "TOKEN_MISSING");
  }

  @Test
  @Order(11)
  void healthAndReflectionServicesAnswer() {
    HealthCheckResponse health =
        HealthGrpc.newBlockingStub(fixture.channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance());
    assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

    List<String> services = new CopyOnWriteArrayList<>();
    CountDownLatch done = new CountDownLatch(1);
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(fixture.channel)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse response) {
                    response.getListServicesResponse().getServiceList().stream()
                        .map(ServiceResponse::getName)
                        .forEach(services::add);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.countDown();
                  }

                  @Override
                  public void onCompleted() {
                    done.countDown();
                  }
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    await().atMost(Duration.ofSeconds(10)).until(() -> done.getCount() == 0);

    assertThat(services).contains("credbroker.v1.CredentialBroker", "grpc.health.v1.Health");
  }

  @Test
  @Order(12)
  void vaultOutageIsUnavailableYetLeavesTheReplicaReadyAndTheBrokerRecoversWhenVaultReturns()
      throws Exception {
    String token = podToken("application", newPod("application"));
    issue(token);

    fixture.devStack.stopVault();
    try {
      StatusRuntimeException refused =
          assertRefused(() -> issue(token), Status.Code.UNAVAILABLE, "VAULT_UNAVAILABLE");
      assertThat(StatusProto.fromThrowable(refused).getDetailsList())
          .anyMatch(any -> any.is(RetryInfo.class));
      assertThat(refused.getStatus().getDescription()).doesNotContain("127.0.0.1");
      // Vault is down in the overall health (its indicator is part of it), yet the replica stays in
      // its Service:
      // resuming and streaming need no Vault, and every replica would fail the same check at once.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> fixture.httpGet("/actuator/health").statusCode() == 503);
      assertThat(fixture.httpGet("/actuator/health/readiness").statusCode()).isEqualTo(200);
    } finally {
      fixture.devStack.startVault();
    }

    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(300))
        .untilAsserted(() -> assertThat(issue(token).getUsername()).isNotBlank());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> fixture.httpGet("/actuator/health").statusCode() == 200);
  }

  @Test
  @Order(13)
  void metricsShowIssuanceStreamsAndLatencies() throws Exception {
    String metrics = fixture.httpGet("/actuator/prometheus").body();

    assertThat(metrics)
        .containsPattern("credbroker_credentials_issued_total\\{[^}]*role=\"db1\"[^}]*} [1-9]")
        .containsPattern(
            "credbroker_credentials_refused_total\\{[^}]*reason=\"not_bound\"[^}]*} [1-9]")
        .contains("credbroker_streams_active")
        .contains("credbroker_tokenreview_request_seconds_bucket")
        .contains("credbroker_tokenreview_cache_total{")
        .contains("credbroker_vault_request_seconds_bucket")
        .contains("credbroker_lease_earliest_token_expiry_seconds");
    for (String password : client.passwordsSeen()) {
      assertThat(metrics).doesNotContain(password);
    }
    assertThat(fixture.httpGet("/actuator/health/liveness").statusCode()).isEqualTo(200);
  }

  @Test
  @Order(14)
  void podBlockedByAnotherReplicaAfterThisOneAdmittedItIsRefusedForGoodNotAskedToRetry()
      throws Exception {
    String pod = newPod("application");
    String token = podToken("application", pod);
    Credential first =
        issue(token); // this replica now holds "not blocked" for the pod in its cache
    String podUid =
        fixture
            .broker
            .getBean(CredentialQueries.class)
            .findByUsername(first.getUsername())
            .get(0)
            .owner()
            .podUid();
    // Another replica's block, committed without a notification reaching this one yet.
    try (Connection state = fixture.devStack.postgres().connect("credbroker");
        var block =
            state.prepareStatement(
                "INSERT INTO pod_block (pod_uid, namespace, pod_name, reason, blocked_by)"
                    + " VALUES (?, 'public', ?, 'test', 'another replica')")) {
      block.setString(1, podUid);
      block.setString(2, pod);
      block.executeUpdate();
    }

    assertRefused(() -> issue(token), Status.Code.PERMISSION_DENIED, "POD_REVOKED");
  }

  @Test
  @Order(Integer.MAX_VALUE)
  void passwordsNeverReachTheLogs() {
    List<String> passwords = client.passwordsSeen();
    assertThat(passwords).isNotEmpty();
    List<String> lines = fixture.logs.lines();
    assertThat(lines).isNotEmpty();
    for (String password : passwords) {
      assertThat(lines).noneMatch(line -> line.contains(password));
    }
  }

  private static Credential issue(String token) {
    return client.issue(token, BrokerFixture.DATABASE_ROLE);
  }

  private static CredentialBrokerGrpc.CredentialBrokerBlockingStub blocking(String token) {
    return client.as(token);
  }

  private static String newPod(String serviceAccount) {
    String name = "app-" + pods.incrementAndGet();
    kubernetes.createPod("public", name, serviceAccount);
    return name;
  }

  private static String podToken(String serviceAccount, String pod) {
    return kubernetes.issueToken("public", serviceAccount, pod, List.of(AUDIENCE), TOKEN_TTL);
  }

  /** The credential's row in the state store as JSON: every column, to search for secrets. */
  private static String stateRow(String credentialId) throws Exception {
    try (Connection state = fixture.devStack.postgres().connect("credbroker");
        var query =
            state.prepareStatement("SELECT row_to_json(c)::text FROM credential c WHERE id = ?")) {
      query.setObject(1, UUID.fromString(credentialId));
      try (ResultSet rs = query.executeQuery()) {
        assertThat(rs.next()).isTrue();
        return rs.getString(1);
      }
    }
  }
}
