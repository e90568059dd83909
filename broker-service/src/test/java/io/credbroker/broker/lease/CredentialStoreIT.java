package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.atLeastOnce;
import static org.mockito.Mockito.spy;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoMoreInteractions;

import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.lease.CredentialQueries.IdentityRole;
import io.credbroker.broker.revocation.StateDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The schedule's writes that race with another replica's marks, on a real PostgreSQL: a rotation
 * that is under way when a credential is marked for an ending (its pod deleted, its binding gone)
 * must not undo the mark.
 */
class CredentialStoreIT {

  private static final String REPLICA = "replica-a";

  @TempDir static Path workDir;
  private static StateDatabase db;
  private static CredentialStore store;

  @BeforeAll
  static void migrate() {
    db = new StateDatabase(workDir);
    store = new CredentialStore(db.jdbc);
  }

  @AfterAll
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Test
  void rotationDoesNotSupersedeACredentialMarkedUnboundMeanwhile() {
    UUID id = insertCredential("unbound-sa");
    Instant revokeAt = Instant.now().plusSeconds(5);
    assertThat(
            store.endRenewalsUnbound(
                new IdentityRole("public", "unbound-sa", "db1"), revokeAt, Instant.now()))
        .isEqualTo(1);

    boolean superseded =
        store.supersede(seen(id), Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED);

    assertThat(superseded).isFalse();
    assertThat(trigger(id)).isEqualTo("UNBOUND");
  }

  @Test
  void rotationDoesNotSupersedeACredentialOfAPodDeletedMeanwhile() {
    String podUid = UUID.randomUUID().toString();
    UUID id = insertCredential("application", podUid);
    assertThat(store.endRenewalsOfPod(podUid, Instant.now().plusSeconds(5))).containsExactly(id);

    boolean superseded =
        store.supersede(seen(id), Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED);

    assertThat(superseded).isFalse();
    assertThat(trigger(id)).isEqualTo("POD_DELETED");
  }

  @Test
  void rotationDoesNotSupersedeACredentialResumedOnAnotherStreamMeanwhile() {
    String podUid = UUID.randomUUID().toString();
    UUID id = insertCredential("application", podUid);
    // The keeper reads it on its stream and goes to Vault for a replacement; meanwhile that stream
    // breaks and the pod resumes the credential here on a new one.
    LeaseEntry seen = readOnAStreamThatThenEnds(id, podUid);
    UUID resumed = UUID.randomUUID();
    assertThat(store.attach(id, podUid, REPLICA, resumed, Instant.now()))
        .hasValueSatisfying(attached -> assertThat(attached.streamId()).isEqualTo(resumed));

    // Not replaced under the resumed stream (the replacement was issued for the old one, which
    // nobody will detach); the credential stays live on the stream that resumed it.
    assertThat(supersede(seen)).isFalse();
    assertThat(seen(id).streamId()).isEqualTo(resumed);
    assertThat(seen(id).revokeAfter()).isNull();
  }

  @Test
  void rotationDoesNotSupersedeACredentialWhoseStreamEndedMeanwhile() {
    String podUid = UUID.randomUUID().toString();
    UUID id = insertCredential("application", podUid);
    LeaseEntry seen = readOnAStreamThatThenEnds(id, podUid);

    assertThat(supersede(seen)).isFalse();
    assertThat(seen(id).record().detachedTime()).isNotNull();
    assertThat(seen(id).revokeAfter()).isNull();
  }

  /** Attaches the credential to a new stream, reads it there, then ends that stream. */
  private static LeaseEntry readOnAStreamThatThenEnds(UUID id, String podUid) {
    UUID stream = UUID.randomUUID();
    assertThat(store.attach(id, podUid, REPLICA, stream, Instant.now())).isPresent();
    LeaseEntry seen = seen(id);
    assertThat(store.detachStream(stream, REPLICA, Instant.now(), Instant.now().plusSeconds(60)))
        .isEqualTo(1);
    return seen;
  }

  /** A rotation's supersede of the credential read as {@code seen}, revoked in an hour. */
  private static boolean supersede(LeaseEntry seen) {
    return store.supersede(seen, Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED);
  }

