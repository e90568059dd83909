package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.api.v1.AcknowledgeRotationRequest;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.FaultInvariants.Check;
import io.credbroker.client.Credential;
import io.credbroker.devstack.http.HttpResponse;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults and abuse against a running system (see {@link FaultStand}: three broker replicas from the
 * packaged jar, the dev-stack, real PostgreSQL, and applications querying through the client SDK
 * the whole time), one scenario per test, in order, and the same invariants after every one (see
 * {@link FaultInvariants}). Each scenario says what the broker does, and what was seen, in a table
 * written to {@code target/fault-suite.md}; {@code docs/fault-suite.md} is a copy of it (the
 * command is in that file).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@DisabledIfSystemProperty(
    named = "credbroker.fault-suite",
    matches = "false",
    disabledReason = "-Dcredbroker.fault-suite=false skips it (it takes about 8 minutes)")
class FaultSuiteIT {

  /**
   * How long a fault of Vault, Kubernetes or the target database lasts: longer than the stale
   * timeout, shorter than the part of a lease's TTL left after its renewal is due (a longer Vault
   * outage lets Vault expire leases, which no broker can prevent).
   */
  private static final Duration OUTAGE = Duration.ofSeconds(6);

  /**
   * After a fault of Vault: a renewal queued behind it, the replacement of a credential whose
   * rotation came due meanwhile, the client's switch and its old pool's drain.
   */
  private static final Duration RECOVERY = Duration.ofSeconds(12);

  /** The state database's outage: longer than a renewal interval, shorter than the TTL. */
  private static final Duration STATE_DATABASE_OUTAGE = FaultStand.RENEWAL_INTERVAL.plusSeconds(2);

  private static final int JUNK_TOKENS = 3_000;
  private static final Duration SETTLE = Duration.ofSeconds(45);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir static Path workDir;
  private static FaultStand stand;
  private static final List<Row> rows = new ArrayList<>();
  private static final Map<String, Long> logOffsets = new LinkedHashMap<>();

