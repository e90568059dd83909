package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.client.ClientEventListener;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.hikari.RotatingDataSource;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Status;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * The Java client SDK against the real broker: {@link CredentialBrokerClient} over its own Netty
 * channel to brokers on the dev-stack, {@link RotatingDataSource} logging in to PostgreSQL with
 * what the broker issued, Vault's stand-in running the role statements for real, and the REST admin
 * API for revocations. TTLs are seconds; after every test the zero-orphans invariant must hold.
 */
class ClientSdkIT {

  private static final String AUDIENCE = "credbroker";

  /** A Vault role whose leases live 2 s and can be renewed up to 6 s after issue. */
  private static final String SHORT_ROLE = "db1sdk";

  private static final Duration GRACE = Duration.ofSeconds(5);
  private static final Duration DRAIN = Duration.ofSeconds(1);

  @TempDir static Path workDir;
  @TempDir Path tokenDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static String sreToken;
  private static final AtomicInteger pods = new AtomicInteger();

  /** Closed after each test, newest first, so a data source goes before its client. */
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.lease.poll-interval", "200ms");
    properties.put("credbroker.lease.reconnect-grace", GRACE.toMillis() + "ms");
    properties.put("credbroker.lease.drain-grace", DRAIN.toMillis() + "ms");
    properties.put("credbroker.lease.revocation-retry-initial", "500ms");
    properties.put("credbroker.cluster.heartbeat-interval", "300ms");
    properties.put("credbroker.cluster.stale-after", "2s");
    properties.putAll(BrokerFixture.secondBinding(SHORT_ROLE));
    fixture =
        BrokerFixture.start(
            workDir,
            properties,
            BrokerFixture.shortLivedVaultRole(
                SHORT_ROLE, Duration.ofSeconds(2), Duration.ofSeconds(6)));
    kubernetes = fixture.devStack.kubernetes();
    // What an SRE gets from `kubectl create token sre -n ops`: the API server's own audience.
    sreToken = kubernetes.issueToken("ops", "sre", null, List.of(), Duration.ofMinutes(10));
    ReplicaListResolverProvider.register();
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @AfterEach
  void settlesWithoutOrphans() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    toClose.clear();
    OrphanCheck.assertNoOrphans(
        fixture.devStack.postgres(), "db1", "credbroker", Duration.ofSeconds(20));
  }

  @Test
  void dataSourceLogsInAsTheBrokerIssuedUserAndClosingItDropsTheRoleAtOnce() throws Exception {
    CredentialBrokerClient client =
        client(target(fixture.grpcPort), newPodToken(), ClientEventListener.NONE);
    RotatingDataSource dataSource = dataSource(client, "db1");

    try (Connection connection = dataSource.getConnection();
        Statement sql = connection.createStatement()) {
      sql.execute("CREATE TABLE sdk_orders (id int PRIMARY KEY, item text NOT NULL)");
      sql.execute("INSERT INTO sdk_orders VALUES (1, 'widget'), (2, 'gadget')");
      try (ResultSet rs =
          sql.executeQuery("SELECT current_user, count(*) FROM sdk_orders GROUP BY current_user")) {
        assertThat(rs.next()).isTrue();
        Credential credential = dataSource.currentCredential().orElseThrow();
        assertThat(rs.getString(1)).isEqualTo(credential.username());
        assertThat(rs.getInt(2)).isEqualTo(2);
      }
    }
    Credential credential = dataSource.currentCredential().orElseThrow();
    // The broker sent the JDBC URL the pool used, built from its binding.
    assertThat(credential.jdbcUrl()).isEqualTo(fixture.jdbcUrl("db1") + "?sslmode=disable");
    assertThat(fixture.roleExists(credential.username())).isTrue();

    dataSource.close();

    // ReleaseCredential returned after Vault ran the revocation statements.
    assertThat(fixture.roleExists(credential.username())).isFalse();
    assertThat(fixture.record(credential.credentialId()).state())
        .isEqualTo(CredentialState.RELEASED);
    // The table outlives the role: the group role owns it.
    try (Connection admin = fixture.devStack.postgres().connect("db1");
        Statement sql = admin.createStatement();
        ResultSet rs = sql.executeQuery("SELECT count(*) FROM sdk_orders")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(2);
    }
  }

  @Test
  void rotationSwitchesThePoolToTheNewUserAcknowledgesAndQueriesNeverFail() throws Exception {
    RecordingEvents events = new RecordingEvents();
    CredentialBrokerClient client = client(target(fixture.grpcPort), newPodToken(), events);
    RotatingDataSource dataSource =
        toClose(
            RotatingDataSource.builder(client, SHORT_ROLE)
                .hikariConfig(smallPool())
                // The short role's binding names no port; the embedded PostgreSQL has its own.
                .jdbcUrl(fixture.jdbcUrl("db1"))
                .build());
    Credential original = awaitCredential(dataSource);

    try (QueryLoop loop = QueryLoop.start(dataSource)) {
      await("rotation to a new user")
          .atMost(Duration.ofSeconds(15))
          .until(() -> !currentUsername(dataSource).equals(original.username()));
      Credential replacement = dataSource.currentCredential().orElseThrow();
      await("the pool's acknowledgement")
          .atMost(Duration.ofSeconds(5))
          .until(() -> events.acknowledged.contains(replacement.credentialId()));
      assertThat(fixture.record(replacement.credentialId()).replaces())
          .isEqualTo(UUID.fromString(original.credentialId()));

      // The broker drops the replaced role after the drain grace, not at its max TTL.
      await("replaced role dropped")
          .atMost(DRAIN.plusSeconds(3))
          .until(() -> !fixture.roleExists(original.username()));
      CredentialRecord old = fixture.record(original.credentialId());
      assertThat(old.state()).isEqualTo(CredentialState.REVOKED);
      assertThat(old.endReason()).isEqualTo("ROTATION");
      assertThat(original.maxExpireTime()).isNotNull();
      assertThat(old.endTime()).isBefore(original.maxExpireTime());

      // Queries go on after the old role is gone.
      int seen = loop.queries.get();
      await().atMost(Duration.ofSeconds(5)).until(() -> loop.queries.get() > seen + 20);
      assertThat(loop.users).contains(original.username(), replacement.username());
      assertThat(loop.failures).isEmpty();
    }
  }

  @Test
  void closingTheClientReleasesTheCredentialAndTheRoleIsGoneAtOnce() throws Exception {
    RecordingEvents events = new RecordingEvents();
    CredentialBrokerClient client = client(target(fixture.grpcPort), newPodToken(), events);
    RotatingDataSource dataSource = dataSource(client, "db1");
    Credential credential = awaitCredential(dataSource);
    assertThat(fixture.roleExists(credential.username())).isTrue();

    client.close();

    assertThat(fixture.roleExists(credential.username())).isFalse();
    assertThat(events.released).containsExactly(credential.credentialId());
    CredentialRecord released = fixture.record(credential.credentialId());
    assertThat(released.state()).isEqualTo(CredentialState.RELEASED);
    assertThat(released.endReason()).isEqualTo("RELEASE");
  }

  @Test
  void clientWhoseReplicaStopsResumesOnAnotherReplicaWithTheSamePostgresUser() throws Exception {
    // A rolling restart: the second replica is up before the first stops, both behind one name.
    try (BrokerFixture.Replica first = fixture.startReplica(Map.of());
        BrokerFixture.Replica second = fixture.startReplica(Map.of())) {
      RecordingEvents events = new RecordingEvents();
      CredentialBrokerClient client =
          client(
              ReplicaListResolverProvider.target(port(first), port(second)), newPodToken(), events);
      RotatingDataSource dataSource = dataSource(client, "db1");
      Credential credential = awaitCredential(dataSource);
      assertThat(fixture.record(credential.credentialId()).ownerReplica())
          .isEqualTo(replicaId(first));
      Set<String> rolesBefore = fixture.dynamicRoles();

      try (QueryLoop loop = QueryLoop.start(dataSource)) {
        first.close();

        await("resumed on the second replica")
            .atMost(GRACE)
            .until(() -> events.resumed.contains(credential.credentialId()));
        assertThat(fixture.record(credential.credentialId()).ownerReplica())
            .isEqualTo(replicaId(second));
        assertThat(fixture.record(credential.credentialId()).state())
            .isEqualTo(CredentialState.ACTIVE);
        assertThat(events.streamFailures).contains(Status.Code.UNAVAILABLE);
        assertKeptItsRole(dataSource, loop, credential, rolesBefore);
      }

      // The second replica keeps it alive, and releases it when the application shuts down.
      dataSource.close();
      assertThat(fixture.roleExists(credential.username())).isFalse();
      client.close();
    }
  }

  @Test
  void streamEndsAsItsTokenExpiresAndTheClientResumesWithTheKubeletsNewTokenWithoutANewRole()
      throws Exception {
    String pod = newPod();
    Path tokenFile = tokenDir.resolve(pod).resolve("token");
    Files.createDirectories(tokenFile.getParent());
    Instant issued = Instant.now();
    writeAtomically(
        tokenFile,
        kubernetes.issueToken(
            "public", "application", pod, List.of(AUDIENCE), Duration.ofSeconds(6)));
    RecordingEvents events = new RecordingEvents();
    RotatingDataSource dataSource =
        dataSource(client(target(fixture.grpcPort), tokenFile, events), "db1");
    Credential credential = awaitCredential(dataSource);
    Set<String> rolesBefore = fixture.dynamicRoles();

    try (QueryLoop loop = QueryLoop.start(dataSource)) {
      // What the kubelet does at 80 % of a projected token's life: a new one in the same file.
      writeAtomically(
          tokenFile,
          kubernetes.issueToken(
              "public", "application", pod, List.of(AUDIENCE), Duration.ofMinutes(10)));

      await("resumed once the stream's token expired")
          .atMost(Duration.ofSeconds(20))
          .until(() -> events.resumed.contains(credential.credentialId()));
      // The stream ended in the last 15 % of its token's life (a JWT's iat and exp count whole
      // seconds: from 4.1 s after the token was asked for), and the client resumed the same
      // credential with the new token.
      assertThat(Instant.now()).isAfter(issued.plusMillis(4_100));
      assertThat(events.failureReasons).containsExactly("TOKEN_EXPIRED");
      assertThat(events.streamFailures).containsExactly(Status.Code.UNAUTHENTICATED);
      assertThat(events.stopped).isEmpty();
      assertThat(fixture.record(credential.credentialId()).state())
          .isEqualTo(CredentialState.ACTIVE);
      assertKeptItsRole(dataSource, loop, credential, rolesBefore);
    }
  }

  /**
   * The password the client kept still logs in as the same user, the application's queries go on
   * without a failure, and no role was created since {@code rolesBefore}.
   */
  private static void assertKeptItsRole(
      RotatingDataSource dataSource, QueryLoop loop, Credential credential, Set<String> rolesBefore)
      throws SQLException {
    assertThat(dataSource.currentCredential().orElseThrow().username())
        .isEqualTo(credential.username());
    int seen = loop.queries.get();
    await().atMost(Duration.ofSeconds(5)).until(() -> loop.queries.get() > seen + 20);
    assertThat(loop.users).containsExactly(credential.username());
    assertThat(loop.failures).isEmpty();
    Set<String> created = new HashSet<>(fixture.dynamicRoles());
    created.removeAll(rolesBefore);
    assertThat(created).isEmpty();
  }

  /** Replaces a file's content in one step, as the kubelet's atomic writer does. */
  private static void writeAtomically(Path file, String content) throws IOException {
    Path next = file.resolveSibling(file.getFileName() + ".next");
    Files.writeString(next, content);
    Files.move(
        next,
        file,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void sreRevocationFailsGetConnectionWithTheReasonAndTheClientStopsWithoutRetrying()
      throws Exception {
    String pod = newPod();
    RecordingEvents events = new RecordingEvents();
    CredentialBrokerClient client = client(target(fixture.grpcPort), podToken(pod), events);
    RotatingDataSource dataSource = dataSource(client, "db1");
    Credential credential = awaitCredential(dataSource);

    HttpResponse<String> response =
        fixture
            .adminHttpClient()
            .send(
                HttpRequest.newBuilder(
                        fixture.adminUri(
                            "/admin/v1/namespaces/public/pods/" + pod + "/revocations"))
                    .header("Authorization", "Bearer " + sreToken)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"reason\":\"INC-7 leaked\"}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(fixture.roleExists(credential.username())).isFalse();

    await("the SDK stopped").atMost(Duration.ofSeconds(5)).until(() -> !events.stopped.isEmpty());
    assertThat(events.stopped).containsExactly(Status.Code.PERMISSION_DENIED + "/POD_REVOKED");
    assertThatThrownBy(dataSource::getConnection)
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("revoked")
        .hasMessageContaining("POD_REVOKED")
        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28000"));
    assertThat(dataSource.currentCredential()).isEmpty();

    // A revoked pod cannot be helped by retrying: the client opens no further stream.
    int connects = events.connects.get();
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(3))
        .until(() -> events.connects.get() == connects);
    assertThat(events.reconnects.get()).isZero();
  }

  @Test
  void sreRevokingOneCredentialLetsThePodObtainANewOneAndThePoolSwitchesToIt() throws Exception {
    RecordingEvents events = new RecordingEvents();
    CredentialBrokerClient client = client(target(fixture.grpcPort), newPodToken(), events);
    RotatingDataSource dataSource = dataSource(client, "db1");
    Credential revoked = awaitCredential(dataSource);

    HttpResponse<String> response =
        fixture
            .adminHttpClient()
            .send(
                HttpRequest.newBuilder(
                        fixture.adminUri(
                            "/admin/v1/credentials/" + revoked.credentialId() + "/revocations"))
                    .header("Authorization", "Bearer " + sreToken)
                    .header("Content-Type", "application/json")
                    .POST(
                        HttpRequest.BodyPublishers.ofString(
                            "{\"reason\":\"INC-8 one password leaked\"}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(fixture.roleExists(revoked.username())).isFalse();

    await("a new credential in the pool")
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                !currentUsername(dataSource).isEmpty()
                    && !currentUsername(dataSource).equals(revoked.username()));
    Credential fresh = awaitCredential(dataSource);
    assertThat(fresh.credentialId()).isNotEqualTo(revoked.credentialId());
    assertThat(fixture.roleExists(fresh.username())).isTrue();
    assertThat(events.stopped).isEmpty();
    assertThat(events.streamFailures).containsExactly(Status.Code.FAILED_PRECONDITION);
  }

  // ---- helpers ----

  private CredentialBrokerClient client(String target, Path tokenFile, ClientEventListener events) {
    return toClose(
        CredentialBrokerClient.builder()
            .target(target)
            .trustedCertificates(fixture.devStack.caCertPath())
            .tokenFile(tokenFile)
            .eventListener(events)
            .build());
  }

  private RotatingDataSource dataSource(CredentialBrokerClient client, String databaseRole) {
    return toClose(
        RotatingDataSource.builder(client, databaseRole)
            .hikariConfig(smallPool())
            .initialCredentialTimeout(Duration.ofSeconds(20))
            .build());
  }

  private <T extends AutoCloseable> T toClose(T closeable) {
    toClose.add(closeable);
    return closeable;
  }

  private static HikariConfig smallPool() {
    HikariConfig pool = new HikariConfig();
    pool.setMaximumPoolSize(2);
    pool.setConnectionTimeout(5_000);
    return pool;
  }

  /** Waits for the first credential by borrowing (and returning) a connection. */
  private static Credential awaitCredential(RotatingDataSource dataSource) throws SQLException {
    try (Connection connection = dataSource.getConnection()) {
      assertThat(connection.isValid(2)).isTrue();
    }
    return dataSource.currentCredential().orElseThrow();
  }

  private static String currentUsername(RotatingDataSource dataSource) {
    return dataSource.currentCredential().map(Credential::username).orElse("");
  }

  private static String target(int port) {
    return "127.0.0.1:" + port;
  }

  private static int port(BrokerFixture.Replica replica) {
    return replica.context.getBean(GrpcServerLifecycle.class).getPort();
  }

  private static String replicaId(BrokerFixture.Replica replica) {
    return replica.context.getBean(ReplicaId.class).value();
  }

  private static String newPod() {
    String name = "sdk-" + pods.incrementAndGet();
    kubernetes.createPod("public", name, "application");
    return name;
  }

  /** A projected token file for a new pod, as the kubelet would write it. */
  private Path newPodToken() throws IOException {
    return podToken(newPod());
  }

  private Path podToken(String pod) throws IOException {
    Path file = tokenDir.resolve(pod).resolve("token");
    Files.createDirectories(file.getParent());
    Files.writeString(
        file,
        kubernetes.issueToken(
            "public", "application", pod, List.of(AUDIENCE), Duration.ofMinutes(10)));
    return file;
  }

  /**
   * An application thread that borrows a connection, asks who it is and returns it, over and over;
   * remembers every user it saw and every failure.
   */
  private static final class QueryLoop implements AutoCloseable {
    final Set<String> users = ConcurrentHashMap.newKeySet();
    final List<Throwable> failures = new CopyOnWriteArrayList<>();
    final AtomicInteger queries = new AtomicInteger();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    private QueryLoop(RotatingDataSource dataSource) {
      thread =
          new Thread(
              () -> {
                while (running.get()) {
                  try (Connection connection = dataSource.getConnection();
                      Statement sql = connection.createStatement();
                      ResultSet rs = sql.executeQuery("SELECT current_user")) {
                    rs.next();
                    users.add(rs.getString(1));
                    queries.incrementAndGet();
                  } catch (SQLException | RuntimeException e) {
                    failures.add(e);
                  }
                  // A steady trickle, not a busy loop: the brokers share the machine's cores.
                  LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
                }
              },
              "sdk-query-loop");
    }

    static QueryLoop start(RotatingDataSource dataSource) {
      QueryLoop loop = new QueryLoop(dataSource);
      loop.thread.start();
      await().atMost(Duration.ofSeconds(5)).until(() -> loop.queries.get() > 0);
      return loop;
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      thread.join(Duration.ofSeconds(10).toMillis());
    }
  }

  /** What the client reported on the wire, as a metrics listener would see it. */
  private static final class RecordingEvents implements ClientEventListener {
    final AtomicInteger connects = new AtomicInteger();
    final AtomicInteger reconnects = new AtomicInteger();
    final List<String> resumed = new CopyOnWriteArrayList<>();
    final List<String> acknowledged = new CopyOnWriteArrayList<>();
    final List<String> released = new CopyOnWriteArrayList<>();
    final List<Status.Code> streamFailures = new CopyOnWriteArrayList<>();
    final List<String> failureReasons = new CopyOnWriteArrayList<>();
    final List<String> stopped = new CopyOnWriteArrayList<>();

    @Override
    public void connectStarted(
        String databaseRole, int attempt, @Nullable String resumeCredentialId) {
      connects.incrementAndGet();
    }

    @Override
    public void streamFailed(String databaseRole, Status.Code code, @Nullable String reason) {
      streamFailures.add(code);
      failureReasons.add(String.valueOf(reason));
    }

    @Override
    public void reconnectScheduled(String databaseRole, int attempt, Duration delay) {
      reconnects.incrementAndGet();
    }

    @Override
    public void credentialReceived(
        String databaseRole, String credentialId, CredentialSource source) {
      if (source == CredentialSource.RESUMED) {
        resumed.add(credentialId);
      }
    }

    @Override
    public void rotationAcknowledged(String databaseRole, String credentialId) {
      acknowledged.add(credentialId);
    }

    @Override
    public void credentialReleased(String databaseRole, String credentialId) {
      released.add(credentialId);
    }

    @Override
    public void subscriptionStopped(
        String databaseRole, Status.Code code, @Nullable String reason) {
      stopped.add(code + "/" + reason);
    }
  }
}
