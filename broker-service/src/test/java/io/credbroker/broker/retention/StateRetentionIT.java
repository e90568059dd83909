package io.credbroker.broker.retention;

import static org.assertj.core.api.Assertions.assertThat;

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
            // Batches of 2, so that a pass needs several of them.
            new BrokerProperties.Retention(
                Duration.ofDays(30), Duration.ofDays(365), Duration.ofHours(1), 2));
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
    UUID id = UUID.randomUUID();
    jdbc.sql(
            "INSERT INTO credential (id, database_role, vault_mount, vault_role, lease_id, username,"
                + " namespace, service_account, pod_name, pod_uid, kind, state, renewable, issue_time,"
                + " expire_time, replaces, end_time) VALUES (:id, 'db1', 'database', 'db1', :lease,"
                + " :user, 'public', 'application', 'app-1', 'uid-1', 'STREAM', :state, true,"
                + " now() - interval '100 days', now() + interval '1 hour', :replaces,"
                + " CASE WHEN CAST(:ended AS integer) IS NULL THEN NULL"
                + " ELSE now() - CAST(:ended AS integer) * interval '1 day' END)")
        .param("id", id)
        .param("lease", "database/creds/db1/" + id)
        .param("user", "v-" + id)
        .param("state", state)
        .param("replaces", replaces)
        .param("ended", endedDaysAgo)
        .update();
    return id;
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