  @Test
  void detachingACredentialNoStreamHoldsLeavesTheOneItsStreamHoldsAttached() {
    // A rotation's replacement whose predecessor's row could not be updated (the state database
    // failed in the middle): both rows name the stream, which is open and holds the replacement.
    // Before, the predecessor's detachment took the whole stream's rows, so the replacement in use
    // was revoked under its pod when the grace ended.
    String podUid = UUID.randomUUID().toString();
    UUID stale = insertCredential("application", podUid);
    UUID inUse = insertCredential("application", podUid);
    UUID stream = UUID.randomUUID();
    Instant now = Instant.now();
    assertThat(store.attach(stale, podUid, REPLICA, stream, now)).isPresent();
    assertThat(store.attach(inUse, podUid, REPLICA, stream, now)).isPresent();

    assertThat(store.detachCredential(stale, stream, REPLICA, now, now.plusSeconds(60)))
        .isEqualTo(1);

    assertThat(seen(stale).streamId()).isNull();
    assertThat(seen(inUse).streamId()).isEqualTo(stream);
    assertThat(
            db.jdbc
                .sql("SELECT detached_time IS NULL FROM credential WHERE id = :id")
                .param("id", inUse)
                .query(Boolean.class)
                .single())
        .isTrue();
    // Another stream's credential, or one already detached, is not touched.
    assertThat(store.detachCredential(inUse, UUID.randomUUID(), REPLICA, now, now.plusSeconds(60)))
        .isZero();
    assertThat(store.detachCredential(stale, stream, REPLICA, now, now.plusSeconds(60))).isZero();
  }

  @Test
  void leasesKnownToHaveRunOutAreLoadedAfterEveryOtherDueOne() {
    // Two leases this replica renewed, on open streams, that ran out while they waited (due
    // earliest), and one renewal that can still succeed, due later. With a limit of two, the
    // renewal must be loaded: before, the two run-out leases filled the limit at every poll, and
    // the keeper, which serves them only when nothing else is due, served them instead.
    String replica = "replica-" + UUID.randomUUID();
    Instant now = Instant.now();
    UUID ranOutFirst = dueCredential(replica, now.minusSeconds(30), now.minusSeconds(5));
    UUID ranOutSecond = dueCredential(replica, now.minusSeconds(20), now.minusSeconds(5));
    UUID renewable = dueCredential(replica, now.minusSeconds(1), now.plusSeconds(60));

    assertThat(store.dueBy(replica, now, now, 2))
        .extracting(CredentialStore.Due::id)
        .containsExactly(renewable, ranOutFirst);
    assertThat(store.dueBy(replica, now, now, 3))
        .extracting(CredentialStore.Due::id)
        .containsExactly(renewable, ranOutFirst, ranOutSecond);
  }

  /** A live credential of {@code replica}'s, renewed by it to {@code expire}, on a stream. */
  private static UUID dueCredential(String replica, Instant due, Instant expire) {
    UUID id =
        db.insertCredential(
            "application",
            "app-1",
            UUID.randomUUID().toString(),
            "v-" + UUID.randomUUID(),
            replica);
    db.jdbc
        .sql(
            "UPDATE credential SET renewal_due_time = :due, next_action_time = :due,"
                + " expiry_granted_to_owner = true, stream_id = :stream, expire_time = :expire"
                + " WHERE id = :id")
        .param("due", due.atOffset(ZoneOffset.UTC))
        .param("stream", UUID.randomUUID())
        .param("expire", expire.atOffset(ZoneOffset.UTC))
        .param("id", id)
        .update();
    return id;
  }

  @Test
  void aReleaseOfACredentialARotationReplacedSaysSoAndItsReplacementIsFound() {
    String podUid = UUID.randomUUID().toString();
    UUID replaced = insertCredential("application", podUid);
    UUID plain = insertCredential("application", podUid);
    assertThat(supersede(seen(replaced))).isTrue();
    UUID replacement = insertCredential("application", podUid);
    db.jdbc
        .sql("UPDATE credential SET replaces = :replaced WHERE id = :id")
        .param("replaced", replaced)
        .param("id", replacement)
        .update();
    CredentialQueries queries = new CredentialQueries(db.jdbc);
    Instant now = Instant.now();

    assertThat(
            store.endOwnedAndQueue(
                replaced,
                podUid,
                CredentialState.RELEASED,
                RevocationTrigger.RELEASE,
                now,
                now.plusSeconds(30)))
        .hasValueSatisfying(ended -> assertThat(ended.marked()).isTrue());
    assertThat(
            store.endOwnedAndQueue(
                plain,
                podUid,
                CredentialState.RELEASED,
                RevocationTrigger.RELEASE,
                now,
                now.plusSeconds(30)))
        .hasValueSatisfying(ended -> assertThat(ended.marked()).isFalse());
    assertThat(queries.findLiveReplacements(replaced, podUid))
        .extracting(CredentialRecord::id)
        .containsExactly(replacement);
    assertThat(queries.findLiveReplacements(replaced, UUID.randomUUID().toString())).isEmpty();
  }

