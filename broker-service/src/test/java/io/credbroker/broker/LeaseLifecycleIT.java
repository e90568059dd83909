package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import io.credbroker.api.v1.AcknowledgeRotationRequest;
import io.credbroker.api.v1.AcknowledgeRotationResponse;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialRotated;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.api.v1.RotationReason;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.cluster.ReplicaHeartbeat;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.LeaseKeeper;
import io.credbroker.broker.lease.RevocationRetryQueue;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
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
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keeping credentials alive and ending them, through the real wire with TTLs of seconds: gRPC to
 * the broker, Vault's HTTP API on the stand-in (which runs the role's renewal and revocation
 * statements for real), PostgreSQL over JDBC. After every test the zero-orphans invariant must
 * hold.
 */
class LeaseLifecycleIT {

  /** A Vault role whose leases live 3 s and can be renewed up to 10 s after issue. */
  private static final String SHORT_ROLE = "db1short";

  /**
   * The reconnect grace. It must cover, in {@link
   * #credentialsOfASilentReplicaAreClaimedKeptAliveAndResumableOnTheOthers}, the claim, the
   * claimers' first renewal and two resumes one after the other: with 3 s, a slow run resumed the
   * second credential 0.1 s after its grace had ended.
   */
  private static final Duration GRACE = Duration.ofSeconds(5);

  /**
   * How long a TokenReview held back by the stand-in keeps its call waiting (a replica's timeout).
   */
  private static final Duration HELD_REVIEW = Duration.ofSeconds(30);

