package io.credbroker.client.hikari;

import static io.credbroker.client.RecordingCredentialBroker.credential;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.RecordingCredentialBroker;
import io.credbroker.client.RecordingCredentialBroker.WatchCall;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTimeoutException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data source against a real PostgreSQL whose two login roles stand for two broker credentials,
 * and which checks passwords (SCRAM) for every role but the superuser.
 */
class RotatingDataSourceTest {

  private static final Duration NO_ACK_WINDOW = Duration.ofMillis(500);

  /** An advisory lock that a pool's connection init SQL waits for while the test holds it. */
  private static final int SLOW_LOGIN_LOCK = 42;

  private static EmbeddedPostgres postgres;
  private static String jdbcUrl;

  @TempDir Path dir;

  private final RecordingCredentialBroker broker = new RecordingCredentialBroker();
  private Server server;
  private ManagedChannel channel;
  private CredentialBrokerClient client;
  private RotatingDataSource dataSource;

  @BeforeAll
  static void startPostgres() throws Exception {
    postgres = EmbeddedPostgres.builder().start();
    jdbcUrl = "jdbc:postgresql://localhost:" + postgres.getPort() + "/postgres";
    try (Connection admin = postgres.getPostgresDatabase().getConnection();
        Statement sql = admin.createStatement()) {
      sql.execute("CREATE ROLE app_group NOLOGIN");
      sql.execute("CREATE ROLE cred_a LOGIN PASSWORD 'pw-a' IN ROLE app_group");
      sql.execute("CREATE ROLE cred_b LOGIN PASSWORD 'pw-b' IN ROLE app_group");
      Path hba = Path.of(queryString(sql, "SHOW hba_file"));
      // initdb trusts everyone; make the server check the credentials' passwords, as a real target
      // would.
      Files.writeString(
          hba,
          """
          local all all trust
          host all postgres 127.0.0.1/32 trust
          host all postgres ::1/128 trust
          host all all 127.0.0.1/32 scram-sha-256
          host all all ::1/128 scram-sha-256
          """);
      sql.execute("SELECT pg_reload_conf()");
    }
  }

  /**
   * Waits until {@link RotatingDataSource#getConnection()} refuses with SQL state 28000 and a
   * message that contains each of {@code texts}.
   */
  private void awaitRefused(String... texts) {
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThatThrownBy(() -> dataSource.getConnection())
                    .isInstanceOfSatisfying(
                        SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28000"))
                    .hasMessageContainingAll(texts));
  }

