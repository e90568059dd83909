package io.credbroker.broker.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialQuery;
import io.credbroker.broker.lease.RevocationRetryQueue;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.dao.DataAccessException;

/** The revocation tables and queries, and the V5 insert trigger, on a real PostgreSQL. */
class RevocationStoreIT {

  @TempDir static Path workDir;
  private static StateDatabase db;
  private static RevocationStore store;

  @BeforeAll
  static void migrate() {
    db = new StateDatabase(workDir);
    store =
        new RevocationStore(
            db.jdbc, new CredentialQueries(db.jdbc), new RevocationRetryQueue(db.jdbc));
  }

  @AfterAll
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Test
  void credentialForABlockedPodUidCannotBeRecorded() {
    String uid = UUID.randomUUID().toString();
    insertCredential("blocked-pod", uid, "v-blocked-1");
    db.transactions.executeWithoutResult(
        tx -> assertThat(store.block(uid, "public", "blocked-pod", "INC-1", "sre")).isTrue());

    assertThatThrownBy(() -> insertCredential("blocked-pod", uid, "v-blocked-2"))
        .isInstanceOf(DataAccessException.class)
        .rootCause()
        .isInstanceOfSatisfying(
            SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("CB001"));
    // The replacement pod (same name, new UID) is not affected.
    insertCredential("blocked-pod", UUID.randomUUID().toString(), "v-blocked-3");
    assertThat(store.isBlocked(uid)).isTrue();
    assertThat(store.podUidsOf("public", "blocked-pod")).hasSize(2).contains(uid);
  }

  @Test
  void blockingTwiceKeepsTheFirstBlock() {
    String uid = UUID.randomUUID().toString();
    insertCredential("twice", uid, "v-twice-1");

    db.transactions.executeWithoutResult(
        tx -> store.block(uid, "public", "twice", "first", "alice"));
    boolean again =
        db.transactions.execute(tx -> store.block(uid, "public", "twice", "second", "bob"));

    assertThat(again).isFalse();
    assertThat(store.blocksOf("public", "twice"))
        .singleElement()
        .satisfies(
            block -> {
              assertThat(block.reason()).isEqualTo("first");
              assertThat(block.blockedBy()).isEqualTo("alice");
            });
  }

  @Test
  void auditRecordKeepsWhoWhyWhichPodAndWhichUsers() {
    UUID credential = insertCredential("audited", "uid-audited", "v-audited-1");
    Instant before = Instant.now().minusSeconds(1);

    store.appendAudit(
        "system:serviceaccount:ops:sre",
        "POD_REVOKED",
        "public",
        "audited",
        List.of("uid-audited"),
        List.of(credential),
        List.of("v-audited-1"),
        "INC-7",
        "replica-a");

    AuditEvent event = store.audit("public", "audited", 10).get(0);
    assertThat(event.actor()).isEqualTo("system:serviceaccount:ops:sre");
    assertThat(event.podUids()).containsExactly("uid-audited");
    assertThat(event.credentialIds()).containsExactly(credential);
    assertThat(event.usernames()).containsExactly("v-audited-1");
    assertThat(event.reason()).isEqualTo("INC-7");
    assertThat(event.time()).isAfter(before);
    assertThat(store.auditedCredentialsOf("public", "audited")).containsExactly(credential);
    assertThat(store.revokedSince(before))
        .contains(new RevocationMessage.CredentialRevoked(credential, "POD_REVOKED"));
  }