  private static final Duration DRAIN = Duration.ofSeconds(1);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static BrokerTestClient client;
  private static TestPods pods;
  private final List<EventStream> streams = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.lease.poll-interval", "200ms");
    properties.put("credbroker.lease.reconnect-grace", GRACE.toMillis() + "ms");
    properties.put("credbroker.lease.drain-grace", DRAIN.toMillis() + "ms");
    properties.put("credbroker.lease.expiring-warning", "5s");
    properties.put("credbroker.lease.renewal-retry-max", "1s");
    properties.put("credbroker.lease.revocation-retry-initial", "500ms");
    properties.put("credbroker.cluster.heartbeat-interval", "300ms");
    properties.put("credbroker.cluster.stale-after", "2s");
    properties.putAll(BrokerFixture.secondBinding(SHORT_ROLE));
    fixture =
        BrokerFixture.start(
            workDir,
            properties,
            BrokerFixture.shortLivedVaultRole(
                SHORT_ROLE, Duration.ofSeconds(3), Duration.ofSeconds(10)));
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "lease-");
    client = new BrokerTestClient(fixture.channel);
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @AfterEach
  void settlesWithoutOrphans() {
    streams.forEach(EventStream::close);
    streams.clear();
    OrphanCheck.assertNoOrphans(
        fixture.devStack.postgres(), "db1", "credbroker", Duration.ofSeconds(20));
  }

  @Test
  void renewalsArriveAndTheRoleStaysUsablePastItsFirstTtl() throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, "db1", Duration.ofSeconds(3));
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    Instant firstExpiry = instant(credential.getExpireTime());
    assertThat(credential.getRenewable()).isTrue();
    // The db1 role may be renewed up to 5 minutes after issue.
    assertThat(instant(credential.getMaxExpireTime()))
        .isBetween(
            instant(credential.getIssueTime()).plusSeconds(240),
            instant(credential.getIssueTime()).plusSeconds(301));

    CredentialEvent first = stream.await(CredentialEvent::hasRenewed, 1, Duration.ofSeconds(10));
    CredentialEvent second = stream.await(CredentialEvent::hasRenewed, 2, Duration.ofSeconds(10));
    assertThat(first.getRenewed().getCredentialId()).isEqualTo(credential.getCredentialId());
    assertThat(instant(first.getRenewed().getExpireTime())).isAfter(firstExpiry);
    assertThat(instant(second.getRenewed().getExpireTime()))
        .isAfter(instant(first.getRenewed().getExpireTime()));

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Instant.now().isAfter(firstExpiry.plusMillis(500)));
    assertThat(fixture.selectOne(credential)).isEqualTo(1);
    // Vault ran the renewal statements: the role's VALID UNTIL moved with the lease.
    assertThat(fixture.validUntil(credential.getUsername())).isAfter(firstExpiry);
    assertThat(stream.open()).isTrue();
  }

  @Test
  void rotationReplacesTheCredentialBeforeMaxTtlAndTheOldRoleIsDroppedAfterAcknowledgement()
      throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, SHORT_ROLE, null);
    Credential original = client.remember(stream.first().getIssued().getCredential());
    Instant maxExpire = instant(original.getMaxExpireTime());
    assertThat(maxExpire).isBefore(instant(original.getIssueTime()).plusSeconds(11));

    CredentialEvent event = stream.await(CredentialEvent::hasRotated, 1, Duration.ofSeconds(15));
    CredentialRotated rotated = event.getRotated();
    Credential replacement = client.remember(rotated.getCredential());
    // rotation-margin 1.0: the rotation comes at least one lease lifetime (3 s) before the max TTL,
    // whatever the renewals' jitter left (1 s allowed for the renewal and the new role).
    assertThat(instant(event.getEventTime())).isBefore(maxExpire.minusSeconds(2));
    assertThat(rotated.getReplaces()).isEqualTo(original.getCredentialId());
    assertThat(rotated.getReason()).isEqualTo(RotationReason.ROTATION_REASON_MAX_TTL);
    assertThat(rotated.getPreviousValidFor().getSeconds()).isLessThanOrEqualTo(3);
    assertThat(replacement.getUsername()).isNotEqualTo(original.getUsername());
    assertThat(replacement.getPassword()).isNotEmpty();
    assertThat(fixture.selectOne(replacement)).isEqualTo(1);
    // Until acknowledged, the replaced credential keeps working (the pool drains it).
    assertThat(fixture.selectOne(original)).isEqualTo(1);

    AcknowledgeRotationResponse ack =
        client
            .as(token)
            .acknowledgeRotation(
                AcknowledgeRotationRequest.newBuilder()
                    .setCredentialId(replacement.getCredentialId())
                    .build());
    assertThat(ack.getReplacedCredentialId()).isEqualTo(original.getCredentialId());
    assertThat(instant(ack.getRevokeTime())).isBefore(Instant.now().plus(DRAIN).plusMillis(500));

    await().atMost(Duration.ofSeconds(5)).until(() -> !fixture.roleExists(original.getUsername()));
    assertThat(fixture.roleExists(replacement.getUsername())).isTrue();
    CredentialRecord old = fixture.record(original.getCredentialId());
    assertThat(old.state()).isEqualTo(CredentialState.REVOKED);
    assertThat(old.endReason()).isEqualTo("ROTATION");
    assertThat(fixture.record(replacement.getCredentialId()).replaces())
        .isEqualTo(UUID.fromString(original.getCredentialId()));
    // Acknowledging twice is fine and says the same.
    assertThat(
            client
                .as(token)
                .acknowledgeRotation(
                    AcknowledgeRotationRequest.newBuilder()
                        .setCredentialId(replacement.getCredentialId())
                        .build())
                .getReplacedCredentialId())
        .isEqualTo(original.getCredentialId());
    assertRefused(
        () ->
            client
                .as(token)
                .acknowledgeRotation(
                    AcknowledgeRotationRequest.newBuilder()
                        .setCredentialId(original.getCredentialId())
                        .build()),
        Status.Code.FAILED_PRECONDITION,
        "NOT_A_ROTATION");
    assertThat(stream.open()).isTrue();
  }

  @Test
  void releaseDropsTheRoleAtOnceAndEndsTheStream() throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, "db1", null);
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    assertThat(fixture.roleExists(credential.getUsername())).isTrue();

    assertRefused(
        () -> release(pods.token(pods.create()), credential.getCredentialId()),
        Status.Code.NOT_FOUND,
        "CREDENTIAL_NOT_FOUND");
    release(token, credential.getCredentialId());

    // Vault revoked synchronously: the role is gone when the call returns.
    assertThat(fixture.roleExists(credential.getUsername())).isFalse();
    assertThat(fixture.record(credential.getCredentialId()).state())
        .isEqualTo(CredentialState.RELEASED);
    await().atMost(Duration.ofSeconds(5)).until(stream.completed::get);
    // Idempotent.
    release(token, credential.getCredentialId());
  }

  @Test
  void releasingACredentialJustReplacedByARotationAlsoEndsTheReplacement() throws Exception {
    // The pod shuts down as the rotation reaches it: its client releases the credential it holds,
    // the one the rotation replaced. Before, the replacement lived on, unused, on the stream.
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, SHORT_ROLE, null);
    Credential original = client.remember(stream.first().getIssued().getCredential());
    Credential replacement =
        client.remember(
            stream
                .await(CredentialEvent::hasRotated, 1, Duration.ofSeconds(15))
                .getRotated()
                .getCredential());

    release(token, original.getCredentialId());

    assertThat(fixture.record(replacement.getCredentialId()).state())
        .isEqualTo(CredentialState.RELEASED);
    assertThat(fixture.roleExists(replacement.getUsername())).isFalse();
    assertThat(fixture.roleExists(original.getUsername())).isFalse();
    await().atMost(Duration.ofSeconds(5)).until(stream.completed::get);
  }

  @Test
  void aBlockedPodsCredentialThatItsRevocationLeftIsRevokedAtItsNextLookNotRenewed()
      throws Exception {
    String pod = pods.create();
    EventStream stream = watch(fixture.channel, pods.token(pod), "db1", Duration.ofSeconds(3));
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    String podUid = fixture.record(credential.getCredentialId()).owner().podUid();

    // What an operator's revocation leaves when it fails after blocking the pod: the block, told
    // to every replica, and the pod's credential still active.
    stateSql(
        "INSERT INTO pod_block (pod_uid, namespace, pod_name, reason, blocked_by) VALUES ('"
            + podUid
            + "', 'public', '"
            + pod
            + "', 'a revocation that failed half-way', 'sre')",
        "SELECT pg_notify('credbroker_events', 'v1 block " + podUid + "')");

    // Its next look (renewals are due every 2 s) revokes it instead of renewing it.
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> !fixture.roleExists(credential.getUsername()));
    assertThat(fixture.record(credential.getCredentialId()).state())
        .isEqualTo(CredentialState.REVOKED);
    await().atMost(Duration.ofSeconds(5)).until(() -> !stream.open());
  }

  @Test
  void aStreamWhoseCredentialAnOperatorRevokedUnheardIsToldWhatItMissed() throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, "db1", null);
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    String id = credential.getCredentialId();

    // What an operator's revocation of this one credential on another replica left a minute ago
    // when its notice never reached this one (its listener was away, and the replay missed it):
    // the row ended, its lease queued for Vault, and no notification.
    stateSql(
        "UPDATE credential SET state = 'REVOKED', end_reason = 'ADMIN',"
            + " end_time = now() - interval '1 minute', renewal_due_time = NULL,"
            + " next_action_time = NULL, stream_id = NULL WHERE id = '"
            + id
            + "'",
        "INSERT INTO revocation_retry (credential_id, lease_id, trigger, attempts,"
            + " next_attempt_time) SELECT id, lease_id, 'ADMIN', 0, now() FROM credential"
            + " WHERE id = '"
            + id
            + "'");

    // The replica looks at its streams' credentials every few polls (200 ms each).
    await().atMost(Duration.ofSeconds(10)).until(() -> stream.error.get() != null);
    StatusRuntimeException error = (StatusRuntimeException) stream.error.get();
    assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(BrokerTestClient.errorInfo(error).getReason()).isEqualTo("CREDENTIAL_REVOKED");
    assertThat(stream.events)
        .filteredOn(CredentialEvent::hasRevoked)
        .singleElement()
        .satisfies(e -> assertThat(e.getRevoked().getReason()).isEqualTo("CREDENTIAL_REVOKED"));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !fixture.roleExists(credential.getUsername()));
  }

  @Test
  void brokenStreamKeepsItsRoleRenewedThroughTheReconnectGraceThenTheRoleIsDropped()
      throws Exception {
    String token = pods.token(pods.create());
    // A 2 s lease with a longer grace: it has to be renewed while nobody holds it.
    EventStream stream = watch(fixture.channel, token, "db1", Duration.ofSeconds(2));
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    Instant issuedExpiry = instant(credential.getExpireTime());

    stream.close();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> fixture.record(credential.getCredentialId()).detachedTime() != null);

    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> fixture.record(credential.getCredentialId()).expireTime().isAfter(issuedExpiry));
    assertThat(fixture.roleExists(credential.getUsername())).isTrue();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !fixture.roleExists(credential.getUsername()));
    CredentialRecord ended = fixture.record(credential.getCredentialId());
    assertThat(ended.state()).isEqualTo(CredentialState.REVOKED);
    assertThat(ended.endReason()).isEqualTo("ABANDONED");
    assertThat(Duration.between(ended.detachedTime(), ended.endTime()))
        .isGreaterThanOrEqualTo(GRACE);
  }

  @Test
  void
      aStreamEndTheStateDatabaseRefusedIsRecordedAtTheNextLookAndTheCredentialAbandonedAfterItsGrace()
          throws Exception {
    String token = pods.token(pods.create());
    // A 2 s lease renewable for 5 minutes: looked at about every 1.3 s.
    EventStream stream = watch(fixture.channel, token, "db1", Duration.ofSeconds(2));
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    String id = credential.getCredentialId();
    // The state database refuses to record that this credential's stream ended, as it would have
    // been out at that moment: the row stays attached to a stream that is gone. Each refusal
    // counts in a sequence, which the refusal's rollback leaves as it is.
    stateSql(
        "CREATE SEQUENCE refused_detachments",
        "CREATE FUNCTION refuse_detachment() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            + " PERFORM nextval('refused_detachments');"
            + " RAISE EXCEPTION 'the state database is out'; END $$",
        "CREATE TRIGGER refuse_detachment BEFORE UPDATE ON credential FOR EACH ROW"
            + " WHEN (OLD.id = '"
            + UUID.fromString(id)
            + "' AND NEW.detached_time IS NOT NULL) EXECUTE FUNCTION refuse_detachment()");
    try {
      stream.close();
      await().atMost(Duration.ofSeconds(5)).until(() -> refusedDetachments() > 0);
      assertThat(fixture.record(id).detachedTime()).isNull();
    } finally {
      stateSql(
          "DROP TRIGGER refuse_detachment ON credential",
          "DROP FUNCTION refuse_detachment()",
          "DROP SEQUENCE refused_detachments");
    }

    // The keeper's next look finds no stream for it here and records the end then: its grace
    // starts, and it is revoked as abandoned when that is over, not renewed to its max TTL.
    await().atMost(Duration.ofSeconds(10)).until(() -> fixture.record(id).detachedTime() != null);
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> !fixture.roleExists(credential.getUsername()));
    CredentialRecord ended = fixture.record(id);
    assertThat(ended.state()).isEqualTo(CredentialState.REVOKED);
    assertThat(ended.endReason()).isEqualTo("ABANDONED");
    assertThat(Duration.between(ended.detachedTime(), ended.endTime()))
        .isGreaterThanOrEqualTo(GRACE);
    assertThat(ended.endTime()).isBefore(instant(credential.getMaxExpireTime()));
  }

  @Test
  void resumeIsRefusedForAnotherPodsCredentialAnUnknownOneAndAReleasedOne() throws Exception {
    String owner = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, owner, "db1", null);
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    String otherPod = pods.token(pods.create());

    assertRefused(
        () -> resume(fixture.channel, otherPod, credential.getCredentialId()).first(),
        Status.Code.PERMISSION_DENIED,
        "CREDENTIAL_OF_ANOTHER_POD");
    assertRefused(
        () -> resume(fixture.channel, owner, UUID.randomUUID().toString()).first(),
        Status.Code.NOT_FOUND,
        "CREDENTIAL_NOT_FOUND");
    release(owner, credential.getCredentialId());
    assertRefused(
        () -> resume(fixture.channel, owner, credential.getCredentialId()).first(),
        Status.Code.FAILED_PRECONDITION,
        "CREDENTIAL_NOT_RESUMABLE");
    // The refused resumes created nothing and changed nothing.
    assertThat(fixture.record(credential.getCredentialId()).state())
        .isEqualTo(CredentialState.RELEASED);
  }

  @Test
  void resumeAfterItsBrokerRestartsKeepsThePostgresUserAndCreatesNoNewRole() throws Exception {
    String token = pods.token(pods.create());
    // A rolling restart: the new replica is up before the old one stops (starting a broker here
    // takes longer than this test's reconnect grace).
    try (BrokerFixture.Replica restarted = fixture.startReplica(Map.of())) {
      Credential credential;
      Set<String> rolesBefore;
      try (BrokerFixture.Replica first = fixture.startReplica(Map.of())) {
        EventStream stream = watch(first.channel, token, "db1", Duration.ofSeconds(3));
        credential = client.remember(stream.first().getIssued().getCredential());
        rolesBefore = fixture.dynamicRoles();
      }

      EventStream resumed = resume(restarted.channel, token, credential.getCredentialId());
      CredentialEvent event = resumed.first();
      assertThat(event.hasResumed()).isTrue();
      Credential adopted = event.getResumed().getCredential();
      assertThat(adopted.getUsername()).isEqualTo(credential.getUsername());
      assertThat(adopted.getPassword()).isEmpty();
      assertThat(fixture.record(credential.getCredentialId()).ownerReplica())
          .isEqualTo(restarted.context.getBean(ReplicaId.class).value());

      // The new replica keeps it alive, and the client's password still works.
      resumed.await(CredentialEvent::hasRenewed, 1, Duration.ofSeconds(10));
      assertThat(fixture.selectOne(credential)).isEqualTo(1);
      Set<String> created = new HashSet<>(fixture.dynamicRoles());
      created.removeAll(rolesBefore);
      assertThat(created).isEmpty();
      resumed.close();
    }
  }

  @Test
  void credentialsOfASilentReplicaAreClaimedKeptAliveAndResumableOnTheOthers() throws Exception {
    try (BrokerFixture.Replica silent = fixture.startReplica(Map.of());
        BrokerFixture.Replica other = fixture.startReplica(Map.of())) {
      List<String> tokens = new ArrayList<>();
      List<Credential> credentials = new ArrayList<>();
      List<EventStream> onSilent = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        String token = pods.token(pods.create());
        // 6 s leases: the silent replica's leases must outlive stale-after (2 s) plus the claim
        // and the claimer's first renewal even on a busy build machine.
        EventStream stream = watch(silent.channel, token, "db1", Duration.ofSeconds(6));
        tokens.add(token);
        onSilent.add(stream);
        credentials.add(client.remember(stream.first().getIssued().getCredential()));
      }
      String silentId = silent.context.getBean(ReplicaId.class).value();
      List<MeterRegistry> claimers =
          List.of(
              fixture.broker.getBean(MeterRegistry.class),
              other.context.getBean(MeterRegistry.class));
      double silentTakeoversBefore = takeovers(claimers, "silent");

      // The replica stops heart-beating and renewing (a long pause), its streams stay open.
      silent.context.getBean(ReplicaHeartbeat.class).stop();
      silent.context.getBean(LeaseKeeper.class).stop();
      Map<String, Instant> frozenExpiry = new LinkedHashMap<>();
      for (Credential c : credentials) {
        frozenExpiry.put(c.getCredentialId(), fixture.record(c.getCredentialId()).expireTime());
      }

      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  credentials.stream()
                      .map(c -> fixture.record(c.getCredentialId()).ownerReplica())
                      .noneMatch(silentId::equals));
      // Counted as taken over from a silent replica (an operator's alert), not from a stopped one.
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> takeovers(claimers, "silent") - silentTakeoversBefore, value -> value >= 4);
      // Renewed by the claimers past the point where the silent replica left them.
      await()
          .atMost(Duration.ofSeconds(12))
          .until(
              () ->
                  credentials.stream()
                      .allMatch(
                          c ->
                              fixture
                                  .record(c.getCredentialId())
                                  .expireTime()
                                  .isAfter(frozenExpiry.get(c.getCredentialId()))));

      // Two clients notice and resume on the other replica: same PostgreSQL users.
      for (int i = 0; i < 2; i++) {
        onSilent.get(i).close();
        CredentialEvent event =
            resume(other.channel, tokens.get(i), credentials.get(i).getCredentialId()).first();
        assertThat(event.getResumed().getCredential().getUsername())
            .isEqualTo(credentials.get(i).getUsername());
        assertThat(fixture.selectOne(credentials.get(i))).isEqualTo(1);
      }
      // Nobody resumes the other two: revoked after the grace.
      for (int i = 2; i < 4; i++) {
        String username = credentials.get(i).getUsername();
        await().atMost(Duration.ofSeconds(10)).until(() -> !fixture.roleExists(username));
        assertThat(fixture.record(credentials.get(i).getCredentialId()).endReason())
            .isEqualTo("ABANDONED");
      }
      for (int i = 0; i < 2; i++) {
        assertThat(fixture.record(credentials.get(i).getCredentialId()).state())
            .isEqualTo(CredentialState.ACTIVE);
      }

      // The paused replica wakes up, learns it was presumed dead and gives up its streams.
      Counter ownershipLost =
          silent
              .context
              .getBean(MeterRegistry.class)
              .get("credbroker.cluster.ownership.lost")
              .counter();
      assertThat(ownershipLost.count()).isZero();
      silent.context.getBean(ReplicaHeartbeat.class).start();
      await().atMost(Duration.ofSeconds(5)).until(() -> ownershipLost.count() == 1);
      for (int i = 2; i < 4; i++) {
        EventStream stream = onSilent.get(i);
        await().atMost(Duration.ofSeconds(5)).until(() -> stream.error.get() != null);
        assertThat(Status.fromThrowable(stream.error.get()).getCode())
            .isEqualTo(Status.Code.UNAVAILABLE);
      }
    }
  }

  @Test
  void credentialClaimedFromASilentReplicaIsResumedAfterItsGraceWhileItsPodWasShed()
      throws Exception {
    // The replica the pod comes back to admits one pending call at a time, and waits for a
    // TokenReview as long as the held one below takes to time out there.
    try (BrokerFixture.Replica silent = fixture.startReplica(Map.of());
        BrokerFixture.Replica survivor =
            fixture.startReplica(
                Map.of(
                    "credbroker.grpc.max-pending-calls",
                    "1",
                    "credbroker.kubernetes.request-timeout",
                    HELD_REVIEW.toSeconds() + "s"))) {
      String token = pods.token(pods.create());
      EventStream onSilent = watch(silent.channel, token, "db1", null);
      Credential credential = client.remember(onSilent.first().getIssued().getCredential());
      String silentId = silent.context.getBean(ReplicaId.class).value();

      // The survivor is saturated: another caller holds its one admission slot.
      String otherToken = pods.token(pods.create());
      EventStream slotHolder =
          saturateAdmission(survivor.channel, pods.token(pods.create()), otherToken);
      Instant detached;
      try {
        // The replica dies: no heartbeat, no renewals. Its pod tries to resume on the survivor and
        // is shed, again and again, until well past the end of the plain grace after the claim.
        silent.context.getBean(ReplicaHeartbeat.class).stop();
        silent.context.getBean(LeaseKeeper.class).stop();
        Instant claimDeadline = Instant.now().plusSeconds(30);
        Instant plainGraceEnd = null;
        while (plainGraceEnd == null || Instant.now().isBefore(plainGraceEnd)) {
          StatusRuntimeException refused =
              refusal(resume(survivor.channel, token, credential.getCredentialId()));
          assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
          assertThat(BrokerTestClient.errorInfo(refused).getReason()).isEqualTo("OVERLOADED");
          CredentialRecord record = fixture.record(credential.getCredentialId());
          if (plainGraceEnd == null
              && !silentId.equals(record.ownerReplica())
              && record.detachedTime() != null) {
            // Claimed: detached from the claim on.
            plainGraceEnd = record.detachedTime().plus(GRACE).plusSeconds(2);
          }
          assertThat(plainGraceEnd != null || Instant.now().isBefore(claimDeadline))
              .as("claimed within 30 s")
              .isTrue();
          Thread.sleep(300);
        }
        detached = fixture.record(credential.getCredentialId()).detachedTime();
        assertThat(fixture.record(credential.getCredentialId()).state())
            .isEqualTo(CredentialState.ACTIVE);
      } finally {
        // The other caller goes away.
        slotHolder.close();
        kubernetes.faults().clear();
        onSilent.close();
      }
      // The slot is free once the held review has timed out on the survivor.
      await()
          .atMost(HELD_REVIEW.plusSeconds(10))
          .until(() -> admitted(survivor.channel, otherToken));

      // The survivor admits the pod again: it gets its own credential back, not a new role.
      EventStream resumed = resume(survivor.channel, token, credential.getCredentialId());
      CredentialEvent event = resumed.first();
      assertThat(event.hasResumed()).isTrue();
      assertThat(event.getResumed().getCredential().getCredentialId())
          .isEqualTo(credential.getCredentialId());
      assertThat(event.getResumed().getCredential().getUsername())
          .isEqualTo(credential.getUsername());
      assertThat(Duration.between(detached, Instant.now())).isGreaterThan(GRACE);
      CredentialRecord record = fixture.record(credential.getCredentialId());
      assertThat(record.state()).isEqualTo(CredentialState.ACTIVE);
      assertThat(fixture.selectOne(credential)).isEqualTo(1);
      resumed.close();
      // Nobody holds it now and nothing is shed any more: it is revoked at its grace.
      await()
          .atMost(GRACE.plusSeconds(15))
          .until(() -> !fixture.roleExists(credential.getUsername()));
      assertThat(fixture.record(credential.getCredentialId()).endReason()).isEqualTo("ABANDONED");
    }
  }

  /**
   * Takes the one admission slot of the replica behind {@code channel} with a {@code
   * WatchCredential} call of {@code holderToken} whose TokenReview the Kubernetes stand-in holds
   * back for {@link #HELD_REVIEW}, so that the call waits in its service method as under real load
   * until the replica's review times out; returns it once a probe with {@code probeToken} is shed.
   */
  private static EventStream saturateAdmission(
      ManagedChannel channel, String holderToken, String probeToken) {
    kubernetes
        .faults()
        .delay(request -> request.bodyText().contains(holderToken), HELD_REVIEW.multipliedBy(2));
    AtomicReference<EventStream> holder =
        new AtomicReference<>(
            EventStream.open(channel, holderToken, EventStream.request("db1", null)));
    // A probe's request can reach admission just before the holder's and take the slot for an
    // instant, and the holder is shed (its review not even asked for): then it calls again.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              if (holder.get().error.get() != null) {
                holder.get().close();
                holder.set(
                    EventStream.open(channel, holderToken, EventStream.request("db1", null)));
                return false;
              }
              return !admitted(channel, probeToken);
            });
    return holder.get();
  }

  /**
   * Whether a probe call on {@code channel} is admitted rather than shed (RESOURCE_EXHAUSTED). The
   * probe names no database role: once admitted it is refused as invalid, so it holds no slot and
   * changes nothing.
   */
  private static boolean admitted(ManagedChannel channel, String token) {
    EventStream probe =
        EventStream.open(channel, token, WatchCredentialRequest.getDefaultInstance());
    try {
      return refusal(probe).getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED;
    } finally {
      probe.close();
    }
  }

  /** The refusal that ends {@code stream} before any event. */
  private static StatusRuntimeException refusal(EventStream stream) {
    await().atMost(Duration.ofSeconds(10)).until(() -> stream.error.get() != null);
    assertThat(stream.events).isEmpty();
    @Nullable Throwable error = stream.error.get();
    assertThat(error).isInstanceOf(StatusRuntimeException.class);
    return (StatusRuntimeException) error;
  }

  @Test
  void vaultOutageLongerThanARenewalIntervalClosesNoStreamAndRenewalsResume() throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, "db1", Duration.ofSeconds(10));
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    CredentialEvent renewed = stream.await(CredentialEvent::hasRenewed, 1, Duration.ofSeconds(10));
    Instant lastExpiry = instant(renewed.getRenewed().getExpireTime());
    Instant stopped = Instant.now();

    fixture.devStack.stopVault();
    try {
      // Longer than a renewal interval (about 6.6 s of the 10 s lease): the renewal fails, the
      // client is told the credential may expire, and the stream stays open.
      await()
          .atMost(Duration.ofSeconds(12))
          .until(
              () ->
                  Duration.between(stopped, Instant.now()).toMillis() > 7000
                      && stream.count(CredentialEvent::hasExpiring) >= 1);
      CredentialEvent expiring =
          stream.await(CredentialEvent::hasExpiring, 1, Duration.ofSeconds(1));
      // As recorded in the state store (microseconds).
      assertThat(instant(expiring.getExpiring().getExpireTime()))
          .isBetween(lastExpiry.minusMillis(1), lastExpiry.plusMillis(1));
      assertThat(stream.open()).isTrue();
    } finally {
      fixture.devStack.startVault();
    }

    CredentialEvent resumedRenewal =
        stream.await(CredentialEvent::hasRenewed, 2, Duration.ofSeconds(5));
    assertThat(instant(resumedRenewal.getRenewed().getExpireTime())).isAfter(lastExpiry);
    assertThat(stream.open()).isTrue();
    assertThat(fixture.selectOne(credential)).isEqualTo(1);
    fixture.awaitVaultCallsAdmitted();
  }

  @Test
  void revocationVaultCannotConfirmStaysQueuedAndVisibleUntilVaultIsBack() throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, "db1", null);
    Credential credential = client.remember(stream.first().getIssued().getCredential());
    RevocationRetryQueue queue = fixture.broker.getBean(RevocationRetryQueue.class);

    fixture.devStack.stopVault();
    try {
      release(token, credential.getCredentialId());
      assertThat(fixture.record(credential.getCredentialId()).state())
          .isEqualTo(CredentialState.RELEASED);
      assertThat(queue.list(100))
          .anyMatch(p -> p.credentialId().toString().equals(credential.getCredentialId()));
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(metrics())
                      .containsPattern("credbroker_revocation_retry_queue_depth\\{[^}]*} [1-9]"));
      // The oldest pending revocation ages while Vault stays away.
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(
                          PrometheusScrape.gauge(
                              metrics(), "credbroker_revocation_retry_oldest_age_seconds"))
                      .isGreaterThanOrEqualTo(1.0));
      assertThat(fixture.roleExists(credential.getUsername())).isTrue();
    } finally {
      fixture.devStack.startVault();
    }

    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> !fixture.roleExists(credential.getUsername()));
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> !queue.contains(UUID.fromString(credential.getCredentialId())));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                PrometheusScrape.gauge(metrics(), "credbroker_revocation_retry_oldest_age_seconds")
                    == 0.0);
  }

  @Test
  void metricsShowTheLifecycleAndNoPasswordReachesMetricsOrLogs() throws Exception {
    String token = pods.token(pods.create());
    EventStream stream = watch(fixture.channel, token, "db1", Duration.ofSeconds(2));
    client.remember(stream.first().getIssued().getCredential());
    stream.await(CredentialEvent::hasRenewed, 1, Duration.ofSeconds(10));

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(metrics())
                    .contains("credbroker_lease_renewals_total{")
                    .contains("outcome=\"renewed\"")
                    .contains("credbroker_credentials_live{")
                    .contains("state=\"attached\"")
                    .contains("credbroker_lease_earliest_unrenewed_expiry_seconds")
                    .contains("credbroker_revocation_retry_queue_depth"));
    String metrics = metrics();
    List<String> lines = fixture.logs.lines();
    for (String password : client.passwordsSeen()) {
      assertThat(password).isNotEmpty();
      assertThat(metrics).doesNotContain(password);
      assertThat(lines).noneMatch(line -> line.contains(password));
    }
  }

  // ---- helpers ----

  /** How many detachments the test's trigger refused (0 before the first). */
  private static long refusedDetachments() throws SQLException {
    try (Connection db = fixture.devStack.postgres().connect("credbroker");
        Statement sql = db.createStatement();
        ResultSet rs =
            sql.executeQuery(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM refused_detachments")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** Runs statements in the broker's state database, as its administrator. */
  private static void stateSql(String... statements) throws SQLException {
    try (Connection db = fixture.devStack.postgres().connect("credbroker");
        Statement sql = db.createStatement()) {
      for (String statement : statements) {
        sql.execute(statement);
      }
    }
  }

  private EventStream watch(
      ManagedChannel channel, String token, String databaseRole, @Nullable Duration ttl) {
    EventStream stream = EventStream.open(channel, token, EventStream.request(databaseRole, ttl));
    streams.add(stream);
    return stream;
  }

  private EventStream resume(ManagedChannel channel, String token, String credentialId) {
    EventStream stream =
        EventStream.open(
            channel,
            token,
            WatchCredentialRequest.newBuilder()
                .setDatabaseRole("db1")
                .setResumeCredentialId(credentialId)
                .build());
    streams.add(stream);
    return stream;
  }

  private static void release(String token, String credentialId) {
    client
        .as(token)
        .releaseCredential(
            ReleaseCredentialRequest.newBuilder().setCredentialId(credentialId).build());
  }

  private static String metrics() throws Exception {
    return fixture.httpGet("/actuator/prometheus").body();
  }

  private static Instant instant(Timestamp timestamp) {
    return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
  }

  /**
   * Credentials these replicas took over, by cause, as their {@code credbroker.cluster.takeovers}
   * count.
   */
  private static double takeovers(List<MeterRegistry> replicas, String cause) {
    return replicas.stream()
        .mapToDouble(
            r -> r.get("credbroker.cluster.takeovers").tag("cause", cause).counter().count())
        .sum();
  }
}