  /** Invariants of the running scenario's own, reported with the common ones in its row. */
  private static final List<Check> scenarioChecks = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    Path logDir = Path.of("target", "replicas", FaultSuiteIT.class.getSimpleName());
    if (Files.isDirectory(logDir)) {
      try (var old = Files.list(logDir)) {
        for (Path file : old.toList()) {
          Files.delete(file);
        }
      }
    }
    stand = FaultStand.start(workDir, logDir);
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (stand != null) {
        rows.add(
            new Row(
                "whole run: every log from its first line",
                "",
                "",
                List.of(FaultInvariants.noSecretsInLogs(stand, new java.util.HashMap<>()))));
        writeReport();
      }
    } finally {
      if (stand != null) {
        stand.close();
      }
    }
  }

  // ---- faults ----

  @Test
  @Order(1)
  void replicaKilledUnderLoad() throws Exception {
    scenario(
        "replica killed (kill -9) under load",
        "The replica's streams break (UNAVAILABLE); each client resumes on another replica with"
            + " its credential ID and keeps its PostgreSQL user (no new role). The survivors claim"
            + " the dead replica's leases once its heartbeat is older than stale-after and renew"
            + " them. A replacement pod joins on the same Service.",
        () -> {
          String before = owners();
          stand.killAndReplace(0);
          Thread.sleep(FaultStand.STALE_AFTER.plusSeconds(2).toMillis());
          return "live credentials by owner before: " + before + ", after: " + owners();
        });
  }

  @Test
  @Order(2)
  void replicaFrozenPastTheStaleTimeoutThenResumed() throws Exception {
    scenario(
        "replica frozen (SIGSTOP) for longer than stale-after, then resumed",
        "The others claim its credentials once its heartbeat is older than stale-after, and revoke"
            + " any not resumed within reconnect-grace of the claim. Its clients must resume"
            + " elsewhere before that: the SDK's stream idle timeout (3 s here) ends the silent"
            + " stream and drops its connection. The stopped replica's readiness probe times out"
            + " (the kernel accepts, nothing answers), so the Service takes it out after two"
            + " failed probes (1 s apart, 1 s timeout), by about stale-after, and sends each new"
            + " connection to a ready replica, where the client resumes its credential (a"
            + " connection that still reached the stopped replica hangs in its TLS handshake until"
            + " the next idle timeout, and the one after it goes elsewhere). Resumed, the replica"
            + " is fenced: what it had decided for credentials now claimed (renewals, revocations)"
            + " is refused before it reaches Vault, their streams end with UNAVAILABLE, it closes"
            + " its gRPC port until its heartbeat is written, and it registers again; its probe"
            + " passes and the Service sends it new connections again.",
        () -> {
          FaultStand.Replica frozen = stand.replicas.get(1);
          Duration frozenFor =
              FaultStand.STALE_AFTER.plus(FaultStand.RECONNECT_GRACE).plusSeconds(2);
          long frozenAt = System.nanoTime();
          frozen.process.freeze();
          String service;
          try {
            service = inAndOutOfTheService(frozen, frozenAt, frozenFor);
          } finally {
            frozen.process.thaw();
          }
          service += backInTheService(System.nanoTime());
          Thread.sleep(5_000);
          return service + "; live credentials by owner after resume: " + owners();
        });
  }

  @Test
  @Order(3)
  void stateDatabaseUnreachable() throws Exception {
    scenario(
        "the broker's state database unreachable (partition) for "
            + STATE_DATABASE_OUTAGE.toSeconds()
            + " s, longer than a renewal interval",
        "A replica that has not written its heartbeat for self-fence-after (1.5 s here, half of"
            + " stale-after) ends its streams and refuses new calls at once with UNAVAILABLE"
            + " (STATE_STORE_UNAVAILABLE, with a retry delay); after stale-after it closes its"
            + " gRPC port (a new connection is refused: UNAVAILABLE). From the fence on it renews"
            + " in Vault, from memory and at their renewal times, the leases it renewed when it"
            + " lost the database, and does nothing else (no revocation, rotation or write), so no"
            + " lease runs out however long the partition: the applications keep their credentials"
            + " and roles meanwhile. When the database is back, the replicas open their ports and"
            + " register again; the first look at each credential records what Vault granted"
            + " meanwhile (a replica that claimed one whose recorded expiry passed asks Vault"
            + " before it revokes it), and the schedule takes over; the streams the fence ended"
            + " count their reconnect grace from then, and their clients must resume within it.",
        () -> {
          long fencedBefore = fencedLines(0);
          String observed;
          stand.replicas.forEach(r -> r.stateDb.blackhole());
          try {
            // A new stream once the replica knows it cannot reach its state database.
            org.awaitility.Awaitility.await("replica-a fencing itself")
                .atMost(FaultStand.STALE_AFTER.multipliedBy(5))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> fencedLines(0) > fencedBefore);
            observed =
                "new stream once fenced: "
                    + probeDuring(0, STATE_DATABASE_OUTAGE.minus(FaultStand.STALE_AFTER));
          } finally {
            stand.replicas.forEach(r -> r.stateDb.pass());
          }
          // The credentials claimed when the database came back are revoked if their clients do
          // not resume within the reconnect grace: that belongs to this scenario, and the next
          // one must not begin while clients are still moving.
          Thread.sleep(FaultStand.RECONNECT_GRACE.plusSeconds(1).toMillis());
          return observed;
        });
  }

  /**
   * Lets a fault that began at {@code since} ({@link System#nanoTime}) on {@code replica} last
   * {@code lasting}, and says when the Service took the replica out meanwhile, if it did.
   */
  private static String inAndOutOfTheService(
      FaultStand.Replica replica, long since, Duration lasting) throws InterruptedException {
    long end = since + lasting.toNanos();
    String seen = replica.id + " stayed in the Service";
    while (System.nanoTime() < end) {
      if (!stand.service.readyEndpoints().contains(replica.id)) {
        seen =
            String.format(
                "%s out of the Service %.1f s after the fault began",
                replica.id, (System.nanoTime() - since) / 1e9);
        break;
      }
      Thread.sleep(50);
    }
    long left = end - System.nanoTime();
    if (left > 0) {
      TimeUnit.NANOSECONDS.sleep(left);
    }
    return seen;
  }

  /** Waits until every replica is in the Service again; says how long after {@code since}. */
  private static String backInTheService(long since) {
    stand.awaitEveryReplicaInTheService();
    return String.format(
        ", every replica in it again %.1f s after the fault ended",
        (System.nanoTime() - since) / 1e9);
  }

  /** How often replica {@code index} logged so far that it fenced itself. */
  private static long fencedLines(int index) throws java.io.IOException {
    try (var lines =
        Files.lines(stand.replicas.get(index).process.log, StandardCharsets.ISO_8859_1)) {
      return lines
          .filter(line -> line.contains("ending its streams and refusing new calls"))
          .count();
    }
  }

  @Test
  @Order(4)
  void targetDatabaseUnreachableForVault() throws Exception {
    scenario(
        "the target database unreachable for Vault (it cannot create or drop roles) for "
            + OUTAGE.toSeconds()
            + " s",
        "Existing roles keep working and are renewed; a new credential cannot be created and the"
            + " caller gets UNAVAILABLE; a drop that failed is retried until the role is gone.",
        () -> {
          return duringFault(
              () -> stand.vaultToTarget.reset(), () -> stand.vaultToTarget.pass(), 1, OUTAGE);
        });
  }

  @Test
  @Order(5)
  void vaultSlowerThanTheReadTimeout() throws Exception {
    scenario(
        "Vault slow: every answer after "
            + FaultStand.VAULT_READ_TIMEOUT.plusSeconds(1).toMillis()
            + " ms, past the broker's read timeout ("
            + FaultStand.VAULT_READ_TIMEOUT.toMillis()
            + " ms)",
        "Each Vault call fails at the read timeout and is counted by the circuit breaker;"
            + " renewals are retried, a new credential gets UNAVAILABLE with a retry delay.",
        () -> {
          return duringFault(
              () ->
                  stand.devStack.vaultFaults().delay(FaultStand.VAULT_READ_TIMEOUT.plusSeconds(1)),
              () -> stand.devStack.vaultFaults().clear(),
              2,
              OUTAGE);
        });
  }

  @Test
  @Order(6)
  void vaultDown() throws Exception {
    scenario(
        "Vault down (port closed) for " + OUTAGE.toSeconds() + " s",
        "Renewals fail and are retried with backoff while the leases have time left; a new"
            + " credential gets UNAVAILABLE. Back up, renewals resume; no role was dropped early.",
        () -> {
          return duringFault(
              () -> stand.devStack.stopVault(), () -> stand.devStack.startVault(), 0, OUTAGE);
        });
  }

  @Test
  @Order(7)
  void vaultAnswers503() throws Exception {
    scenario(
        "Vault answers 503 (sealed) for " + OUTAGE.toSeconds() + " s",
        "Treated as Vault down: retried, UNAVAILABLE for new credentials.",
        () -> vaultAnswers(HttpResponse.json(503, Map.of("errors", List.of("Vault is sealed")))));
  }

  @Test
  @Order(8)
  void vaultAnswers403() throws Exception {
    scenario(
        "Vault answers 403 (permission denied) for " + OUTAGE.toSeconds() + " s",
        "A 403 on renewal is taken as the broker's token gone: it logs in again and retries;"
            + " never taken as the lease refused, so no credential is given up.",
        () -> vaultAnswers(HttpResponse.json(403, Map.of("errors", List.of("permission denied")))));
  }

  @Test
  @Order(9)
  void kubernetesApiDown() throws Exception {
    scenario(
        "the Kubernetes API down (connections reset) for " + OUTAGE.toSeconds() + " s",
        "New streams of pods not reviewed recently are refused with UNAVAILABLE (retry);"
            + " existing streams go on; no credential is revoked for a pod the broker cannot see.",
        () -> {
          return duringFault(
              () -> stand.replicas.forEach(r -> r.kubernetes.reset()),
              () -> stand.replicas.forEach(r -> r.kubernetes.pass()),
              1,
              OUTAGE);
        });
  }

  @Test
  @Order(10)
  void kubernetesApiSlow() throws Exception {
    scenario(
        "the Kubernetes API slow: every answer after 3 s, for " + OUTAGE.toSeconds() + " s",
        "A new stream waits for its TokenReview and is served late; existing streams go on.",
        () -> {
          return duringFault(
              () -> stand.devStack.kubernetes().faults().delay(Duration.ofSeconds(3)),
              () -> stand.devStack.kubernetes().faults().clear(),
              2,
              OUTAGE);
        });
  }

  @Test
  @Order(11)
  void kubernetesApiAnswers429() throws Exception {
    scenario(
        "the Kubernetes API answers 429 (API Priority and Fairness) for "
            + OUTAGE.toSeconds()
            + " s",
        "A new stream whose TokenReview is throttled gets UNAVAILABLE with a retry delay;"
            + " existing streams go on.",
        () ->
            duringFault(
                () -> stand.devStack.kubernetes().faults().respond(TOO_MANY_REQUESTS),
                () -> stand.devStack.kubernetes().faults().clear(),
                0,
                OUTAGE));
  }

  /** What API Priority and Fairness answers a request over its flow's share. */
  private static final HttpResponse TOO_MANY_REQUESTS =
      HttpResponse.json(
              429,
              Map.of(
                  "kind", "Status",
                  "apiVersion", "v1",
                  "metadata", Map.of(),
                  "status", "Failure",
                  "message", "Too many requests, please try again later.",
                  "reason", "TooManyRequests",
                  "details", Map.of("retryAfterSeconds", 1),
                  "code", 429))
          .withHeader("Retry-After", "1");

  @Test
  @Order(12)
  void networkCutBetweenOneReplicaAndEverythingElse() throws Exception {
    FaultStand.Replica cut = stand.replicas.get(2);
    scenario(
        "the network between one replica and its state database, Vault and Kubernetes cut for "
            + FaultStand.STALE_AFTER.multipliedBy(3).toSeconds()
            + " s, its clients still connected to it",
        "The cut replica cannot write its heartbeat: after self-fence-after (1.5 s here, half of"
            + " stale-after) it ends its streams and refuses new calls with UNAVAILABLE"
            + " (STATE_STORE_UNAVAILABLE, with a retry delay); after stale-after, when the others"
            + " claim its credentials, it closes its gRPC port. Its readiness probe, whose group"
            + " includes the state database, times out meanwhile, so the Service takes it out"
            + " after two failed probes and sends its clients' new connections to another replica,"
            + " where they resume their credentials within reconnect-grace. Back on the network,"
            + " it writes its heartbeat, opens its port and registers again, and the Service sends"
            + " it new connections again; what it had decided meanwhile for credentials now"
            + " claimed is refused (fencing).",
        () -> {
          Duration cutFor = FaultStand.STALE_AFTER.multipliedBy(3);
          long cutAt = System.nanoTime();
          cut.cutOff();
          String service;
          try {
            service = inAndOutOfTheService(cut, cutAt, cutFor);
          } finally {
            cut.reconnect();
          }
          service += backInTheService(System.nanoTime());
          Thread.sleep(5_000);
          return service + "; live credentials by owner afterwards: " + owners();
        });
  }

  /** How far the skewed replicas' clocks are from the machine's and the state database's. */
  private static final Duration SKEW = Duration.ofSeconds(4);

  @Test
  @Order(13)
  void clockSkewBetweenReplicas() throws Exception {
    String fault =
        "clock skew: one replica "
            + SKEW.toSeconds()
            + " s ahead, one "
            + SKEW.toSeconds()
            + " s behind (libfaketime), under load and when the unskewed one is killed";
    String behaviour =
        "Heartbeats and the stale test use the state database's clock (now()), so no replica"
            + " presumes another dead early. Every replica reads time from the state database"
            + " too: each heartbeat corrects its clock to the database's clock_timestamp(), so the"
            + " renewals, expiries and graces it times against rows other replicas wrote (a"
            + " claim's detached_time, revoke_after) end on time whatever its host's clock says;"
            + " a claimer ahead keeps the whole reconnect grace.";
    java.util.Optional<Path> libfaketime = FaultStand.libfaketime();
    if (libfaketime.isEmpty()) {
      rows.add(
          new Row(
              fault,
              behaviour,
              "skipped: libfaketime is not installed (Debian's faketime package; .ci/run installs"
                  + " it)",
              List.of()));
      org.junit.jupiter.api.Assumptions.abort(
          "libfaketime is not installed (apt-get install faketime)");
    }
    scenario(
        fault,
        behaviour,
        () -> {
          stand.restart(0, FaultStand.skewedClock(libfaketime.get(), SKEW));
          stand.restart(1, FaultStand.skewedClock(libfaketime.get(), SKEW.negated()));
          List<String> offsets = new ArrayList<>();
          for (int replica = 0; replica < 3; replica++) {
            Duration host = hostClockOffset(replica);
            Duration broker = clockOffset(replica);
            offsets.add(
                stand.replicas.get(replica).process.replicaId
                    + String.format(
                        " host %+.1f s, broker %+.1f s",
                        host.toMillis() / 1000.0, broker.toMillis() / 1000.0));
            Duration expected = replica == 0 ? SKEW : replica == 1 ? SKEW.negated() : Duration.ZERO;
            assertThat(host.minus(expected).abs())
                .as("host clock of replica %d (the skew is in place)", replica)
                .isLessThan(Duration.ofMillis(1500));
            assertThat(broker.abs())
                .as("the broker's clock of replica %d follows the state database's", replica)
                .isLessThan(Duration.ofMillis(1000));
          }
          // Every application's lease renewed at least once under skewed clocks.
          Thread.sleep(FaultStand.RENEWAL_INTERVAL.toMillis());
          String grace = graceOfClaimedCredentials(2, 6);
          return "clocks: " + offsets + "; " + grace;
        });
  }

  /**
   * How far replica {@code replica}'s host clock (libfaketime's) is from this machine's: the {@code
   * Date} header of its actuator's answer, written by the servlet container from the process's own
   * clock, to the second (so half a second is added back).
   */
  private static Duration hostClockOffset(int replica) throws Exception {
    java.net.http.HttpResponse<Void> answer =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        stand.replicas.get(replica).process.managementUri("/actuator/health"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
    Instant arrived = Instant.now();
    Instant stamped =
        ZonedDateTime.parse(
                answer.headers().firstValue("Date").orElseThrow(),
                DateTimeFormatter.RFC_1123_DATE_TIME)
            .toInstant()
            .plusMillis(500);
    return Duration.between(arrived, stamped);
  }

  /**
   * How far replica {@code replica}'s broker clock is from this machine's: the event time of a new
   * pod's first event there (stamped as it is sent), against its arrival here (a few milliseconds
   * later).
   */
  private static Duration clockOffset(int replica) throws Exception {
    String token = stand.podToken(stand.newPod());
    Context.CancellableContext context = Context.current().withCancellation();
    try {
      return context.call(
          () -> {
            CredentialEvent first =
                stub(replica, token)
                    .withDeadlineAfter(20, TimeUnit.SECONDS)
                    .watchCredential(
                        WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build())
                    .next();
            long arrived = System.currentTimeMillis();
            com.google.protobuf.Timestamp stamped = first.getEventTime();
            return Duration.ofMillis(
                stamped.getSeconds() * 1000 + stamped.getNanos() / 1_000_000 - arrived);
          });
    } finally {
      context.cancel(null);
    }
  }

  /**
   * Opens {@code probes} streams on replica {@code victim} that will never resume, kills it, and
   * measures, by the state database's clock, how long after the claim each credential was revoked
   * as abandoned, by claimer. The reconnect grace promises a client at least that long to resume;
   * adds the check that every claimer kept it.
   */
  private static String graceOfClaimedCredentials(int victim, int probes) throws Exception {
    List<Context.CancellableContext> streams = new ArrayList<>();
    List<String> pods = new ArrayList<>();
    try {
      for (int i = 0; i < probes; i++) {
        String pod = stand.newPod();
        pods.add(pod);
        String token = stand.podToken(pod);
        Context.CancellableContext context = Context.current().withCancellation();
        streams.add(context);
        context.call(
            () ->
                stub(victim, token)
                    .withDeadlineAfter(10, TimeUnit.MINUTES)
                    .watchCredential(
                        WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build())
                    .next());
      }
      String[] podNames = pods.toArray(String[]::new);
      stand.killAndReplace(victim);
      org.awaitility.Awaitility.await("revocation of the killed replica's abandoned credentials")
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () ->
                  stand.stateCount(
                          "SELECT count(*) FROM credential WHERE pod_name = ANY (?)"
                              + " AND state = 'ACTIVE'",
                          (Object) podNames)
                      == 0);
      Map<String, List<Double>> graceByClaimer = new java.util.TreeMap<>();
      List<String> tooEarly = new ArrayList<>();
      try (var state = stand.stateDatabase();
          var query =
              state.prepareStatement(
                  "SELECT owner_replica, end_reason,"
                      + " EXTRACT(EPOCH FROM updated_time - detached_time),"
                      + " EXTRACT(EPOCH FROM end_time - updated_time)"
                      + " FROM credential WHERE pod_name = ANY (?)")) {
        query.setObject(1, podNames);
        try (var rs = query.executeQuery()) {
          while (rs.next()) {
            String claimer = rs.getString(1);
            double grace = rs.getDouble(3);
            graceByClaimer
                .computeIfAbsent(
                    claimer
                        + String.format(" (its clock %+.0f s)", rs.getDouble(4))
                        + " "
                        + rs.getString(2),
                    k -> new ArrayList<>())
                .add(Math.round(grace * 10) / 10.0);
            if (grace < FaultStand.RECONNECT_GRACE.toMillis() / 1000.0 - 0.25) {
              tooEarly.add(claimer + String.format(" revoked after %.1f s", grace));
            }
          }
        }
      }
      String observed =
          "credentials abandoned on the killed replica, seconds from claim to revocation by the"
              + " database's clock, by claimer: "
              + graceByClaimer;
      scenarioChecks.add(
          tooEarly.isEmpty()
              ? Check.held("every claimer kept the reconnect grace", observed)
              : Check.broken(
                  "every claimer kept the reconnect grace",
                  tooEarly.size()
                      + " of "
                      + probes
                      + " revoked less than "
                      + FaultStand.RECONNECT_GRACE.toSeconds()
                      + " s after the claim: "
                      + tooEarly));
      return observed;
    } finally {
      streams.forEach(c -> c.cancel(null));
    }
  }

  /** Renewals Vault refused as the broker counted them, over every running replica. */
  private static double renewalsRefused() throws Exception {
    double total = 0;
    HttpClient http = HttpClient.newHttpClient();
    for (FaultStand.Replica replica : stand.replicas) {
      String metrics =
          http.send(
                  HttpRequest.newBuilder(replica.process.managementUri("/actuator/prometheus"))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString())
              .body();
      for (String line : metrics.split("\n")) {
        if (line.startsWith("credbroker_lease_renewals_total{")
            && line.contains("outcome=\"refused\"")) {
          total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
    }
    return total;
  }

  /**
   * Runs {@code fault} and adds the check that no replica took any renewal answer during it for
   * Vault refusing the lease (which would end or rotate the credential).
   */
  private static String noLeaseGivenUp(Fault fault) throws Exception {
    double refusedBefore = renewalsRefused();
    String observed = fault.inject();
    double refused = renewalsRefused() - refusedBefore;
    String name = "no lease given up (0 renewals taken as refused)";
    scenarioChecks.add(
        refused == 0
            ? Check.held(name, "")
            : Check.broken(name, (long) refused + " renewals taken as refused"));
    return observed + "; renewals taken as refused: " + (long) refused;
  }

  private static HttpResponse vaultError(int status, String error) {
    return HttpResponse.json(status, Map.of("errors", List.of(error)));
  }

  @Test
  @Order(14)
  void vaultAnswersRenewalsWithABackendFailure() throws Exception {
    scenario(
        "Vault answers every renewal 400 \"failed to renew entry\" (its database backend failed)"
            + " for "
            + OUTAGE.toSeconds()
            + " s",
        "Vault wraps a backend failure in a 400 and leaves the lease as it was: not a refusal of"
            + " the lease. Renewals are retried with backoff, the credential kept; only a 400 that"
            + " refuses the lease itself (lease not found, expired, irrevocable, not renewable)"
            + " rotates a held credential.",
        () ->
            noLeaseGivenUp(
                () ->
                    duringFault(
                        () ->
                            stand
                                .devStack
                                .vaultFaults()
                                .respond(
                                    r -> r.path().endsWith("sys/leases/renew"),
                                    vaultError(
                                        400,
                                        "failed to renew entry: resp: (*logical.Response)(nil)"
                                            + " err: dial tcp 10.0.0.7:5432: connect: connection"
                                            + " refused")),
                        () -> stand.devStack.vaultFaults().clear(),
                        0,
                        OUTAGE)));
  }

  @Test
  @Order(15)
  void vaultAnswers404() throws Exception {
    scenario(
        "Vault answers 404 (no handler for route, as a missing mount or a misrouted proxy) for "
            + OUTAGE.toSeconds()
            + " s",
        "A 404 says nothing about a lease: renewals are retried later, no credential is given up;"
            + " a new credential is refused (VAULT_REJECTED: the configuration is wrong).",
        () ->
            noLeaseGivenUp(
                () ->
                    vaultAnswers(
                        vaultError(
                            404,
                            "no handler for route \"sys/leases/renew\". route entry not found."))));
  }

  @Test
  @Order(16)
  void vaultAnswers429() throws Exception {
    scenario(
        "Vault answers 429 (rate limit quota exceeded) for " + OUTAGE.toSeconds() + " s",
        "Treated as Vault unhealthy: counted by the circuit breaker, which opens, so the replicas"
            + " send Vault a few requests a second rather than a retry storm; renewals are retried"
            + " later, no credential is given up, a new credential gets UNAVAILABLE.",
        () ->
            noLeaseGivenUp(
                () -> {
                  long before = stand.devStack.vaultFaults().injected();
                  long start = System.nanoTime();
                  String observed =
                      vaultAnswers(
                          vaultError(
                                  429,
                                  "request path \"sys/leases/renew\": rate limit quota exceeded")
                              .withHeader("Retry-After", "1"));
                  double seconds = (System.nanoTime() - start) / 1e9;
                  long requests = stand.devStack.vaultFaults().injected() - before;
                  // The circuit breaker opens after 5 calls and lets 3 through per second (its
                  // wait in open state here is 1 s); renewals add up to 3 attempts each.
                  long bound = (long) Math.ceil(10 * stand.replicas.size() * seconds);
                  scenarioChecks.add(
                      requests <= bound
                          ? Check.held("no retry storm", "")
                          : Check.broken(
                              "no retry storm",
                              requests + " Vault requests in " + Math.round(seconds) + " s"));
                  return observed
                      + String.format(
                          "; %d Vault requests in %.1f s (bound: 10/s per replica, %d)",
                          requests, seconds, bound);
                }));
  }

  @Test
  @Order(17)
  void vaultRefusesOneLease() throws Exception {
    scenario(
        "Vault answers one application's renewals 400 \"lease not found\" (the lease revoked in"
            + " Vault behind the broker's back)",
        "A refusal of the lease itself: the credential cannot be renewed, so the broker rotates"
            + " it on its stream (a new role, handed over before the old one runs out); the"
            + " application moves to the new role without a failed query.",
        () -> {
          FaultStand.Application application = stand.applications.get(4);
          // A credential its owner will renew next, not one being replaced (no renewal comes for
          // that, and the application may still hold it for a moment after a rotation) nor one so
          // near its max TTL that its next look is a rotation.
          java.util.concurrent.atomic.AtomicReference<Credential> renewed =
              new java.util.concurrent.atomic.AtomicReference<>();
          org.awaitility.Awaitility.await(application.pod + " holding a credential to be renewed")
              .atMost(FaultStand.CREDENTIAL_MAX_TTL)
              .pollInterval(Duration.ofMillis(200))
              .until(
                  () -> {
                    Credential current = application.dataSource.currentCredential().orElse(null);
                    if (current != null
                        && stand.stateCount(
                                "SELECT count(*) FROM credential WHERE id = ?::uuid"
                                    + " AND state = 'ACTIVE' AND revoke_after IS NULL"
                                    + " AND renewal_due_time IS NOT NULL"
                                    + " AND max_expire_time > now() + ?::interval",
                                current.credentialId(),
                                FaultStand.CREDENTIAL_TTL.multipliedBy(2).toSeconds() + " seconds")
                            == 1) {
                      renewed.set(current);
                      return true;
                    }
                    return false;
                  });
          Credential credential = renewed.get();
          String leaseId;
          try (var state = stand.stateDatabase();
              var query =
                  state.prepareStatement("SELECT lease_id FROM credential WHERE id = ?::uuid")) {
            query.setString(1, credential.credentialId());
            try (var rs = query.executeQuery()) {
              rs.next();
              leaseId = rs.getString(1);
            }
          }
          long before = stand.devStack.vaultFaults().injected();
          stand
              .devStack
              .vaultFaults()
              .respond(
                  r -> r.path().endsWith("sys/leases/renew") && r.bodyText().contains(leaseId),
                  vaultError(400, "lease not found"));
          try {
            org.awaitility.Awaitility.await("a renewal of " + application.pod + "'s lease")
                .atMost(FaultStand.CREDENTIAL_TTL.plusSeconds(15))
                .until(() -> stand.devStack.vaultFaults().injected() > before);
          } finally {
            stand.devStack.vaultFaults().clear();
          }
          org.awaitility.Awaitility.await(application.pod + " on a new credential")
              .atMost(Duration.ofSeconds(30))
              .until(
                  () ->
                      application
                          .dataSource
                          .currentCredential()
                          .map(c -> !c.credentialId().equals(credential.credentialId()))
                          .orElse(false));
          return "refused renewals: "
              + (stand.devStack.vaultFaults().injected() - before)
              + "; "
              + application.pod
              + " moved from "
              + credential.username()
              + " to "
              + application.dataSource.currentCredential().orElseThrow().username();
        });
  }

  // ---- abuse ----

  @Test
  @Order(20)
  void invalidTokensAreRefusedAndChangeNothing() throws Exception {
    scenario(
        "forged, expired, wrong-audience, alg none, JWE-shaped, deleted-pod and unbound tokens",
        "UNAUTHENTICATED for every one (PERMISSION_DENIED where the token is genuine but the pod"
            + " is gone); no credential, no role.",
        () -> {
          String victim = stand.applications.get(0).token;
          String[] parts = victim.split("\\.");
          String deletedPod = stand.newPod();
          String deletedPodToken = stand.podToken(deletedPod);
          stand.devStack.kubernetes().deletePod("public", deletedPod);
          Map<String, String> tokens = new LinkedHashMap<>();
          tokens.put(
              "forged (signature of another key)", parts[0] + "." + parts[1] + "." + b64("forged"));
          tokens.put("expired", expiredToken());
          tokens.put(
              "wrong audience", applicationToken(stand.applications.get(0).pod, List.of("vault")));
          tokens.put("alg none", b64("{\"alg\":\"none\"}") + "." + parts[1] + ".");
          tokens.put(
              "JWE-shaped",
              b64("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}") + ".a2V5.aXY.Y2lwaGVydGV4dA.dGFn");
          tokens.put("deleted pod", deletedPodToken);
          tokens.put("unbound (no pod)", applicationToken(null, List.of("credbroker")));
          long credentialsBefore = credentialsOfOtherPods();
          List<String> outcomes = new ArrayList<>();
          for (Map.Entry<String, String> token : tokens.entrySet()) {
            String outcome =
                issueOutcome(
                    token.getValue(),
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build());
            outcomes.add(token.getKey() + ": " + outcome);
            assertThat(outcome)
                .as(token.getKey())
                .matches("(UNAUTHENTICATED|PERMISSION_DENIED)/.*");
          }
          assertThat(credentialsOfOtherPods()).isEqualTo(credentialsBefore);
          assertThat(
                  stand.stateCount(
                      "SELECT count(*) FROM credential WHERE pod_name = ?", deletedPod))
              .isZero();
          return String.join("; ", outcomes);
        });
  }

  @Test
  @Order(21)
  void anotherPodsCredentialIdsCannotBeResumedAcknowledgedOrReleased() throws Exception {
    scenario(
        "resume, acknowledge and release of another pod's credential IDs",
        "Refused: a resume with PERMISSION_DENIED, an acknowledge or release with NOT_FOUND; the"
            + " victim's credential stays live, owned and renewed as before.",
        () -> {
          FaultStand.Application victim = stand.applications.get(1);
          Credential credential = victim.dataSource.currentCredential().orElseThrow();
          String attackerPod = stand.newPod();
          String attacker = stand.podToken(attackerPod);
          String id = credential.credentialId();
          List<String> outcomes = new ArrayList<>();
          outcomes.add(
              "resume: "
                  + streamOutcome(
                      0,
                      attacker,
                      WatchCredentialRequest.newBuilder()
                          .setDatabaseRole("db1")
                          .setResumeCredentialId(id)
                          .build()));
          outcomes.add(
              "acknowledge: "
                  + unaryOutcome(
                      () ->
                          stub(0, attacker)
                              .acknowledgeRotation(
                                  AcknowledgeRotationRequest.newBuilder()
                                      .setCredentialId(id)
                                      .build())));
          outcomes.add(
              "release: "
                  + unaryOutcome(
                      () ->
                          stub(0, attacker)
                              .releaseCredential(
                                  ReleaseCredentialRequest.newBuilder()
                                      .setCredentialId(id)
                                      .build())));
          for (String outcome : outcomes) {
            assertThat(outcome)
                .doesNotContain("OK")
                .doesNotContain("issued")
                .doesNotContain("resumed");
          }
          assertThat(
                  stand.stateCount(
                      "SELECT count(*) FROM credential WHERE id = ?::uuid AND state = 'ACTIVE'",
                      id))
              .isOne();
          assertThat(
                  stand.stateCount(
                      "SELECT count(*) FROM credential WHERE pod_name = ? AND state = 'ACTIVE'",
                      attackerPod))
              .isZero();
          return String.join("; ", outcomes);
        });
  }

  @Test
  @Order(22)
  void extremeAndNegativeRequestedTtls() throws Exception {
    scenario(
        "extreme and negative requested_ttl",
        "A negative or zero TTL is INVALID_ARGUMENT; a huge one is accepted and capped at Vault's"
            + " max_ttl. Nothing else changes.",
        () -> {
          String pod = stand.newPod();
          String token = stand.podToken(pod);
          List<String> outcomes = new ArrayList<>();
          for (long seconds : new long[] {-5, 0, 315_576_000_000L}) {
            outcomes.add(
                seconds
                    + " s: "
                    + issueOutcome(
                        token,
                        IssueCredentialRequest.newBuilder()
                            .setDatabaseRole("db1")
                            .setRequestedTtl(
                                com.google.protobuf.Duration.newBuilder().setSeconds(seconds))
                            .build()));
          }
          assertThat(outcomes.get(0)).contains("INVALID_ARGUMENT");
          return String.join("; ", outcomes);
        });
  }

  @Test
  @Order(23)
  void oversizedMetadataAndMessages() throws Exception {
    scenario(
        "oversized metadata (64 KiB header) and messages (8 MiB database_role)",
        "Refused by the transport (RESOURCE_EXHAUSTED or INTERNAL from gRPC's limits) before any"
            + " review or Vault call; the replica keeps serving.",
        () -> {
          String token = stand.podToken(stand.newPod());
          List<String> outcomes = new ArrayList<>();
          Metadata big = new Metadata();
          big.put(AUTHORIZATION, "Bearer " + token);
          big.put(
              Metadata.Key.of("x-padding", Metadata.ASCII_STRING_MARSHALLER),
              "x".repeat(64 * 1024));
          ManagedChannel channel = stand.replicas.get(1).process.channel;
          outcomes.add(
              "64 KiB header: "
                  + unaryOutcome(
                      () ->
                          CredentialBrokerGrpc.newBlockingStub(channel)
                              .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(big))
                              .withDeadlineAfter(10, TimeUnit.SECONDS)
                              .issueCredential(
                                  IssueCredentialRequest.newBuilder()
                                      .setDatabaseRole("db1")
                                      .build())));
          outcomes.add(
              "8 MiB message: "
                  + issueOutcome(
                      token,
                      IssueCredentialRequest.newBuilder()
                          .setDatabaseRole("r".repeat(8 * 1024 * 1024))
                          .build()));
          for (String outcome : outcomes) {
            assertThat(outcome).doesNotContain(": OK");
          }
          return String.join("; ", outcomes);
        });
  }

  @Test
  @Order(24)
  void hostileNamesInRestPathsAndQueries() throws Exception {
    scenario(
        "hostile names in every admin REST path and query parameter",
        "A 4xx problem (RFC 9457) for each; never a 5xx, never a block or revocation.",
        () -> {
          HttpClient http = stand.replicas.get(0).process.adminHttpClient();
          long blocksBefore = stand.stateCount("SELECT count(*) FROM pod_block");
          List<String> hostile =
              List.of(
                  "..%2F..%2Fetc",
                  "%00",
                  "a%27%20OR%201%3D1--",
                  "%E2%80%AE",
                  "x".repeat(5000),
                  "%25",
                  "%0d%0aX-Injected:%201");
          List<String> statuses = new ArrayList<>();
          for (String name : hostile) {
            for (String[] call :
                List.of(
                    new String[] {"POST", "/admin/v1/namespaces/" + name + "/pods/p/revocations"},
                    new String[] {
                      "POST", "/admin/v1/namespaces/public/pods/" + name + "/revocations"
                    },
                    new String[] {"GET", "/admin/v1/namespaces/public/pods/" + name},
                    new String[] {"POST", "/admin/v1/credentials/" + name + "/revocations"},
                    new String[] {"GET", "/admin/v1/credentials/" + name},
                    new String[] {
                      "GET",
                      "/admin/v1/credentials?pod=" + name + "&namespace=" + name + "&state=" + name
                    },
                    new String[] {
                      "GET", "/admin/v1/audit-events?pod=" + name + "&limit=" + name
                    })) {
              HttpRequest.Builder request =
                  HttpRequest.newBuilder(
                          URI.create(
                              stand.replicas.get(0).process.adminUri("").toString() + call[1]))
                      .header("Authorization", "Bearer " + stand.sreToken)
                      .timeout(Duration.ofSeconds(10));
              if (call[0].equals("POST")) {
                request
                    .header("Content-Type", "application/json")
                    .POST(
                        HttpRequest.BodyPublishers.ofString(
                            "{\"reason\":\""
                                + URLEncoder.encode(name, StandardCharsets.UTF_8)
                                + "\"}"));
              }
              int status =
                  http.send(request.build(), java.net.http.HttpResponse.BodyHandlers.discarding())
                      .statusCode();
              statuses.add(Integer.toString(status));
              assertThat(status).as(call[0] + " " + call[1]).isLessThan(500);
            }
          }
          assertThat(stand.stateCount("SELECT count(*) FROM pod_block")).isEqualTo(blocksBefore);
          return "statuses: " + statuses.stream().distinct().sorted().toList();
        });
  }

  @Test
  @Order(25)
  void adminTokenWithoutTheRbacVerb() throws Exception {
    scenario(
        "a token without the RBAC verb on the admin API (an application pod's own token)",
        "403 problem; nothing revoked.",
        () -> {
          FaultStand.Application application = stand.applications.get(2);
          String audienceToken = applicationToken(application.pod, List.of());
          BrokerProcess replica = stand.replicas.get(0).process;
          int status =
              replica
                  .adminHttpClient()
                  .send(
                      HttpRequest.newBuilder(
                              replica.adminUri(
                                  "/admin/v1/namespaces/public/pods/"
                                      + stand.applications.get(3).pod
                                      + "/revocations"))
                          .header("Authorization", "Bearer " + audienceToken)
                          .header("Content-Type", "application/json")
                          .POST(HttpRequest.BodyPublishers.ofString("{\"reason\":\"not allowed\"}"))
                          .build(),
                      java.net.http.HttpResponse.BodyHandlers.discarding())
                  .statusCode();
          assertThat(status).isEqualTo(403);
          assertThat(
                  stand.stateCount(
                      "SELECT count(*) FROM pod_block WHERE pod_name = ?",
                      stand.applications.get(3).pod))
              .isZero();
          return "status " + status;
        });
  }

  @Test
  @Order(26)
  void floodOfRevocationsForOnePod() throws Exception {
    scenario(
        "a flood of 200 concurrent revocation requests for one pod",
        "Idempotent: every answer 200 (or 429 when limited), one block, one revocation of each"
            + " credential; no 5xx; the other pods are untouched.",
        () -> {
          String pod = stand.newPod();
          String token = stand.podToken(pod);
          String issued =
              issueOutcome(
                  token, IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build());
          BrokerProcess replica = stand.replicas.get(1).process;
          HttpClient http = replica.adminHttpClient();
          ExecutorService pool = Executors.newFixedThreadPool(16);
          Map<Integer, Integer> statuses = new java.util.TreeMap<>();
          try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
              results.add(
                  pool.submit(
                      () ->
                          http.send(
                                  HttpRequest.newBuilder(
                                          replica.adminUri(
                                              "/admin/v1/namespaces/public/pods/"
                                                  + pod
                                                  + "/revocations"))
                                      .header("Authorization", "Bearer " + stand.sreToken)
                                      .header("Content-Type", "application/json")
                                      .POST(
                                          HttpRequest.BodyPublishers.ofString(
                                              "{\"reason\":\"flood\"}"))
                                      .timeout(Duration.ofSeconds(30))
                                      .build(),
                                  java.net.http.HttpResponse.BodyHandlers.discarding())
                              .statusCode()));
            }
            for (Future<Integer> result : results) {
              statuses.merge(result.get(60, TimeUnit.SECONDS), 1, Integer::sum);
            }
          } finally {
            pool.shutdownNow();
          }
          assertThat(statuses.keySet()).allSatisfy(status -> assertThat(status).isIn(200, 429));
          assertThat(stand.stateCount("SELECT count(*) FROM pod_block WHERE pod_name = ?", pod))
              .isOne();
          assertThat(
                  stand.stateCount(
                      "SELECT count(*) FROM credential WHERE pod_name = ? AND state = 'ACTIVE'",
                      pod))
              .isZero();
          return "issue before: " + issued + "; statuses " + statuses;
        });
  }

  @Test
  @Order(27)
  void burstOfDistinctJunkTokens() throws Exception {
    scenario(
        String.format(
            "%,d distinct junk tokens in a burst: half forged, half signed by the cluster for"
                + " another audience",
            JUNK_TOKENS),
        "Each UNAUTHENTICATED (RESOURCE_EXHAUSTED when the review rate is spent, UNAVAILABLE when"
            + " the API server cannot answer the reviews in time); the forged ones cost no"
            + " TokenReview; TokenReviews stay within the configured rate; the applications are not"
            + " starved.",
        () -> {
          // Minted before the clock starts: a burst, not a trickle.
          List<String> signed = new ArrayList<>();
          for (int i = 0; i < JUNK_TOKENS / 2; i++) {
            signed.add(applicationToken(null, List.of("another-service")));
          }
          long reviewsBefore = stand.devStack.kubernetes().tokenReviewCount();
          long start = System.nanoTime();
          // Enough calls in flight that the replicas' review limiters, not this client, set the
          // pace.
          ExecutorService pool = Executors.newFixedThreadPool(48);
          Map<String, Integer> forgedOutcomes = new java.util.concurrent.ConcurrentHashMap<>();
          Map<String, Integer> outcomes = new java.util.concurrent.ConcurrentHashMap<>();
          try {
            List<Future<?>> results = new ArrayList<>();
            for (int i = 0; i < JUNK_TOKENS; i++) {
              boolean forged = i % 2 == 0;
              String junk = forged ? junkJwt() : signed.get(i / 2);
              Map<String, Integer> tally = forged ? forgedOutcomes : outcomes;
              int replica = i % 3;
              results.add(
                  pool.submit(
                      () ->
                          tally.merge(
                              issueOutcome(
                                  replica,
                                  junk,
                                  IssueCredentialRequest.newBuilder()
                                      .setDatabaseRole("db1")
                                      .build()),
                              1,
                              Integer::sum)));
            }
            for (Future<?> result : results) {
              result.get(120, TimeUnit.SECONDS);
            }
          } finally {
            pool.shutdownNow();
          }
          double seconds = (System.nanoTime() - start) / 1e9;
          long reviews = stand.devStack.kubernetes().tokenReviewCount() - reviewsBefore;
          // Refused as a bad token, throttled, or (when the burst makes the API server slow) a
          // TokenReview that could not be done: each a clear status, never a credential.
          assertThat(outcomes.keySet())
              .allSatisfy(
                  o ->
                      assertThat(o)
                          .isIn(
                              "UNAUTHENTICATED/TOKEN_REJECTED",
                              "RESOURCE_EXHAUSTED/TOKEN_REVIEWS_THROTTLED",
                              "RESOURCE_EXHAUSTED/OVERLOADED",
                              "UNAVAILABLE/KUBERNETES_UNAVAILABLE"));
          // The forged ones are refused by their signature alone (or shed before it is checked).
          assertThat(forgedOutcomes.keySet())
              .allSatisfy(
                  o ->
                      assertThat(o)
                          .isIn("UNAUTHENTICATED/TOKEN_REJECTED", "RESOURCE_EXHAUSTED/OVERLOADED"));
          // credbroker.limits.token-reviews-per-second on each replica, in each one-second window
          // the burst touched: at most its length plus two (a part at each end).
          long bound =
              (long)
                  Math.ceil(
                      FaultStand.TOKEN_REVIEWS_PER_SECOND * stand.replicas.size() * (seconds + 2));
          assertThat(reviews).isLessThanOrEqualTo(bound);
          // Every review was one of the signed tokens': the forged ones cost none.
          assertThat(reviews)
              .isLessThanOrEqualTo(
                  outcomes.getOrDefault("UNAUTHENTICATED/TOKEN_REJECTED", 0)
                      + outcomes.getOrDefault("UNAVAILABLE/KUBERNETES_UNAVAILABLE", 0));
          // The limit was what held them: the burst asked for more reviews than it allowed.
          assertThat(outcomes).containsKey("RESOURCE_EXHAUSTED/TOKEN_REVIEWS_THROTTLED");
          return String.format(
              "forged: %s; signed: %s; in %.1f s; %d TokenReviews (bound: %d/s per replica, %d)",
              forgedOutcomes,
              outcomes,
              seconds,
              reviews,
              FaultStand.TOKEN_REVIEWS_PER_SECOND,
              bound);
        });
  }

  // ---- the scenario frame ----

  @FunctionalInterface
  private interface Fault {
    String inject() throws Exception;
  }

  private record Row(String fault, String behaviour, String observed, List<Check> checks) {}

  private static void scenario(String fault, String behaviour, Fault action) throws Exception {
    List<Integer> failuresBefore = stand.applications.stream().map(a -> a.failures.size()).toList();
    scenarioChecks.clear();
    String observed;
    try {
      observed = action.inject();
    } catch (AssertionError | Exception e) {
      rows.add(new Row(fault, behaviour, "scenario failed: " + e.getMessage(), List.of()));
      throw e;
    }
    List<Check> checks = new ArrayList<>(scenarioChecks);
    scenarioChecks.clear();
    checks.add(FaultInvariants.applicationsRecovered(stand, Duration.ofSeconds(30)));
    checks.add(FaultInvariants.leasesRenewed(stand, FaultStand.CREDENTIAL_TTL));
    checks.add(FaultInvariants.noOrphansNoGhosts(stand.devStack.postgres(), SETTLE));
    checks.add(FaultInvariants.rightPod(stand));
    checks.add(FaultInvariants.noFailedQueries(stand, failuresBefore));
    checks.add(FaultInvariants.noSecretsInLogs(stand, logOffsets));
    rows.add(new Row(fault, behaviour, observed, checks));
    List<String> broken =
        checks.stream().filter(c -> !c.held()).map(c -> c.invariant() + ": " + c.detail()).toList();
    assertThat(broken).as(fault).isEmpty();
  }

  private static void writeReport() throws Exception {
    StringBuilder md = new StringBuilder();
    md.append("# Fault suite results\n\n")
        .append("Written by `FaultSuiteIT` (broker-service) on ")
        .append(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS))
        .append(". Regenerate with\n\n```\n")
        .append("./mvnw -o -B -pl broker-service -am verify -Djib.skip=true -Dtest=NONE")
        .append(" -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=FaultSuiteIT")
        .append(
            " -Dfailsafe.failIfNoSpecifiedTests=false\ncp broker-service/target/fault-suite.md docs/fault-suite.md\n```\n\n")
        .append("Three broker replicas (packaged jar), the dev-stack and embedded PostgreSQL, ")
        .append(FaultStand.APPLICATIONS)
        .append(" applications querying through the client SDK throughout, connected to the")
        .append(" replicas through a Kubernetes Service stand-in (each replica in it while its")
        .append(" readiness probe passes: every ")
        .append(FaultStand.READINESS.period().toSeconds())
        .append(" s, ")
        .append(FaultStand.READINESS.timeout().toSeconds())
        .append(" s timeout, out after ")
        .append(FaultStand.READINESS.failureThreshold())
        .append(" failures). Credential TTL ")
        .append(FaultStand.CREDENTIAL_TTL.toSeconds())
        .append(" s (max ")
        .append(FaultStand.CREDENTIAL_MAX_TTL.toSeconds())
        .append(" s), stale-after ")
        .append(FaultStand.STALE_AFTER.toSeconds())
        .append(" s, reconnect grace ")
        .append(FaultStand.RECONNECT_GRACE.toSeconds())
        .append(" s, Vault read timeout ")
        .append(FaultStand.VAULT_READ_TIMEOUT.toMillis())
        .append(" ms, ")
        .append(FaultStand.TOKEN_REVIEWS_PER_SECOND)
        .append(" TokenReviews a second per replica (the chart's default is 100). ")
        .append("Invariants, checked after every scenario once the graces have passed: ")
        .append(
            "applications run queries again; every live lease renewed to at least half its TTL; 0 orphan roles and 0 ghost credentials; ")
        .append("0 credentials of another pod; 0 failed application queries; 0 secrets in any log ")
        .append("(every replica's log with the broker, Spring, gRPC, Netty, HTTP-client wire, ")
        .append("Kubernetes-client and JDBC loggers at DEBUG, and the test JVM's).\n\n")
        .append("| scenario | behaviour | observed | invariants |\n|---|---|---|---|\n");
    for (Row row : rows) {
      StringBuilder checks = new StringBuilder();
      for (Check check : row.checks()) {
        checks.append(check.held() ? "✅ " : "❌ ").append(check.invariant());
        if (!check.held()) {
          checks.append(" (").append(check.detail()).append(")");
        }
        checks.append("<br>");
      }
      if (row.checks().isEmpty()) {
        checks.append(
            row.observed().startsWith("skipped")
                ? "not run"
                : "not checked: the scenario itself failed");
      }
      md.append("| ")
          .append(cell(row.fault()))
          .append(" | ")
          .append(cell(row.behaviour()))
          .append(" | ")
          .append(cell(row.observed()))
          .append(" | ")
          .append(checks)
          .append(" |\n");
    }
    Path file = Path.of("target", "fault-suite.md");
    Files.writeString(file, md.toString());
    System.out.print(md);
  }

  private static String cell(String text) {
    return text.replace("|", "\\|").replace("\n", " ");
  }

  // ---- calls ----

  private static String vaultAnswers(HttpResponse answer) throws Exception {
    return duringFault(
        () -> stand.devStack.vaultFaults().respond(answer),
        () -> stand.devStack.vaultFaults().clear(),
        1,
        OUTAGE);
  }

  @FunctionalInterface
  private interface Step {
    void run() throws Exception;
  }

  /**
   * Injects a fault, lets it last {@code outage} while a new pod tries to open a stream on replica
   * {@code replica}, and ends it; returns what the pod got.
   */
  private static String duringFault(Step inject, Step heal, int replica, Duration outage)
      throws Exception {
    awaitNoCredentialEndingWithin(outage.plus(RECOVERY));
    inject.run();
    try {
      return "new stream during the fault: " + probeDuring(replica, outage);
    } finally {
      heal.run();
    }
  }

  /**
   * Waits until no application's credential reaches its max TTL within {@code window}. A fault of
   * Vault or its target database stops renewals and creations alike, so a credential whose max TTL
   * runs out during the fault, or before its queued renewal and replacement after it, ends under
   * its application whatever the broker does (real Vault could not create its successor either); a
   * scenario that began then would fail on the calendar, not on the broker. Credentials reach that
   * point one at a time, each for a few seconds of its lifetime, so the wait is short.
   */
  private static void awaitNoCredentialEndingWithin(Duration window) {
    long since = System.nanoTime();
    org.awaitility.Awaitility.await("no credential reaching its max TTL within " + window)
        .atMost(FaultStand.CREDENTIAL_MAX_TTL)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                stand.stateCount(
                        "SELECT count(*) FROM credential WHERE state = 'ACTIVE' AND kind = 'STREAM'"
                            + " AND max_expire_time < now() + make_interval(secs => ?)",
                        (double) window.toMillis() / 1000)
                    == 0);
    System.out.printf(
        "The fault begins %.1f s later: no credential reaches its max TTL within %s%n",
        (System.nanoTime() - since) / 1e9, window);
  }

  /**
   * Lets the fault last {@code outage} while a new pod opens a stream on replica {@code replica}
   * (waiting at most 5 s for its first event); returns what the pod got.
   */
  private static String probeDuring(int replica, Duration outage) throws Exception {
    long start = System.nanoTime();
    java.util.concurrent.CompletableFuture<String> probe =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> newStreamOutcome(replica));
    Thread.sleep(Math.max(0, outage.toMillis() - (System.nanoTime() - start) / 1_000_000));
    return probe.get(30, TimeUnit.SECONDS);
  }

  /** What a new pod's first WatchCredential on replica {@code replica} gets. */
  private static String newStreamOutcome(int replica) {
    String token = stand.podToken(stand.newPod());
    return streamOutcome(
        replica, token, WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build());
  }

  private static String streamOutcome(int replica, String token, WatchCredentialRequest request) {
    Context.CancellableContext context = Context.current().withCancellation();
    try {
      return context.call(
          () -> {
            try {
              Iterator<CredentialEvent> events =
                  stub(replica, token)
                      .withDeadlineAfter(5, TimeUnit.SECONDS)
                      .watchCredential(request);
              CredentialEvent first = events.next();
              return first.getEventCase().name().toLowerCase();
            } catch (StatusRuntimeException e) {
              return describe(e);
            }
          });
    } catch (Exception e) {
      return e.toString();
    } finally {
      context.cancel(null);
    }
  }

  private static String issueOutcome(String token, IssueCredentialRequest request) {
    return issueOutcome(0, token, request);
  }

  private static String issueOutcome(int replica, String token, IssueCredentialRequest request) {
    return unaryOutcome(() -> stub(replica, token).issueCredential(request));
  }

  private static String unaryOutcome(Runnable call) {
    try {
      call.run();
      return "OK";
    } catch (StatusRuntimeException e) {
      return describe(e);
    }
  }

  private static String describe(StatusRuntimeException e) {
    String reason;
    try {
      reason = BrokerTestClient.errorInfo(e).getReason();
    } catch (AssertionError none) {
      reason = "no ErrorInfo";
    }
    return e.getStatus().getCode() + "/" + reason;
  }

  private static CredentialBrokerGrpc.CredentialBrokerBlockingStub stub(int replica, String token) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    return CredentialBrokerGrpc.newBlockingStub(stand.replicas.get(replica).process.channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  /** Live credentials by owner replica, e.g. {@code {replica-a=2, replica-b=2}}. */
  private static String owners() throws Exception {
    Map<String, Long> owners = new java.util.TreeMap<>();
    try (var state = stand.stateDatabase();
        var query = state.createStatement();
        var rs =
            query.executeQuery(
                "SELECT COALESCE(owner_replica, '-'), count(*) FROM credential WHERE state = 'ACTIVE'"
                    + " AND kind = 'STREAM' GROUP BY 1")) {
      while (rs.next()) {
        owners.put(rs.getString(1), rs.getLong(2));
      }
    }
    return owners.toString();
  }

  /** Credentials of any pod but the applications' (whose rotations go on meanwhile). */
  private static long credentialsOfOtherPods() throws Exception {
    return stand.stateCount(
        "SELECT count(*) FROM credential WHERE pod_name IS NULL OR pod_name <> ALL (?)",
        (Object) stand.applications.stream().map(a -> a.pod).toArray(String[]::new));
  }

  /**
   * A token of service account public/application for {@code audiences} (none: the API server's),
   * bound to {@code pod} or to no pod, valid for ten minutes.
   */
  private static String applicationToken(@Nullable String pod, List<String> audiences) {
    return stand
        .devStack
        .kubernetes()
        .issueToken("public", "application", pod, audiences, Duration.ofMinutes(10));
  }

  private static String expiredToken() throws InterruptedException {
    stand.devStack.kubernetes().tokenLeeway(Duration.ZERO);
    String token =
        stand
            .devStack
            .kubernetes()
            .issueToken(
                "public",
                "application",
                stand.applications.get(0).pod,
                List.of("credbroker"),
                Duration.ofSeconds(1));
    Thread.sleep(2_000);
    return token;
  }

  private static String junkJwt() {
    return b64("{\"alg\":\"RS256\",\"kid\":\"junk\"}")
        + "."
        + b64(
            "{\"sub\":\"system:serviceaccount:public:application\",\"jti\":\""
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
