package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.broker.lease.RotationReason;
import io.credbroker.client.ClientEventListener;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.hikari.RotatingDataSource;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 through the real wire: the broker's own Vault token turns over all the time, and no pod
 * may notice. Every Vault lease belongs to the token that created it, and when that token is
 * revoked or expires Vault revokes the lease, whose revocation statements drop the role and
 * terminate its sessions. Three broker processes from the packaged jar log in to Vault by
 * Kubernetes auth, as in production, with tokens that live seconds ({@value #BROKER_TOKEN_TTL_S} s,
 * at most {@value #BROKER_TOKEN_MAX_TTL_S} s) while credentials may live {@value
 * #CREDENTIAL_MAX_TTL_S} s; {@value #PODS} pods use the Java SDK ({@link CredentialBrokerClient}
 * and {@link RotatingDataSource}) against the replicas behind one name, each writing through its
 * pool every {@value #QUERY_INTERVAL_MS} ms and holding one session open all along.
 *
 * <p>Each scenario turns the replicas' tokens over in one of the ways production does (the max TTL
 * reached in steady state, a graceful stop that revokes the login token, a crash after which the
 * token expires) and must end with: no failed query, no terminated session, no role dropped while
 * its pod was using it, no live credential whose role is gone (sampled throughout), and no orphaned
 * role. Figures go to the build output and to {@code target/token-turnover.txt}.
 *
 * <p>Timings: the broker token's TTL is longer than Spring Vault's expiry threshold (7 s), so the
 * broker renews it and logs in again once the max TTL leaves less than that, as it does in
 * production with hours; a new login happens every ten seconds or so per replica, and the old token
 * dies a few seconds later.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TokenTurnoverIT {

  private static final long BROKER_TOKEN_TTL_S = 8;
  private static final long BROKER_TOKEN_MAX_TTL_S = 16;
  // 8 s leases: a credential handed over twice in a row during the rolling restart (one replica
  // stopping, another claiming and renewing it, a third resuming it) must survive the race between
  // the claimer's renewal and the resume, and a lost renewal expires it well within the scenario.
  // Renewals are due at 0.66 of the TTL, so the margin before expiry is 2.7 s. With 5 s leases it
  // was 1.7 s: on a loaded 2-core CI machine a replica that had just started (cold JIT, three
  // brokers and the test on two cores) renewed a resumed lease that late once, the lease ran out
  // and its role went with it.
  private static final long CREDENTIAL_TTL_S = 8;
  private static final long CREDENTIAL_MAX_TTL_S = 45;
  private static final int PODS = 6;
  private static final long QUERY_INTERVAL_MS = 50;

  private static final Duration BROKER_TOKEN_TTL = Duration.ofSeconds(BROKER_TOKEN_TTL_S);
  private static final Duration BROKER_TOKEN_MAX_TTL = Duration.ofSeconds(BROKER_TOKEN_MAX_TTL_S);

  /** A replaced credential is revoked this long after its pod acknowledged the rotation. */
  private static final Duration DRAIN_GRACE = Duration.ofSeconds(3);

  /**
   * Credentials are created with orphan issuing tokens of this lifetime, a new one every half of
   * it, and rotated {@link #TOKEN_EXPIRY_MARGIN} before theirs dies: every credential is rotated
   * for its token within the test, well before its own max TTL.
   */
  private static final Duration ISSUING_TOKEN_TTL = Duration.ofSeconds(48);

  private static final Duration TOKEN_EXPIRY_MARGIN = Duration.ofSeconds(8);
  private static final Duration READY = Duration.ofSeconds(120);
  private static final String AUDIENCE = "credbroker";
  private static final String LOGIN_LINE = "Login successful using Kubernetes authentication";
  private static final Path LOG_DIR =
      Path.of("target", "replicas", TokenTurnoverIT.class.getSimpleName());
  private static final Path REPORT = Path.of("target", "token-turnover.txt");

  @TempDir static Path workDir;
  private static DevStack devStack;
  private static KubernetesApiServer kubernetes;

  /** The running replica of each slot (a, b, c); a slot's successor takes over its ports. */
  private static final BrokerProcess[] replicas = new BrokerProcess[3];

  private static final int[] generations = new int[3];
  private static final AtomicInteger podNumbers = new AtomicInteger();

  private Workload workload;
  private int loginsBefore;

  @BeforeAll
  static void startReplicas() throws Exception {
    // Logins are counted in the replicas' logs: none may be left from an earlier run.
    if (Files.isDirectory(LOG_DIR)) {
      try (Stream<Path> logs = Files.list(LOG_DIR)) {
        for (Path log : logs.toList()) {
          Files.delete(log);
        }
      }
    }
    devStack =
        BrokerFixture.startDevStack(
            workDir.resolve("dev-stack"),
            Duration.ofSeconds(CREDENTIAL_TTL_S),
            Duration.ofSeconds(CREDENTIAL_MAX_TTL_S),
            BROKER_TOKEN_TTL,
            BROKER_TOKEN_MAX_TTL,
            ISSUING_TOKEN_TTL);
    kubernetes = devStack.kubernetes();
    Map<String, String> properties = new LinkedHashMap<>(BrokerFixture.replicaProperties(devStack));
    properties.put("credbroker.lease.drain-grace", DRAIN_GRACE.toMillis() + "ms");
    properties.put("credbroker.lease.token-expiry-margin", TOKEN_EXPIRY_MARGIN.toMillis() + "ms");
    properties.put("credbroker.lease.revocation-retry-initial", "500ms");
    // Every Vault login shows in the replica's log: the report counts them.
    properties.put("logging.level.org.springframework.vault.authentication", "DEBUG");
    List<BrokerProcess> started =
        BrokerProcess.startReady(
            LOG_DIR, properties, READY, replicaId(0), replicaId(1), replicaId(2));
    for (int slot = 0; slot < replicas.length; slot++) {
      replicas[slot] = started.get(slot);
    }
    ReplicaListResolverProvider.register();
    Files.createDirectories(REPORT.getParent());
    Files.writeString(REPORT, "");
  }

  @AfterAll
  static void stopReplicas() throws Exception {
    for (BrokerProcess replica : replicas) {
      if (replica != null) {
        replica.close();
      }
    }
    if (devStack != null) {
      devStack.close();
    }
  }

  @BeforeEach
  void startPods() throws Exception {
    // A scenario that failed half-way may have left a slot without a running replica.
    for (int slot = 0; slot < replicas.length; slot++) {
      if (!replicas[slot].alive()) {
        replicas[slot] = replicas[slot].successor(replicaId(slot)).awaitReady(READY);
      }
    }
    loginsBefore = vaultLogins();
    workload = Workload.start(PODS);
  }

  @AfterEach
  void stopPods() throws Exception {
    if (workload != null) {
      workload.close();
    }
    // Closing the clients released every credential.
    OrphanCheck.assertNoOrphans(devStack.postgres(), "db1", "credbroker", Duration.ofSeconds(20));
  }

  @Test
  @Order(1)
  void brokerTokensReachingTheirMaxTtlUnderSteadyLoadCostNoQueryAndNoSession(TestInfo test)
      throws Exception {
    // Vault ends every broker token at its max TTL at the latest, so in twice that time each
    // replica that keeps working logs in again at least twice, and the tokens before die. In an
    // issuing token's lifetime, every pod's first credential reaches its token's deadline (before
    // its own max TTL) and is rotated for it.
    int rotationsBefore = tokenExpiryRotations();
    letTimePass(max(BROKER_TOKEN_MAX_TTL.multipliedBy(2), ISSUING_TOKEN_TTL));

    SoftAssertions softly = new SoftAssertions();
    softly
        .assertThat(tokenExpiryRotations() - rotationsBefore)
        .as("rotations because a credential's issuing token was about to die")
        .isGreaterThanOrEqualTo(PODS);
    assertUnharmed(test, softly, 2 * replicas.length);
  }

  @Test
  @Order(2)
  void rollingRestartWithSigtermCostsNoQueryAndNoSession(TestInfo test) throws Exception {
    for (int slot = 0; slot < replicas.length; slot++) {
      BrokerProcess stopping = replicas[slot];
      Instant sigterm = Instant.now();
      // A graceful stop: Spring Vault revokes the replica's login token on its way out.
      assertThat(stopping.stop(Duration.ofSeconds(30)))
          .as(stopping + " stops gracefully on SIGTERM")
          .isTrue();
      // Its pods moved to the other replicas behind the same name.
      workload.awaitStreamsUp(Duration.ofSeconds(30));
      workload.mark("SIGTERM " + stopping.replicaId, sigterm, Instant.now().plusSeconds(2));
      // Starting the successor takes long enough for whatever the stop took with it to show.
      replicas[slot] = stopping.successor(replicaId(slot)).awaitReady(READY);
    }

    assertUnharmed(test, new SoftAssertions(), 1);
  }

  /**
   * A replica is killed; the others claim its credentials (and its pods resume them there). Its
   * Vault token is neither revoked nor renewed any more, so it dies at the latest one TTL later,
   * and surely after TTL + max TTL. By then each credential it held keeps working (its role still
   * logs in with the password the pod holds) or was rotated, and the pod acknowledged the
   * replacement, before its role went: a role gone while its pod still used it would show in {@link
   * Workload#rolesGoneWhileInUse}.
   */
  @Test
  @Order(3)
  void credentialsAdoptedFromAKilledReplicaOutliveItsVaultToken(TestInfo test) throws Exception {
    Map<String, Credential> held = workload.currentCredentials();
    Map<String, String> owners = owners(held.keySet());
    int victim = busiestSlot(owners);
    String victimId = replicas[victim].replicaId;
    Map<String, Credential> adopted = new TreeMap<>();
    held.forEach(
        (id, credential) -> {
          if (victimId.equals(owners.get(id))) {
            adopted.put(id, credential);
          }
        });
    assertThat(adopted).as("credentials held by " + victimId).isNotEmpty();

    Instant killed = Instant.now();
    replicas[victim].kill();
    // The other two carry the pods from here on (a replacement would only share the cores).
    Instant tokenDead = killed.plus(BROKER_TOKEN_TTL).plus(BROKER_TOKEN_MAX_TTL);
    letTimePass(Duration.between(Instant.now(), tokenDead));
    Instant ttlPassed = killed.plus(BROKER_TOKEN_TTL).plusSeconds(2);
    workload.mark("kill -9 " + victimId + " until its token's TTL passed", killed, ttlPassed);
    workload.mark("the rest of TTL + max TTL after the kill", ttlPassed, tokenDead);

    SoftAssertions softly = new SoftAssertions();
    for (Map.Entry<String, Credential> entry : adopted.entrySet()) {
      String id = entry.getKey();
      Credential credential = entry.getValue();
      softly
          .assertThat(workload.rolesGoneWhileInUse().containsKey(credential.username()))
          .as(id + " (" + credential.username() + ") lost its role while its pod used it")
          .isFalse();
      softly
          .assertThat(workload.liveWithoutRole().containsKey(id))
          .as(id + " (" + credential.username() + ") lost its role while live")
          .isFalse();
      CredentialRow row = credentialRow(id);
      Optional<String> loginFailure =
          row.state().equals("ACTIVE") ? logsIn(credential) : Optional.empty();
      if (loginFailure.isPresent()) {
        // A credential rotated before the token's end (token_expiry) is revoked when its drain
        // ends, which can fall between the read of its row and the login: read it again.
        row = credentialRow(id);
      }
      if (row.state().equals("ACTIVE")) {
        softly.assertThat(row.owner()).as(id + " adopted").isNotEqualTo(victimId);
        softly
            .assertThat(loginFailure)
            .as(id + " (" + credential.username() + ") still logs in")
            .isEmpty();
      } else {
        softly
            .assertThat(row.state() + "/" + row.endReason())
            .as(id + " ended by")
            .isEqualTo("REVOKED/ROTATION");
        softly
            .assertThat(workload.acknowledged())
            .as("the replacement of " + id + " acknowledged")
            .containsAnyElementsOf(replacements(id));
      }
    }

    assertUnharmed(test, softly, 1);
  }

  /**
   * The kubelet replaces the broker's projected service-account token, and the one before stops
   * working (here because the pod it was bound to is gone). The replicas run as the chart's pods do
   * (no kubeconfig: {@link BrokerFixture#replicaProperties}), so each must read the new token from
   * the file for its Kubernetes calls as well as for its Vault logins: new pods are still reviewed
   * on every replica, the replicas keep logging in to Vault, and the running pods notice nothing.
   */
  @Test
  @Order(4)
  void theBrokersServiceAccountTokenIsReadAgainFromItsFileWhenTheKubeletReplacesIt(TestInfo test)
      throws Exception {
    String before = Files.readString(BrokerFixture.brokerServiceAccountTokenFile(devStack)).strip();
    String nextPod = "credential-broker-1";
    kubernetes.createPod(
        BrokerFixture.BROKER_NAMESPACE, nextPod, BrokerFixture.BROKER_SERVICE_ACCOUNT);
    BrokerFixture.writeBrokerServiceAccountToken(devStack, nextPod);
    kubernetes.deletePod(BrokerFixture.BROKER_NAMESPACE, BrokerFixture.BROKER_POD);
    String after = Files.readString(BrokerFixture.brokerServiceAccountTokenFile(devStack)).strip();
    assertThat(kubernetesApiStatus(before))
        .as("the API server with the token before")
        .isEqualTo(401);
    assertThat(kubernetesApiStatus(after)).as("the API server with the new token").isEqualTo(200);

    TestPods pods = new TestPods(kubernetes, "sa-turnover-");
    SoftAssertions softly = new SoftAssertions();
    for (BrokerProcess replica : replicas) {
      // A pod token no replica has seen: its review is a call to the Kubernetes API. The pod tries
      // again after UNAVAILABLE, as the SDK does: the first review after the turnover may go out
      // with the old token (fabric8 reads the file again at most once a minute before a request,
      // and after a 401), and fabric8's retry after the 401 has been seen to fail on its
      // connection.
      // A broker pinned to its first token is refused every time.
      String token = pods.token(pods.create());
      BrokerTestClient client = new BrokerTestClient(replica.channel);
      StatusRuntimeException refused = null;
      for (int attempt = 1; attempt <= 3; attempt++) {
        try {
          String id = client.issue(token, "db1").getCredentialId();
          client
              .as(token)
              .releaseCredential(ReleaseCredentialRequest.newBuilder().setCredentialId(id).build());
          refused = null;
          System.out.printf("%s served a new pod at attempt %d%n", replica, attempt);
          break;
        } catch (StatusRuntimeException e) {
          refused = e;
          if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
            break;
          }
          Thread.sleep(1_000);
        }
      }
      if (refused != null) {
        softly.fail(
            replica + " refused a new pod after the token turnover: " + refused.getStatus());
      }
    }
    // Each replica logs in to Vault again, with the new token, at least twice.
    letTimePass(BROKER_TOKEN_MAX_TTL.multipliedBy(2));
    assertUnharmed(test, softly, 2 * replicas.length);
  }

  /** The status of a read of the cluster's signing keys, which any service account may read. */
  private static int kubernetesApiStatus(String token) throws Exception {
    return TestTls.httpClient(devStack.caCertPath())
        .send(
            HttpRequest.newBuilder(URI.create(devStack.kubernetesUrl() + "/openid/v1/jwks"))
                .header("Authorization", "Bearer " + token)
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  // ---- invariants and figures ----

  /**
   * The scenario's verdict, added to the scenario's own soft assertions so that a failure shows
   * every figure: no failed query, no terminated session, no role gone while in use, no live
   * credential without its role (sampled throughout and now), no orphan, at least {@code minLogins}
   * broker logins (token turnovers) during the scenario, and every pod still working.
   */
  private void assertUnharmed(TestInfo test, SoftAssertions softly, int minLogins)
      throws Exception {
    int logins = vaultLogins() - loginsBefore;
    Map<String, Long> ends = endReasons(workload.podNames());
    String figures = workload.figures();
    String report =
        String.format(
            "%s: broker Vault logins %d, credentials ended by reason %s%n%s",
            test.getTestMethod().orElseThrow().getName(), logins, ends, figures);
    System.out.print(report);
    Files.writeString(REPORT, report, StandardCharsets.UTF_8, StandardOpenOption.APPEND);

    softly.assertThat(workload.failedQueries()).as("failed queries (figures above)").isZero();
    softly
        .assertThat(workload.terminatedSessions())
        .as("terminated sessions (figures above)")
        .isZero();
    Map<String, String> gone = workload.rolesGoneWhileInUse();
    softly
        .assertThat(gone.size())
        .as("roles dropped while their pod used them, e.g. " + first(gone.keySet()))
        .isZero();
    Map<String, String> roleless = workload.liveWithoutRole();
    softly
        .assertThat(roleless.size())
        .as("live credentials seen without their role, e.g. " + first(roleless.values()))
        .isZero();
    softly
        .assertThat(logins)
        .as("broker Vault logins during the scenario")
        .isGreaterThanOrEqualTo(minLogins);
    try {
      workload.awaitProgress(Duration.ofSeconds(20));
    } catch (AssertionError | RuntimeException e) {
      softly.fail("pods stopped working: " + e.getMessage());
    }
    PostgresInfo postgres = devStack.postgres();
    try {
      OrphanCheck.assertNoLiveCredentialWithoutRole(postgres, "db1", "credbroker");
    } catch (AssertionError e) {
      softly.fail(e.getMessage());
    }
    try {
      OrphanCheck.assertNoOrphans(postgres, "db1", "credbroker", Duration.ofSeconds(20));
    } catch (AssertionError | RuntimeException e) {
      softly.fail(e.getMessage());
    }
    softly.assertAll();
  }

  private static List<String> first(Collection<String> items) {
    return items.stream().sorted().limit(3).toList();
  }

  /** Lets {@code time} pass with the pods at work. */
  private static void letTimePass(Duration time) {
    if (time.isNegative() || time.isZero()) {
      return;
    }
    Instant end = Instant.now().plus(time);
    await()
        .atMost(time.plusSeconds(5))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> !Instant.now().isBefore(end));
  }

  /** How often the replicas of this class logged in to Vault so far, by their logs. */
  private static int vaultLogins() throws IOException {
    return linesInReplicaLogs(LOGIN_LINE);
  }

  /** Rotations the replicas made because the issuing token of a credential was about to die. */
  private static int tokenExpiryRotations() throws IOException {
    return linesInReplicaLogs("(" + RotationReason.TOKEN_EXPIRY.tag() + ")");
  }

  private static int linesInReplicaLogs(String text) throws IOException {
    int count = 0;
    try (Stream<Path> logs = Files.list(LOG_DIR)) {
      for (Path log : logs.toList()) {
        try (Stream<String> lines = Files.lines(log, StandardCharsets.UTF_8)) {
          count += (int) lines.filter(line -> line.contains(text)).count();
        }
      }
    }
    return count;
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  private static String replicaId(int slot) {
    return "replica-" + (char) ('a' + slot) + "-" + ++generations[slot];
  }

  /** The slot whose replica owns most of these credentials. */
  private static int busiestSlot(Map<String, String> owners) {
    int busiest = 0;
    long most = -1;
    for (int slot = 0; slot < replicas.length; slot++) {
      String id = replicas[slot].replicaId;
      long owned = owners.values().stream().filter(id::equals).count();
      if (owned > most) {
        busiest = slot;
        most = owned;
      }
    }
    return busiest;
  }

  private record CredentialRow(String state, @Nullable String endReason, @Nullable String owner) {}

  private static CredentialRow credentialRow(String id) throws SQLException {
    try (Connection state = devStack.postgres().connect("credbroker");
        PreparedStatement query =
            state.prepareStatement(
                "SELECT state, end_reason, owner_replica FROM credential WHERE id = ?::uuid")) {
      query.setString(1, id);
      try (ResultSet rs = query.executeQuery()) {
        assertThat(rs.next()).as("credential " + id + " recorded").isTrue();
        return new CredentialRow(rs.getString(1), rs.getString(2), rs.getString(3));
      }
    }
  }

  /** Owner replica by credential ID. */
  private static Map<String, String> owners(Set<String> ids) throws SQLException {
    Map<String, String> owners = new TreeMap<>();
    try (Connection state = devStack.postgres().connect("credbroker");
        PreparedStatement query =
            state.prepareStatement(
                "SELECT id::text, COALESCE(owner_replica, '-') FROM credential"
                    + " WHERE id::text = ANY (?)")) {
      query.setArray(1, state.createArrayOf("text", ids.toArray()));
      try (ResultSet rs = query.executeQuery()) {
        while (rs.next()) {
          owners.put(rs.getString(1), rs.getString(2));
        }
      }
    }
    return owners;
  }

  /** The credentials that replaced {@code id}. */
  private static List<String> replacements(String id) throws SQLException {
    List<String> replacements = new ArrayList<>();
    try (Connection state = devStack.postgres().connect("credbroker");
        PreparedStatement query =
            state.prepareStatement("SELECT id::text FROM credential WHERE replaces = ?::uuid")) {
      query.setString(1, id);
      try (ResultSet rs = query.executeQuery()) {
        while (rs.next()) {
          replacements.add(rs.getString(1));
        }
      }
    }
    return replacements;
  }

  /** How the pods' credentials ended so far, by state and reason ({@code ACTIVE} for live ones). */
  private static Map<String, Long> endReasons(List<String> podNames) throws SQLException {
    Map<String, Long> reasons = new TreeMap<>();
    try (Connection state = devStack.postgres().connect("credbroker");
        PreparedStatement query =
            state.prepareStatement(
                "SELECT state || COALESCE('/' || end_reason, ''), count(*) FROM credential"
                    + " WHERE pod_name = ANY (?) GROUP BY 1")) {
      query.setArray(1, state.createArrayOf("text", podNames.toArray()));
      try (ResultSet rs = query.executeQuery()) {
        while (rs.next()) {
          reasons.put(rs.getString(1), rs.getLong(2));
        }
      }
    }
    return reasons;
  }

  /** Empty when the credential logs in, else why not. */
  private static Optional<String> logsIn(Credential credential) {
    try (Connection session =
        DriverManager.getConnection(
            credential.jdbcUrl(), credential.username(), credential.password())) {
      return session.isValid(2) ? Optional.empty() : Optional.of("session not valid");
    } catch (SQLException e) {
      return Optional.of(e.getSQLState() + " " + e.getMessage());
    }
  }

  private static int[] grpcPortsFrom(int first) {
    int[] ports = new int[replicas.length];
    for (int i = 0; i < ports.length; i++) {
      ports[i] = replicas[(first + i) % replicas.length].grpcPort;
    }
    return ports;
  }

  // ---- the pods ----

  /**
   * The scenario's pods and a watcher: every {@value #MONITOR_INTERVAL_MS} ms it checks that each
   * pod's current credential still has its role, and about every second that no live credential in
   * the state store has lost its role. Counts and first examples of everything that went wrong.
   */
  private static final class Workload implements AutoCloseable {
    private static final long MONITOR_INTERVAL_MS = 250;
    private static final Duration STATE_SAMPLE_INTERVAL = Duration.ofSeconds(1);

    private final List<Pod> pods;

    /** User name → pod, for roles dropped while they were what their pod logged in with. */
    private final Map<String, String> rolesGoneWhileInUse = new ConcurrentHashMap<>();

    private final List<Mark> marks = new CopyOnWriteArrayList<>();
    private final Map<String, String> liveWithoutRole = new ConcurrentHashMap<>();
    private final List<String> monitorErrors = new CopyOnWriteArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread monitor;

    private Workload(List<Pod> pods) {
      this.pods = pods;
      this.monitor = new Thread(this::watch, "token-turnover-monitor");
      monitor.setDaemon(true);
    }

    /** Starts {@code count} pods, each listing the replicas from another one first. */
    static Workload start(int count) throws Exception {
      List<Pod> pods = new ArrayList<>();
      try {
        for (int i = 0; i < count; i++) {
          pods.add(Pod.start(grpcPortsFrom(i % replicas.length)));
        }
        for (Pod pod : pods) {
          pod.awaitWorking();
        }
      } catch (Exception | AssertionError e) {
        for (Pod pod : pods) {
          pod.close();
        }
        throw e;
      }
      Workload workload = new Workload(pods);
      workload.monitor.start();
      return workload;
    }

    private void watch() {
      long lastStateSample = System.nanoTime() - STATE_SAMPLE_INTERVAL.toNanos();
      while (running.get()) {
        try (Connection admin = devStack.postgres().connect("db1");
            PreparedStatement role =
                admin.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
          while (running.get()) {
            for (Pod pod : pods) {
              Optional<Credential> current = pod.dataSource.currentCredential();
              if (current.isPresent() && !exists(role, current.get().username())) {
                // Gone, and still what the pod logs in with: not a rotation that just went by.
                Optional<Credential> still = pod.dataSource.currentCredential();
                if (still.isPresent()
                    && still.get().credentialId().equals(current.get().credentialId())) {
                  rolesGoneWhileInUse.putIfAbsent(current.get().username(), pod.name);
                }
              }
            }
            if (System.nanoTime() - lastStateSample >= STATE_SAMPLE_INTERVAL.toNanos()) {
              lastStateSample = System.nanoTime();
              liveWithoutRole.putAll(
                  OrphanCheck.liveCredentialsWithoutRole(devStack.postgres(), "db1", "credbroker"));
            }
            LockSupport.parkNanos(Duration.ofMillis(MONITOR_INTERVAL_MS).toNanos());
          }
        } catch (SQLException | RuntimeException e) {
          monitorErrors.add(e.toString());
          LockSupport.parkNanos(Duration.ofMillis(MONITOR_INTERVAL_MS).toNanos());
        }
      }
    }

    private static boolean exists(PreparedStatement role, String username) throws SQLException {
      role.setString(1, username);
      try (ResultSet rs = role.executeQuery()) {
        return rs.next();
      }
    }

    /** Waits until every pod has a stream with a credential on it (after replicas went away). */
    void awaitStreamsUp(Duration timeout) {
      await("every pod's stream up again")
          .atMost(timeout)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> pods.stream().allMatch(pod -> pod.events.streamUp.get()));
    }

    /** Waits until every pod has written more than a few rows again. */
    void awaitProgress(Duration timeout) {
      Map<Pod, Long> seen = new LinkedHashMap<>();
      pods.forEach(pod -> seen.put(pod, pod.queries.get()));
      await("every pod writing")
          .atMost(timeout)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> pods.stream().allMatch(pod -> pod.queries.get() > seen.get(pod) + 5));
    }

    /** Each pod's current credential, by credential ID. */
    Map<String, Credential> currentCredentials() {
      Map<String, Credential> current = new TreeMap<>();
      for (Pod pod : pods) {
        pod.dataSource.currentCredential().ifPresent(c -> current.put(c.credentialId(), c));
      }
      return current;
    }

    Set<String> acknowledged() {
      Set<String> acknowledged = ConcurrentHashMap.newKeySet();
      pods.forEach(pod -> acknowledged.addAll(pod.events.acknowledged));
      return acknowledged;
    }

    List<String> podNames() {
      return pods.stream().map(pod -> pod.name).toList();
    }

    long failedQueries() {
      return pods.stream().mapToLong(pod -> pod.failedQueries.get()).sum();
    }

    long terminatedSessions() {
      return pods.stream().mapToLong(pod -> pod.terminatedSessions.get()).sum();
    }

    Map<String, String> rolesGoneWhileInUse() {
      return Map.copyOf(rolesGoneWhileInUse);
    }

    /** A period of the scenario whose failed queries and terminated sessions the figures count. */
    void mark(String what, Instant from, Instant to) {
      marks.add(new Mark(what, from, to));
    }

    private record Mark(String what, Instant from, Instant to) {
      boolean covers(Instant when) {
        return !when.isBefore(from) && !when.isAfter(to);
      }
    }

    Map<String, String> liveWithoutRole() {
      return Map.copyOf(liveWithoutRole);
    }

    /** One line per pod, and the watcher's own troubles. */
    String figures() {
      StringBuilder figures = new StringBuilder();
      for (Pod pod : pods) {
        figures.append(
            String.format(
                "  %s: %d writes ok, %d failed %s, %d sessions held, %d terminated %s, users %d,"
                    + " resumed %d, rotations acknowledged %d, stream failures %s%n",
                pod.name,
                pod.queries.get(),
                pod.failedQueries.get(),
                pod.failures,
                pod.sessionsHeld.get(),
                pod.terminatedSessions.get(),
                pod.terminations,
                pod.users.size(),
                pod.events.resumed.get(),
                pod.events.acknowledged.size(),
                pod.events.streamFailures));
      }
      for (Mark mark : marks) {
        long failed =
            pods.stream().flatMap(pod -> pod.failureTimes.stream()).filter(mark::covers).count();
        long terminated =
            pods.stream()
                .flatMap(pod -> pod.terminationTimes.stream())
                .filter(mark::covers)
                .count();
        figures.append(
            String.format(
                "  %s: %d failed writes, %d terminated sessions%n",
                mark.what(), failed, terminated));
      }
      figures.append(
          String.format(
              "  roles dropped while in use %d %s; live credentials seen without their role %d %s%s%n",
              rolesGoneWhileInUse.size(),
              first(rolesGoneWhileInUse.keySet()),
              liveWithoutRole.size(),
              first(liveWithoutRole.values()),
              monitorErrors.isEmpty() ? "" : "; watcher errors " + first(monitorErrors)));
      return figures.toString();
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      monitor.join(Duration.ofSeconds(5).toMillis());
      for (Pod pod : pods) {
        pod.close();
      }
    }
  }

  /**
   * One application pod: its own service-account token, a {@link CredentialBrokerClient} against
   * the replicas in its own order, a {@link RotatingDataSource}, and a thread that every {@value
   * #QUERY_INTERVAL_MS} ms writes a row through the pool and checks the session it holds open. The
   * held session is exchanged for one of the new pool right after a rotation, as the pool drains;
   * any other end of it is a terminated session.
   */
  private static final class Pod implements AutoCloseable {
    private static final int EXAMPLES = 3;

    final String name;
    final PodEvents events = new PodEvents();
    final CredentialBrokerClient client;
    final RotatingDataSource dataSource;
    final AtomicLong queries = new AtomicLong();
    final AtomicLong failedQueries = new AtomicLong();
    final AtomicLong sessionsHeld = new AtomicLong();
    final AtomicLong terminatedSessions = new AtomicLong();
    final Set<String> failures = ConcurrentHashMap.newKeySet();
    final Set<String> terminations = ConcurrentHashMap.newKeySet();
    final List<Instant> failureTimes = new CopyOnWriteArrayList<>();
    final List<Instant> terminationTimes = new CopyOnWriteArrayList<>();
    final Set<String> users = ConcurrentHashMap.newKeySet();
    private final String table;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread loop;

    /** Written by the pod's own thread only; read by the test while it waits. */
    private volatile @Nullable Connection held;

    private @Nullable String heldUser;

    private Pod(String name, Path tokenFile, int[] ports) {
      this.name = name;
      this.table = name.replace('-', '_');
      this.client =
          CredentialBrokerClient.builder()
              .target(ReplicaListResolverProvider.target(ports))
              .trustedCertificates(devStack.caCertPath())
              .tokenFile(tokenFile)
              .eventListener(events)
              // The replicas beat every second; a replica gone without a word is left in seconds,
              // yet a replica slowed down by a busy build machine is not.
              .streamIdleTimeout(Duration.ofSeconds(15))
              .backoff(Duration.ofMillis(200), Duration.ofSeconds(2))
              .requestTimeout(Duration.ofSeconds(5))
              .build();
      HikariConfig pool = new HikariConfig();
      pool.setMaximumPoolSize(3);
      pool.setMinimumIdle(1);
      pool.setConnectionTimeout(5_000);
      this.dataSource =
          RotatingDataSource.builder(client, BrokerFixture.DATABASE_ROLE)
              .hikariConfig(pool)
              .initialCredentialTimeout(Duration.ofSeconds(30))
              .build();
      this.loop = new Thread(this::run, name + "-queries");
      loop.setDaemon(true);
    }

    static Pod start(int[] ports) throws IOException {
      String name = "turnover-" + podNumbers.incrementAndGet();
      kubernetes.createPod("public", name, "application");
      Path tokenFile = workDir.resolve("pods").resolve(name).resolve("token");
      Files.createDirectories(tokenFile.getParent());
      Files.writeString(
          tokenFile,
          kubernetes.issueToken(
              "public", "application", name, List.of(AUDIENCE), Duration.ofMinutes(30)));
      Pod pod = new Pod(name, tokenFile, ports);
      pod.loop.start();
      return pod;
    }

    /** Waits for the first credential and the first rows. */
    void awaitWorking() {
      await(name + " writing")
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> queries.get() > 5 && held != null);
    }

    private void run() {
      boolean tableReady = false;
      while (running.get()) {
        if (!tableReady) {
          tableReady = createTable();
        } else {
          write();
          checkHeldSession();
        }
        LockSupport.parkNanos(Duration.ofMillis(QUERY_INTERVAL_MS).toNanos());
      }
      closeHeld();
    }

    private boolean createTable() {
      try (Connection connection = dataSource.getConnection();
          Statement sql = connection.createStatement()) {
        sql.execute(
            "CREATE TABLE IF NOT EXISTS "
                + table
                + " (id bigserial PRIMARY KEY, username text NOT NULL,"
                + " at timestamptz NOT NULL DEFAULT now())");
        return true;
      } catch (SQLException e) {
        // No credential yet (the first one is on its way): not a failed query of the scenario.
        return false;
      }
    }

    private void write() {
      try (Connection connection = dataSource.getConnection();
          PreparedStatement insert =
              connection.prepareStatement(
                  "INSERT INTO "
                      + table
                      + " (username) VALUES (current_user) RETURNING username")) {
        try (ResultSet rs = insert.executeQuery()) {
          rs.next();
          users.add(rs.getString(1));
        }
        queries.incrementAndGet();
      } catch (SQLException | RuntimeException e) {
        failedQueries.incrementAndGet();
        failureTimes.add(Instant.now());
        example(failures, e);
      }
    }

    /**
     * Checks the held session; after a rotation returns it (the replaced pool is draining) and
     * holds one of the new pool instead.
     */
    private void checkHeldSession() {
      Connection session = held;
      if (session != null) {
        try (Statement sql = session.createStatement()) {
          sql.execute("SELECT 1");
        } catch (SQLException e) {
          terminatedSessions.incrementAndGet();
          terminationTimes.add(Instant.now());
          example(terminations, e);
          closeHeld();
        }
      }
      String current = dataSource.currentCredential().map(Credential::username).orElse(null);
      if (held != null && !Objects.equals(heldUser, current)) {
        closeHeld();
      }
      if (held == null && current != null) {
        try {
          Connection fresh = dataSource.getConnection();
          try (Statement sql = fresh.createStatement();
              ResultSet rs = sql.executeQuery("SELECT current_user")) {
            rs.next();
            heldUser = rs.getString(1);
          }
          held = fresh;
          sessionsHeld.incrementAndGet();
        } catch (SQLException | RuntimeException e) {
          failedQueries.incrementAndGet();
          failureTimes.add(Instant.now());
          example(failures, e);
        }
      }
    }

    private void closeHeld() {
      Connection session = held;
      held = null;
      heldUser = null;
      if (session != null) {
        try {
          session.close();
        } catch (SQLException ignored) {
          // Already broken; the pool discards it.
        }
      }
    }

    /** Keeps a few distinct messages. */
    private static void example(Set<String> examples, Exception e) {
      if (examples.size() < EXAMPLES) {
        String state = e instanceof SQLException sql ? sql.getSQLState() + " " : "";
        examples.add(state + e.getMessage());
      }
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      loop.join(Duration.ofSeconds(10).toMillis());
      // Releases the credential at the broker, then closes the pools.
      dataSource.close();
      client.close();
    }
  }

  /** What a pod's client reported, as a metrics listener would see it. */
  private static final class PodEvents implements ClientEventListener {
    final AtomicBoolean streamUp = new AtomicBoolean();
    final AtomicInteger resumed = new AtomicInteger();
    final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    final List<String> streamFailures = new CopyOnWriteArrayList<>();

    @Override
    public void streamFailed(String databaseRole, Status.Code code, @Nullable String reason) {
      streamUp.set(false);
      streamFailures.add(code + (reason == null ? "" : "/" + reason));
    }

    @Override
    public void credentialReceived(
        String databaseRole, String credentialId, CredentialSource source) {
      streamUp.set(true);
      if (source == CredentialSource.RESUMED) {
        resumed.incrementAndGet();
      }
    }

    @Override
    public void credentialRenewed(
        String databaseRole, String credentialId, @Nullable Instant expireTime) {
      streamUp.set(true);
    }

    @Override
    public void rotationAcknowledged(String databaseRole, String credentialId) {
      acknowledged.add(credentialId);
    }
  }
}