  @Test
  void undoingASupersedeKeepsAMarkMadeAfterIt() {
    String podUid = UUID.randomUUID().toString();
    UUID id = insertCredential("application", podUid);
    Instant oldExpire = Instant.now().plusSeconds(3600);
    assertThat(store.supersede(seen(id), oldExpire, RevocationTrigger.EXPIRED)).isTrue();
    // The pod is deleted while the replacement is on its way to a stream that has gone.
    store.endRenewalsOfPod(podUid, Instant.now().plusSeconds(5));

    boolean restored = store.restoreSuperseded(id, REPLICA, Instant.now());

    assertThat(restored).isFalse();
    assertThat(trigger(id)).isEqualTo("POD_DELETED");
  }

  @Test
  void undoingASupersedeMakesAnUnmarkedCredentialResumableAgain() {
    UUID id = insertCredential("application");
    assertThat(
            store.supersede(seen(id), Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED))
        .isTrue();

    assertThat(store.restoreSuperseded(id, REPLICA, Instant.now())).isTrue();
    assertThat(trigger(id)).isNull();
  }

  /**
   * The statements of an issuance and a release (record, read, end and queue, the fenced variants,
   * the queue's check and removal) bind every value where it belongs, and none of them goes through
   * the named-parameter template: each is handed to the plain JdbcTemplate as written.
   */
  @Test
  void issuanceAndReleaseStatementsRoundTripWithoutNamedParameters() {
    NamedParameterJdbcTemplate named = spy(new NamedParameterJdbcTemplate(db.dataSource));
    JdbcClient jdbc = JdbcClient.create(named);
    CredentialStore hot = new CredentialStore(jdbc);
    CredentialQueries queries = new CredentialQueries(jdbc);
    RevocationRetryQueue queue = new RevocationRetryQueue(jdbc);
    Instant issued = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    // Every component set, the optional ones too, so that each of the insert's columns is checked.
    CredentialRecord record =
        new CredentialRecord(
            UUID.randomUUID(),
            "db1",
            "database",
            "db1-role",
            "database/creds/db1-role/" + UUID.randomUUID(),
            "v-" + UUID.randomUUID(),
            new PodIdentity("public", "application", "app-1", UUID.randomUUID().toString()),
            CredentialKind.STREAM,
            CredentialState.ACTIVE,
            true,
            REPLICA,
            issued,
            issued.plusSeconds(60),
            issued.plusSeconds(3600),
            insertCredential("application"),
            issued.plusSeconds(5),
            null,
            null,
            issued.plusSeconds(7200));
    UUID streamId = UUID.randomUUID();

    hot.insert(
        record, Duration.ofSeconds(60), issued.plusSeconds(40), issued.plusSeconds(45), streamId);
    assertThat(queries.findById(record.id())).contains(record);
    LeaseEntry entry = store.findEntry(record.id()).orElseThrow();
    assertThat(entry.record()).isEqualTo(record);
    assertThat(entry.leaseTtl()).isEqualTo(Duration.ofSeconds(60));
    assertThat(entry.renewalDue()).isEqualTo(issued.plusSeconds(40));
    assertThat(entry.nextAction()).isEqualTo(issued.plusSeconds(45));
    assertThat(entry.streamId()).isEqualTo(streamId);
    // Vault granted this expiry to the issuing owner: a renewal past it is known to be refused.
    assertThat(entry.expiryGrantedToOwner()).isTrue();
    assertThat(hot.stillHeldAsSeen(entry)).isTrue();
    // Read while another stream held it: a resume since makes the owner's fenced ending stale.
    LeaseEntry claimedSince =
        new LeaseEntry(
            record,
            entry.leaseTtl(),
            entry.renewalDue(),
            entry.nextAction(),
            UUID.randomUUID(),
            null,
            null,
            0,
            false,
            true);
    assertThat(hot.stillHeldAsSeen(claimedSince)).isFalse();
    Instant now = issued.plusSeconds(10);
    assertThat(
            hot.endAndQueue(
                record.id(),
                claimedSince,
                CredentialState.REVOKED,
                RevocationTrigger.EXPIRED,
                now,
                now.plusSeconds(30)))
        .isFalse();
    assertThat(queue.contains(record.id())).isFalse();

    assertThat(
            hot.endAndQueue(
                record.id(),
                entry,
                CredentialState.RELEASED,
                RevocationTrigger.RELEASE,
                now,
                now.plusSeconds(30)))
        .isTrue();
    assertThat(
            hot.endAndQueue(
                record.id(),
                CredentialState.RELEASED,
                RevocationTrigger.RELEASE,
                now,
                now.plusSeconds(30)))
        .isFalse();
    CredentialRecord ended = queries.findById(record.id()).orElseThrow();
    assertThat(ended.state()).isEqualTo(CredentialState.RELEASED);
    assertThat(ended.endTime()).isEqualTo(now);
    assertThat(ended.endReason()).isEqualTo("RELEASE");
    // Read through the test's own client: the queue's listing is not on the release path.
    assertThat(new RevocationRetryQueue(db.jdbc).list(1000))
        .filteredOn(pending -> pending.credentialId().equals(record.id()))
        .singleElement()
        .satisfies(
            pending -> {
              assertThat(pending.leaseId()).isEqualTo(record.leaseId());
              assertThat(pending.trigger()).isEqualTo(RevocationTrigger.RELEASE);
              assertThat(pending.nextAttemptTime()).isEqualTo(now.plusSeconds(30));
            });
    queue.confirmed(record.id());
    assertThat(queue.contains(record.id())).isFalse();

    // JdbcClient asks for the plain template once per statement; nothing else is called.
    verify(named, atLeastOnce()).getJdbcOperations();
    verifyNoMoreInteractions(named);
  }