  /** Builds the data source and answers its stream with credential c1 of role cred_a. */
  private WatchCall servingCredA() throws InterruptedException {
    dataSource = dataSourceBuilder().build();
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "cred_a", "pw-a", jdbcUrl));
    return call;
  }

  private static void createRole(String name, String password) throws SQLException {
    try (Connection admin = postgres.getPostgresDatabase().getConnection();
        Statement sql = admin.createStatement()) {
      sql.execute("CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "' IN ROLE app_group");
    }
  }

  @AfterAll
  static void stopPostgres() throws IOException {
    postgres.close();
  }

  @BeforeEach
  void startBroker() throws IOException {
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .addService(ServerInterceptors.intercept(broker, broker.headerRecorder()))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).build();
    Path tokenFile = Files.writeString(dir.resolve("token"), "pod-token");
    client =
        CredentialBrokerClient.builder()
            .channel(channel)
            .tokenFile(tokenFile)
            .backoff(Duration.ofMillis(10), Duration.ofMillis(100))
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    if (dataSource != null) {
      dataSource.close();
    }
    client.close();
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> sessionsOf("cred_a") + sessionsOf("cred_b") == 0);
  }

  private RotatingDataSource.Builder dataSourceBuilder() {
    HikariConfig pool = new HikariConfig();
    pool.setMaximumPoolSize(3);
    pool.setMinimumIdle(2);
    return RotatingDataSource.builder(client, "db1").hikariConfig(pool);
  }

  @Test
  void getConnectionWaitsForTheFirstCredentialAndLogsInWithIt() throws Exception {
    dataSource = dataSourceBuilder().build();
    CompletableFuture<String> user = CompletableFuture.supplyAsync(() -> currentUser(dataSource));
    WatchCall call = broker.nextWatch();
    assertThat(user).as("no credential yet").isNotDone();

    call.issue(credential("c1", "cred_a", "pw-a", jdbcUrl));

    assertThat(user.get(10, TimeUnit.SECONDS)).isEqualTo("cred_a");
    assertThat(dataSource.currentCredential().map(Credential::credentialId)).contains("c1");
  }

  @Test
  void rotationSwitchesNewConnectionsToTheNewUserAndClosesTheOldPoolOnceItDrains()
      throws Exception {
    dataSource = dataSourceBuilder().build();
    AtomicReference<Optional<Credential>> poolCredentialAtAck = new AtomicReference<>();
    broker.onAcknowledge(() -> poolCredentialAtAck.set(dataSource.currentCredential()));
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "cred_a", "pw-a", jdbcUrl));
    Connection borrowed = dataSource.getConnection();
    assertThat(currentUser(borrowed)).isEqualTo("cred_a");

    call.rotate(credential("c2", "cred_b", "pw-b", jdbcUrl), "c1");

    await().atMost(Duration.ofSeconds(10)).until(() -> broker.acknowledgements().size() == 1);
    assertThat(broker.acknowledgements().get(0).request().getCredentialId()).isEqualTo("c2");
    assertThat(poolCredentialAtAck.get().map(Credential::credentialId))
        .as("acknowledged after the switch")
        .contains("c2");
    assertThat(currentUser(dataSource)).isEqualTo("cred_b");

    // The old pool keeps the borrowed session alive (idle ones are evicted) until it is handed
    // back.
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 1);
    assertThat(currentUser(borrowed)).isEqualTo("cred_a");
    borrowed.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 0);
    assertThat(sessionsOf("cred_b")).isPositive();
  }

  @Test
  void aRotatedCredentialThatCannotLogInIsNeitherSwitchedToNorAcknowledgedUntilItCan()
      throws Exception {
    WatchCall call = servingCredA();
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");

    // The role is not on this database yet (a failover to a replica that lags behind, say).
    call.rotate(credential("c2", "cred_late_rotated", "pw-late", jdbcUrl), "c1");
    await()
        .during(NO_ACK_WINDOW)
        .atMost(NO_ACK_WINDOW.multipliedBy(4))
        .until(() -> broker.acknowledgements().isEmpty());
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");
    assertThat(dataSource.currentCredential().map(Credential::credentialId)).contains("c1");
    // Offered again after a backoff, not given up: it switches once it can log in.
    createRole("cred_late_rotated", "pw-late");

    await().atMost(Duration.ofSeconds(10)).until(() -> broker.acknowledgements().size() == 1);
    assertThat(broker.acknowledgements().get(0).request().getCredentialId()).isEqualTo("c2");
    assertThat(currentUser(dataSource)).isEqualTo("cred_late_rotated");
  }

  @Test
  void aRotatedCredentialThatCannotLogInIsNotAcknowledgedEvenWhenThePoolSettingsSkipTheLoginCheck()
      throws Exception {
    HikariConfig pool = new HikariConfig();
    pool.setMaximumPoolSize(3);
    pool.setMinimumIdle(2);
    // HikariCP's "start without a database": a new pool would not log in before it is used.
    pool.setInitializationFailTimeout(-1);
    dataSource = RotatingDataSource.builder(client, "db1").hikariConfig(pool).build();
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "cred_a", "pw-a", jdbcUrl));
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");
    String role = "cred_late_unchecked";

    call.rotate(credential("c2", role, "pw-late", jdbcUrl), "c1");
    await()
        .during(NO_ACK_WINDOW)
        .atMost(NO_ACK_WINDOW.multipliedBy(4))
        .until(() -> broker.acknowledgements().isEmpty());
    assertThat(dataSource.currentCredential().map(Credential::credentialId)).contains("c1");
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");
    createRole(role, "pw-late");

    await().atMost(Duration.ofSeconds(10)).until(() -> broker.acknowledgements().size() == 1);
    assertThat(currentUser(dataSource)).isEqualTo(role);
  }

  @Test
  void aFirstCredentialThatCannotLogInYetIsTriedAgainUntilItCan() throws Exception {
    dataSource = dataSourceBuilder().initialCredentialTimeout(Duration.ofSeconds(20)).build();
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "cred_late_first", "pw-late", jdbcUrl));
    CompletableFuture<String> user = CompletableFuture.supplyAsync(() -> currentUser(dataSource));
    await().during(NO_ACK_WINDOW).atMost(NO_ACK_WINDOW.multipliedBy(4)).until(() -> !user.isDone());

    createRole("cred_late_first", "pw-late");

    assertThat(user.get(15, TimeUnit.SECONDS)).isEqualTo("cred_late_first");
  }

  @Test
  void getConnectionGivesUpWhenNoCredentialArrivesInTime() throws Exception {
    dataSource = dataSourceBuilder().initialCredentialTimeout(Duration.ofMillis(200)).build();
    broker.nextWatch();

    assertThatThrownBy(() -> dataSource.getConnection())
        .isInstanceOf(SQLTimeoutException.class)
        .hasMessageContaining("db1");
  }

  @Test
  void revokedCredentialMakesGetConnectionFailWithTheReason() throws Exception {
    WatchCall call = servingCredA();
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");

    call.revoke("c1", "POD_REVOKED");
    call.fail(Status.PERMISSION_DENIED, "POD_REVOKED", null);

    awaitRefused("revoked", "POD_REVOKED");
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 0);
  }

  @Test
  void podRevokedWhileTheStreamWasBrokenMakesGetConnectionFailWithTheReason() throws Exception {
    WatchCall call = servingCredA();
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");

    // The stream breaks; meanwhile an operator revokes the pod, so no `revoked` event reaches the
    // client. The broker
    // refuses the resume, then the fresh request.
    call.fail(Status.UNAVAILABLE);
    WatchCall resume = broker.nextWatch();
    assertThat(resume.request().getResumeCredentialId()).isEqualTo("c1");
    resume.fail(Status.PERMISSION_DENIED, "POD_REVOKED", null);
    WatchCall fresh = broker.nextWatch();
    assertThat(fresh.request().getResumeCredentialId()).isEmpty();
    fresh.fail(Status.PERMISSION_DENIED, "POD_REVOKED", null);

    awaitRefused("revoked", "POD_REVOKED");
    assertThat(dataSource.currentCredential()).isEmpty();
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 0);
  }

  @Test
  void aSubscriptionTheBrokerStopsRefusesNewConnectionsWithItsReasonAndLetsBorrowedOnesFinish()
      throws Exception {
    WatchCall call = servingCredA();
    Connection borrowed = dataSource.getConnection();
    assertThat(currentUser(borrowed)).isEqualTo("cred_a");

    // The binding was removed: no stream holds the credential, which the broker revokes later.
    call.fail(Status.PERMISSION_DENIED, "NOT_BOUND", null);

    awaitRefused("NOT_BOUND");
    assertThat(currentUser(borrowed)).isEqualTo("cred_a");
    borrowed.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 0);
  }

  @Test
  void closeReleasesTheCredentialAndClosesThePool() throws Exception {
    dataSource = dataSourceBuilder().build();
    broker.nextWatch().issue(credential("c1", "cred_a", "pw-a", jdbcUrl));
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");

    dataSource.close();

    assertThat(broker.releases())
        .extracting(release -> release.request().getCredentialId())
        .containsExactly("c1");
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 0);
    assertThatThrownBy(() -> dataSource.getConnection()).isInstanceOf(SQLException.class);
  }

  @Test
  void closeWhileARotationsPoolLogsInClosesTheReplacedPoolToo() throws Exception {
    HikariConfig pool = new HikariConfig();
    pool.setMaximumPoolSize(3);
    pool.setMinimumIdle(2);
    // Every login waits here while the test holds the advisory lock: a slow database login.
    pool.setConnectionInitSql("SELECT pg_advisory_xact_lock_shared(" + SLOW_LOGIN_LOCK + ")");
    dataSource = RotatingDataSource.builder(client, "db1").hikariConfig(pool).build();
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "cred_a", "pw-a", jdbcUrl));
    assertThat(currentUser(dataSource)).isEqualTo("cred_a");
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_a") == 2);
    CountDownLatch releaseArrived = new CountDownLatch(1);
    CountDownLatch releaseMayFinish = new CountDownLatch(1);
    broker.onRelease(
        () -> {
          releaseArrived.countDown();
          try {
            releaseMayFinish.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    CompletableFuture<Void> closing;
    try (Connection admin = postgres.getPostgresDatabase().getConnection();
        Statement sql = admin.createStatement()) {
      sql.execute("SELECT pg_advisory_lock(" + SLOW_LOGIN_LOCK + ")");
      call.rotate(credential("c2", "cred_b", "pw-b", jdbcUrl), "c1");
      await().atMost(Duration.ofSeconds(10)).until(() -> loginsWaiting("cred_b") == 1);

      // The application shuts down while the new pool logs in; the login completes while close()
      // is releasing the credential at the broker.
      closing = CompletableFuture.runAsync(dataSource::close);
      assertThat(releaseArrived.await(10, TimeUnit.SECONDS)).isTrue();
      sql.execute("SELECT pg_advisory_unlock(" + SLOW_LOGIN_LOCK + ")");
    }
    // The switch saw the close and closed its new pool.
    await().atMost(Duration.ofSeconds(10)).until(() -> sessionsOf("cred_b") == 0);
    releaseMayFinish.countDown();
    closing.get(10, TimeUnit.SECONDS);

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(sessionsOf("cred_a")).as("sessions of the replaced pool").isZero());
  }

  @Test
  void userAndPasswordFromTheCallerAreRefused() {
    dataSource = dataSourceBuilder().build();

    assertThatThrownBy(() -> dataSource.getConnection("postgres", "x"))
        .isInstanceOf(java.sql.SQLFeatureNotSupportedException.class);
  }

  private static String currentUser(RotatingDataSource dataSource) {
    try (Connection connection = dataSource.getConnection()) {
      return currentUser(connection);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String currentUser(Connection connection) throws SQLException {
    try (Statement sql = connection.createStatement()) {
      return queryString(sql, "SELECT current_user");
    }
  }

  private static int sessionsOf(String user) throws SQLException {
    try (Connection admin = postgres.getPostgresDatabase().getConnection();
        Statement sql = admin.createStatement()) {
      return Integer.parseInt(
          queryString(sql, "SELECT count(*) FROM pg_stat_activity WHERE usename = '" + user + "'"));
    }
  }

  /**
   * Sessions of {@code user} that wait for a lock (a login held up by {@link #SLOW_LOGIN_LOCK}).
   */
  private static int loginsWaiting(String user) throws SQLException {
    try (Connection admin = postgres.getPostgresDatabase().getConnection();
        Statement sql = admin.createStatement()) {
      return Integer.parseInt(
          queryString(
              sql,
              "SELECT count(*) FROM pg_stat_activity WHERE usename = '"
                  + user
                  + "' AND wait_event_type = 'Lock'"));
    }
  }

  private static String queryString(Statement sql, String query) throws SQLException {
    try (ResultSet rows = sql.executeQuery(query)) {
      rows.next();
      return rows.getString(1);
    }
  }
}
