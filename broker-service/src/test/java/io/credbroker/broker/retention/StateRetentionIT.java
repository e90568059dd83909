package io.credbroker.broker.retention;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.cluster.ReplicaStore;
import io.credbroker.broker.cluster.TakeOver;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialStore;
import io.credbroker.broker.lease.RevocationRetryQueue;
import io.credbroker.broker.revocation.RevocationStore;
import io.credbroker.devstack.DevStack;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Retention against the broker's real schema on PostgreSQL (the dev-stack's), migrated by Flyway.
 */
class StateRetentionIT {

  @TempDir static Path workDir;
  private static DevStack devStack;
  private static DataSource dataSource;
  private static JdbcClient jdbc;
  private static StateRetention retention;

  /** The replica the retention runs on. */
  private static final String SELF = "replica-self";

  @BeforeAll
  static void migrate() {
    devStack = DevStack.builder().workDir(workDir).start();
    devStack.postgres().createDatabase("credbroker");
    dataSource =
        new DriverManagerDataSource(
            devStack.postgres().jdbcUrl("credbroker"),
            devStack.postgres().adminUser(),
            devStack.postgres().adminPassword());
    Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
    jdbc = JdbcClient.create(dataSource);
    retention =
        new StateRetention(
            jdbc,
            new TransactionTemplate(new DataSourceTransactionManager(dataSource)),
            new CredentialStore(jdbc),
            new RevocationStore(jdbc, new CredentialQueries(jdbc), new RevocationRetryQueue(jdbc)),
            new ReplicaStore(jdbc, new ReplicaId(SELF)),
            // Batches of 2, so that a pass needs several of them.
            new BrokerProperties.Retention(
                Duration.ofDays(30),
                Duration.ofDays(365),
                Duration.ofHours(1),
                2,
                Duration.ofDays(1)));
  }

  @AfterAll
  static void stop() {
    if (devStack != null) {
      devStack.close();
    }
  }

  @BeforeEach
  void empty() {
    jdbc.sql("DELETE FROM revocation_retry").update();
    jdbc.sql("DELETE FROM credential").update();
    jdbc.sql("DELETE FROM audit_event").update();
    jdbc.sql("DELETE FROM replica").update();
  }

  @Test
  void endedCredentialsAndAuditEventsPastTheirRetentionAreDeletedAndNothingElse() {
    UUID endedLongAgo1 = credential("EXPIRED", 40, null);
    UUID endedLongAgo2 = credential("RELEASED", 35, null);
    UUID endedLongAgo3 = credential("REVOKED", 31, null);
    UUID endedRecently = credential("REVOKED", 10, null);
    UUID liveForMonths = credential("ACTIVE", null, null);
    UUID revocationStillQueued = credential("REVOKED", 40, null);
    jdbc.sql(
            "INSERT INTO revocation_retry (credential_id, lease_id, trigger, next_attempt_time)"
                + " SELECT id, lease_id, 'pod_revoked', now() FROM credential WHERE id = :id")
        .param("id", revocationStillQueued)
        .update();
    // A stream rotated long ago: the live credential replaced one that ended 40 days ago.
    UUID replacedLongAgo = credential("EXPIRED", 40, null);
    UUID replacement = credential("ACTIVE", null, replacedLongAgo);
    long oldEvent = auditEvent(400);
    long recentEvent = auditEvent(100);

    StateRetention.Purge purge = retention.purge();

    assertThat(purge.skipped()).isFalse();
    assertThat(purge.credentials()).isEqualTo(4);
    assertThat(purge.auditEvents()).isEqualTo(1);
    assertThat(credentialIds())
        .containsExactlyInAnyOrder(endedRecently, liveForMonths, revocationStillQueued, replacement)
        .doesNotContain(endedLongAgo1, endedLongAgo2, endedLongAgo3, replacedLongAgo);
    assertThat(
            jdbc.sql("SELECT replaces FROM credential WHERE id = :id")
                .param("id", replacement)
                .query(UUID.class)
                .optional())
        .isEmpty();
    assertThat(jdbc.sql("SELECT id FROM audit_event").query(Long.class).list())
        .containsExactly(recentEvent)
        .doesNotContain(oldEvent);
  }

  @Test
  void replicasDeadLongerThanTheBoundAndOwningNoLiveCredentialAreDeleted() {
    // Crashed 2 days ago, its credentials taken over long since; and one that stopped cleanly.
    String crashed = replica("replica-crashed", Duration.ofDays(2), false);
    String stopped = replica("replica-stopped", Duration.ofDays(3), true);
    // Ended credentials keep the name of the replica that held them, not its row.
    UUID endedOnCrashed = credential("EXPIRED", 1, null, crashed);
    UUID releasedOnStopped = credential("RELEASED", 2, null, stopped);
    // More than a batch (2) of them, so that the pass needs several batches.
    String crashedToo = replica("replica-crashed-too", Duration.ofDays(5), false);

    StateRetention.Purge purge = retention.purge();

    assertThat(purge.skipped()).isFalse();
    assertThat(purge.replicas()).isEqualTo(3);
    assertThat(replicaIds()).doesNotContain(crashed, stopped, crashedToo);
    assertThat(credentialIds()).containsExactlyInAnyOrder(endedOnCrashed, releasedOnStopped);
    assertThat(ownerOf(endedOnCrashed)).isEqualTo(crashed);
  }