  @Test
  void replayFindsCredentialsOperatorsEndedWhoseAuditRecordIsNotWrittenYet() {
    Instant since = Instant.now().minusSeconds(1);
    // A pod revocation in progress: its pod is blocked and one credential ended, but its audit
    // record waits for Vault to revoke the pod's other credentials.
    String blockedUid = UUID.randomUUID().toString();
    UUID ofBlockedPod = insertCredential("replayed-pod", blockedUid, "v-replayed-1");
    db.transactions.executeWithoutResult(
        tx -> store.block(blockedUid, "public", "replayed-pod", "INC-9", "sre"));
    end(ofBlockedPod, "ADMIN", Instant.now());
    // One credential revoked on its own, its record not written yet either.
    UUID single = insertCredential("replayed-one", UUID.randomUUID().toString(), "v-replayed-2");
    end(single, "ADMIN", Instant.now());
    // Audited: the audit trail's action stands.
    UUID audited = insertCredential("replayed-audited", UUID.randomUUID().toString(), "v-r-3");
    end(audited, "ADMIN", Instant.now());
    store.appendAudit(
        "sre",
        "POD_REVOKED",
        "public",
        "replayed-audited",
        List.of(),
        List.of(audited),
        List.of("v-r-3"),
        "INC-10",
        "replica-a");
    // Not an operator's, or before the replay's start.
    UUID released = insertCredential("replayed-released", UUID.randomUUID().toString(), "v-r-4");
    end(released, "RELEASE", Instant.now());
    UUID earlier = insertCredential("replayed-earlier", UUID.randomUUID().toString(), "v-r-5");
    end(earlier, "ADMIN", since.minusSeconds(60));

    assertThat(store.revokedSince(since))
        .contains(
            new RevocationMessage.CredentialRevoked(ofBlockedPod, "POD_REVOKED"),
            new RevocationMessage.CredentialRevoked(single, "CREDENTIAL_REVOKED"),
            new RevocationMessage.CredentialRevoked(audited, "POD_REVOKED"))
        .extracting(RevocationMessage.CredentialRevoked::credentialId)
        .doesNotHaveDuplicates()
        .doesNotContain(released, earlier);
  }

  private static void end(UUID credential, String reason, Instant at) {
    db.jdbc
        .sql(
            "UPDATE credential SET state = CASE WHEN :reason = 'RELEASE' THEN 'RELEASED'"
                + " ELSE 'REVOKED' END, end_reason = :reason, end_time = :at WHERE id = :id")
        .param("reason", reason)
        .param("at", java.time.OffsetDateTime.ofInstant(at, java.time.ZoneOffset.UTC))
        .param("id", credential)
        .update();
  }

  @Test
  void searchWithoutFiltersFindsEverythingAndEachFilterNarrowsIt() {
    UUID mine = insertCredential("searched", "uid-searched", "v-searched-1");

    assertThat(store.search(new CredentialQuery(null, null, null, null, false, 1000)))
        .extracting(CredentialSummary::id)
        .contains(mine);
    assertThat(store.search(new CredentialQuery(null, null, null, "v-searched-1", false, 10)))
        .singleElement()
        .satisfies(c -> assertThat(c.podName()).isEqualTo("searched"));
    assertThat(store.search(new CredentialQuery("other", null, null, "v-searched-1", false, 10)))
        .isEmpty();
    assertThat(store.search(new CredentialQuery("public", "searched", "db1", null, true, 10)))
        .extracting(CredentialSummary::id)
        .containsExactly(mine);
  }

  @Test
  void queueShowsRevocationsVaultHasNotConfirmed() {
    UUID queued = insertCredential("queued", "uid-queued", "v-queued-1");
    db.jdbc
        .sql(
            "INSERT INTO revocation_retry (credential_id, lease_id, trigger, attempts, next_attempt_time,"
                + " last_failure) VALUES (:id, 'database/creds/db1/x', 'ADMIN', 2, now(), 'VAULT_UNAVAILABLE')")
        .param("id", queued)
        .update();

    assertThat(store.queue("public", 10))
        .filteredOn(q -> q.credentialId().equals(queued))
        .singleElement()
        .satisfies(
            q -> {
              assertThat(q.username()).isEqualTo("v-queued-1");
              assertThat(q.attempts()).isEqualTo(2);
              assertThat(q.lastFailure()).isEqualTo("VAULT_UNAVAILABLE");
            });
    assertThat(store.queued(List.of(queued))).containsExactly(queued);
  }

  private static UUID insertCredential(String pod, String podUid, String username) {
    return db.insertCredential("application", pod, podUid, username, null);
  }
}