  /**
   * A pod's release ends its live credential and queues the lease in one statement, which returns
   * what revoking it needs; another pod's credential, or one that ended already, is left as it is.
   */
  @Test
  void aReleaseEndsAndQueuesOnlyThePodsOwnLiveCredentialInOneStatement() {
    NamedParameterJdbcTemplate named = spy(new NamedParameterJdbcTemplate(db.dataSource));
    CredentialStore hot = new CredentialStore(JdbcClient.create(named));
    RevocationRetryQueue queue = new RevocationRetryQueue(db.jdbc);
    String podUid = UUID.randomUUID().toString();
    UUID replaced = insertCredential("application", podUid);
    UUID id = insertCredential("application", podUid);
    db.jdbc
        .sql("UPDATE credential SET replaces = :replaced WHERE id = :id")
        .param("replaced", replaced)
        .param("id", id)
        .update();
    Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    assertThat(
            hot.endOwnedAndQueue(
                id,
                UUID.randomUUID().toString(),
                CredentialState.RELEASED,
                RevocationTrigger.RELEASE,
                now,
                now.plusSeconds(30)))
        .isEmpty();
    assertThat(state(id)).isEqualTo("ACTIVE");
    assertThat(queue.contains(id)).isFalse();

    CredentialStore.EndedCredential ended =
        hot.endOwnedAndQueue(
                id,
                podUid,
                CredentialState.RELEASED,
                RevocationTrigger.RELEASE,
                now,
                now.plusSeconds(30))
            .orElseThrow();

    assertThat(ended.id()).isEqualTo(id);
    assertThat(ended.leaseId()).isEqualTo("database/creds/db1/" + id);
    assertThat(ended.username()).isEqualTo(username(id));
    assertThat(ended.replaces()).isEqualTo(replaced);
    assertThat(state(id)).isEqualTo("RELEASED");
    assertThat(queue.list(1000))
        .filteredOn(pending -> pending.credentialId().equals(id))
        .singleElement()
        .satisfies(
            pending -> {
              assertThat(pending.leaseId()).isEqualTo(ended.leaseId());
              assertThat(pending.trigger()).isEqualTo(RevocationTrigger.RELEASE);
              assertThat(pending.nextAttemptTime()).isEqualTo(now.plusSeconds(30));
            });
    assertThat(state(replaced)).isEqualTo("ACTIVE");
    assertThat(
            hot.endOwnedAndQueue(
                id, podUid, CredentialState.RELEASED, RevocationTrigger.RELEASE, now, now))
        .isEmpty();
    verify(named, atLeastOnce()).getJdbcOperations();
    verifyNoMoreInteractions(named);
  }

  private static String state(UUID id) {
    return column(id, "state");
  }

  private static String username(UUID id) {
    return column(id, "username");
  }

  /** One text column of a credential (the name is the test's own constant). */
  private static String column(UUID id, String name) {
    return db.jdbc
        .sql("SELECT " + name + " FROM credential WHERE id = :id")
        .param("id", id)
        .query(String.class)
        .single();
  }

  /** The credential's row as its owner reads it now. */
  private static LeaseEntry seen(UUID id) {
    return store.findEntry(id).orElseThrow();
  }

  private static String trigger(UUID id) {
    return db.jdbc
        .sql("SELECT revoke_trigger FROM credential WHERE id = :id")
        .param("id", id)
        .query(String.class)
        .optional()
        .orElse(null);
  }

  private static UUID insertCredential(String serviceAccount) {
    return insertCredential(serviceAccount, UUID.randomUUID().toString());
  }

  private static UUID insertCredential(String serviceAccount, String podUid) {
    return db.insertCredential(serviceAccount, "app-1", podUid, "v-" + UUID.randomUUID(), REPLICA);
  }
}