  @Test
  void deadReplicaStillOwningALiveCredentialIsKeptUntilTheTakeoverMovesIt() {
    String deadOwner = replica("replica-dead-owner", Duration.ofDays(2), false);
    UUID live = credential("ACTIVE", null, null, deadOwner);
    String deadIdle = replica("replica-dead-idle", Duration.ofDays(2), false);

    StateRetention.Purge kept = retention.purge();

    // The takeover finds the live credential only through its owner's row: the row stays.
    assertThat(kept.replicas()).isEqualTo(1);
    assertThat(replicaIds()).contains(deadOwner).doesNotContain(deadIdle);
    assertThat(ownerOf(live)).isEqualTo(deadOwner);

    assertThat(TakeOver.claimStale(jdbc, "replica-claimer")).isEqualTo(1);
    assertThat(ownerOf(live)).isEqualTo("replica-claimer");
    StateRetention.Purge deleted = retention.purge();

    assertThat(deleted.replicas()).isEqualTo(1);
    assertThat(replicaIds()).doesNotContain(deadOwner).contains("replica-claimer");
  }

  @Test
  void liveReplicasAndThoseDeadForLessThanTheBoundAreKept() {
    String live = replica("replica-live", Duration.ZERO, false);
    // Presumed dead (past stale-after) and taken over, but not yet a day silent.
    String staleForHours = replica("replica-stale-for-hours", Duration.ofHours(23), false);
    String stoppedRecently = replica("replica-stopped-recently", Duration.ofMinutes(30), true);
    // The replica running the retention, even if its own row looked old (a long pause).
    String self = replica(SELF, Duration.ofDays(2), false);

    StateRetention.Purge purge = retention.purge();

    assertThat(purge.skipped()).isFalse();
    assertThat(purge.replicas()).isZero();
    assertThat(replicaIds()).containsExactlyInAnyOrder(live, staleForHours, stoppedRecently, self);
  }

  @Test
  void passWhileAnotherReplicaHoldsTheLockDeletesNothing() throws SQLException {
    credential("EXPIRED", 40, null);
    try (Connection other = dataSource.getConnection()) {
      other.setAutoCommit(false);
      try (PreparedStatement lock = other.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
        lock.setLong(1, StateRetention.LOCK_KEY);
        lock.execute();
      }

      StateRetention.Purge purge = retention.purge();

      assertThat(purge.skipped()).isTrue();
      assertThat(credentialIds()).hasSize(1);
      other.rollback();
    }
    assertThat(retention.purge().credentials()).isEqualTo(1);
  }

  /** A credential in {@code state}, ended {@code endedDaysAgo} days ago (null: not ended). */
  private static UUID credential(
      String state, @Nullable Integer endedDaysAgo, @Nullable UUID replaces) {
    return credential(state, endedDaysAgo, replaces, null);
  }

  /**
   * A credential in {@code state}, ended {@code endedDaysAgo} days ago (null: not ended), owned by
   * {@code ownerReplica}.
   */
  private static UUID credential(
      String state,
      @Nullable Integer endedDaysAgo,
      @Nullable UUID replaces,
      @Nullable String ownerReplica) {
    UUID id = UUID.randomUUID();
    jdbc.sql(
            "INSERT INTO credential (id, database_role, vault_mount, vault_role, lease_id, username,"
                + " namespace, service_account, pod_name, pod_uid, kind, state, renewable, issue_time,"
                + " expire_time, replaces, end_time, owner_replica) VALUES (:id, 'db1', 'database',"
                + " 'db1', :lease, :user, 'public', 'application', 'app-1', 'uid-1', 'STREAM', :state,"
                + " true, now() - interval '100 days', now() + interval '1 hour', :replaces,"
                + " CASE WHEN CAST(:ended AS integer) IS NULL THEN NULL"
                + " ELSE now() - CAST(:ended AS integer) * interval '1 day' END, :owner)")
        .param("id", id)
        .param("lease", "database/creds/db1/" + id)
        .param("user", "v-" + id)
        .param("state", state)
        .param("replaces", replaces)
        .param("ended", endedDaysAgo)
        .param("owner", ownerReplica)
        .update();
    return id;
  }

  /**
   * A replica row whose last heartbeat was {@code silentFor} ago, as a replica that registered then
   * and stopped beating (crashed, or stopped cleanly when {@code stopped}) leaves it.
   */
  private static String replica(String id, Duration silentFor, boolean stopped) {
    jdbc.sql(
            "INSERT INTO replica (id, started_time, heartbeat_time, stopped_time) VALUES (:id,"
                + " now() - :silent * interval '1 second' - interval '1 hour',"
                + " now() - :silent * interval '1 second',"
                + " CASE WHEN :stopped THEN now() - :silent * interval '1 second' END)")
        .param("id", id)
        .param("silent", silentFor.toSeconds())
        .param("stopped", stopped)
        .update();
    return id;
  }

  private static List<String> replicaIds() {
    return jdbc.sql("SELECT id FROM replica").query(String.class).list();
  }

  private static @Nullable String ownerOf(UUID credential) {
    return jdbc.sql("SELECT owner_replica FROM credential WHERE id = :id")
        .param("id", credential)
        .query(String.class)
        .single();
  }

  private static long auditEvent(int daysAgo) {
    return jdbc.sql(
            "INSERT INTO audit_event (event_time, actor, action, namespace, pod_uids, credential_ids,"
                + " usernames, reason, replica) VALUES (now() - :days * interval '1 day', 'ops/sre',"
                + " 'revoke_pod', 'public', ARRAY['uid-1'], ARRAY[]::uuid[], ARRAY[]::text[],"
                + " 'test', 'replica-a') RETURNING id")
        .param("days", daysAgo)
        .query(Long.class)
        .single();
  }

  private static List<UUID> credentialIds() {
    return jdbc.sql("SELECT id FROM credential").query(UUID.class).list();
  }
}
