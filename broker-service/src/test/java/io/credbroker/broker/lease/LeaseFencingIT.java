package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.cluster.TakeOver;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.revocation.StateDatabase;
import io.credbroker.broker.vault.LeaseRenewal;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mockito.ArgumentCaptor;

/**
 * Fencing on the real schema in PostgreSQL: a replica that read one of its credentials, paused (a
 * long GC, SIGSTOP, a network cut) and was presumed dead meanwhile, so that another replica claimed
 * the credential, acts on its stale reading when it resumes. Its renewal and its revocation are
 * refused before they reach Vault and leave the credential as its new holder has it; a stream that
 * still holds it on the paused replica is ended with UNAVAILABLE so that its client resumes where
 * the credential is kept now.
 *
 * <p>Also, on the same stand: the backoff of a rotation that keeps failing after its renewal.
 */
class LeaseFencingIT {

  private static final Binding DB1 = LeaseTestSettings.DB1;
  private static final AtomicInteger replicas = new AtomicInteger();

  @TempDir static Path workDir;
  private static StateDatabase db;

  @BeforeAll
  static void migrate() {
    db = new StateDatabase(workDir);
  }

  @AfterAll
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Test
  void renewalOfALeaseClaimedMeanwhileNeverReachesVault() {
    Stand stand = new Stand();
    UUID id = stand.credential("renewal_due_time = now() - interval '1 second'", UUID.randomUUID());
    Map<String, Object> before = row(id);
    stand.readByPausedReplica(id);

    stand.claimedByAnother();

    assertThat(stand.keeper.tend(id)).isNull();
    verifyNoInteractions(stand.vault);
    Map<String, Object> after = row(id);
    assertThat(after.get("owner_replica")).isEqualTo(stand.other);
    assertThat(after.get("state")).isEqualTo("ACTIVE");
    assertThat(after.get("expire_time")).isEqualTo(before.get("expire_time"));
    assertThat(after.get("renewal_failures")).isEqualTo(0);
    // The paused replica's stream of it is sent to resume elsewhere.
    ArgumentCaptor<BrokerException> why = ArgumentCaptor.forClass(BrokerException.class);
    verify(stand.streams).end(eq(id), why.capture());
    assertThat(why.getValue().reason().category()).isEqualTo(BrokerException.Category.UNAVAILABLE);
  }

  @Test
  void revocationOfACredentialClaimedMeanwhileIsRefusedAndNeverReachesVault() {
    Stand stand = new Stand();
    UUID id = stand.abandonedCredential();
    stand.readByPausedReplica(id);

    stand.claimedByAnother();

    assertThat(stand.keeper.tend(id)).isNull();
    verifyNoInteractions(stand.vault);
    Map<String, Object> after = row(id);
    assertThat(after.get("state")).isEqualTo("ACTIVE");
    assertThat(after.get("owner_replica")).isEqualTo(stand.other);
    assertThat(queuedRevocations(id)).isZero();
  }

  @Test
  void revocationIsRefusedWhenAStreamResumedTheCredentialBackOnThePausedReplica() {
    Stand stand = new Stand();
    UUID id = stand.abandonedCredential();
    stand.readByPausedReplica(id);
    stand.claimedByAnother();
    // Its pod resumed it, on the very replica that paused: the owner is the same again, but the
    // reading (detached, no stream) is not what holds now.
    UUID resumedOn = UUID.randomUUID();
    assertThat(
            new CredentialStore(db.jdbc)
                .attach(id, stand.podUid, stand.paused, resumedOn, Instant.now()))
        .isPresent();

    assertThat(stand.keeper.tend(id)).isNull();

    verifyNoInteractions(stand.vault);
    Map<String, Object> after = row(id);
    assertThat(after.get("state")).isEqualTo("ACTIVE");
    assertThat(after.get("stream_id")).isEqualTo(resumedOn);
    assertThat(queuedRevocations(id)).isZero();
  }

  @Test
  void revocationOnAReadingThatStillHoldsGoesThrough() {
    Stand stand = new Stand();
    UUID id = stand.abandonedCredential();
    stand.readByPausedReplica(id);

    assertThat(stand.keeper.tend(id)).isNull();

    verify(stand.vault).revoke(any());
    assertThat(row(id).get("state")).isEqualTo("REVOKED");
    assertThat(row(id).get("end_reason")).isEqualTo("ABANDONED");
  }

  @Test
  void aDeletedPodsCredentialIsNotDueAgainBeforeItsRevocationOnceItsOwnerHasLookedAtIt() {
    // A replica learned that the pod was deleted and marked its credentials: revoked after the
    // drain grace, and due now, so that the owner notices. After the owner's look nothing is due
    // before the revocation: the poller does not load and read the row again at every poll.
    Stand stand = new Stand();
    UUID id =
        stand.credential(
            "renewal_due_time = now() + interval '1 minute',"
                + " expire_time = now() + interval '1 minute'",
            UUID.randomUUID());
    CredentialStore store = new CredentialStore(db.jdbc);
    Instant revokeAt = Instant.now().plusSeconds(20).truncatedTo(ChronoUnit.MICROS);
    assertThat(store.endRenewalsOfPod(stand.podUid, revokeAt)).containsExactly(id);
    assertThat(store.dueBy(stand.paused, Instant.now(), Instant.now(), 10))
        .extracting(CredentialStore.Due::id)
        .containsExactly(id);

    assertThat(stand.keeper.tend(id)).isEqualTo(revokeAt);

    verifyNoInteractions(stand.vault);
    assertThat(store.dueBy(stand.paused, Instant.now(), Instant.now().plusSeconds(10), 10))
        .isEmpty();
    Map<String, Object> after = row(id);
    assertThat(after.get("state")).isEqualTo("ACTIVE");
    assertThat(after.get("revoke_trigger")).isEqualTo("POD_DELETED");
  }

  @Test
  void aRotationThatKeepsFailingAfterItsRenewalBacksOffLongerAtEveryLook() {
    // In its rotation window (its max TTL 30 s on, a 60 s lease): every look renews it (Vault
    // caps the renewal, which resets the stored failure count) and then fails to create its
    // replacement. Each retry must wait longer than the one before, not the shortest retry each
    // time, with a Vault renewal every 200 to 400 ms for as long as creations fail.
    Stand stand = new Stand();
    UUID id =
        stand.credential(
            "renewal_due_time = now() - interval '1 second',"
                + " expire_time = now() + interval '20 seconds',"
                + " max_expire_time = now() + interval '30 seconds'",
            UUID.randomUUID());
    when(stand.vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(stand.vault.issue(any(), any()))
        .thenThrow(new BrokerException(BrokerException.Reason.VAULT_UNAVAILABLE, "no creation"));

    List<Long> retryMillis = new ArrayList<>();
    for (int look = 1; look <= 4; look++) {
      // Due again, as the time until its retry has passed.
      db.jdbc
          .sql(
              "UPDATE credential SET renewal_due_time = now() - interval '1 second',"
                  + " next_action_time = now() WHERE id = :id")
          .param("id", id)
          .update();
      Instant before = Instant.now();
      assertThat(stand.keeper.tend(id)).isNotNull();
      Map<String, Object> after = row(id);
      assertThat(after.get("renewal_failures")).as("failures after look %d", look).isEqualTo(look);
      Instant due = ((Timestamp) after.get("renewal_due_time")).toInstant();
      retryMillis.add(Duration.between(before, due).toMillis());
    }
    // Jittered in the upper half of 200 ms doubled once per earlier failure: the fourth retry is
    // at least 800 ms away (the first 200 ms).
    assertThat(retryMillis.get(3)).isGreaterThanOrEqualTo(790);
    verify(stand.vault, times(4)).renewLease(any(), any());
    verify(stand.streams, never()).rotated(any(), any(), any(), any());
  }

  private static Map<String, Object> row(UUID id) {
    return db.jdbc
        .sql(
            "SELECT owner_replica, state, expire_time, renewal_failures, renewal_due_time,"
                + " stream_id, end_reason, revoke_trigger FROM credential WHERE id = :id")
        .param("id", id)
        .query()
        .singleRow();
  }

  private static long queuedRevocations(UUID id) {
    return db.jdbc
        .sql("SELECT count(*) FROM revocation_retry WHERE credential_id = :id")
        .param("id", id)
        .query(Long.class)
        .single();
  }

  /**
   * Two replicas of their own: {@code paused}, whose keeper acts on what it read before it paused,
   * and {@code other}, which claims the paused one's credentials once its heartbeat is stale.
   */
  private static final class Stand {
    final String paused = "paused-" + replicas.incrementAndGet();
    final String other = "claimer-" + replicas.get();
    final String podUid = UUID.randomUUID().toString();
    final VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
    final CredentialStreams streams = mock(CredentialStreams.class);
    private @Nullable LeaseEntry stale;
    final LeaseKeeper keeper;

    Stand() {
      CredentialStore store =
          new CredentialStore(db.jdbc) {
            @Override
            Optional<LeaseEntry> findEntry(UUID id) {
              // What the paused replica read before it paused.
              return stale != null && stale.id().equals(id)
                  ? Optional.of(stale)
                  : super.findEntry(id);
            }
          };
      CredentialQueries credentials = new CredentialQueries(db.jdbc);
      SimpleMeterRegistry meters = new SimpleMeterRegistry();
      LeaseMetrics metrics = new LeaseMetrics(meters);
      BrokerProperties.Lease settings = LeaseTestSettings.lease();
      RevocationRetryQueue retryQueue = new RevocationRetryQueue(db.jdbc);
      LeaseService leases =
          new LeaseService(
              vault,
              store,
              credentials,
              retryQueue,
              new ReplicaId(paused),
              Clock.systemUTC(),
              metrics,
              settings,
              LeaseTestSettings.releaseRevocations());
      keeper =
          new LeaseKeeper(
              store,
              credentials,
              leases,
              vault,
              retryQueue,
              new Bindings(List.of(DB1)),
              streams,
              new ReplicaId(paused),
              Clock.systemUTC(),
              settings,
              metrics);
      when(streams.holds(any())).thenReturn(true);
      db.jdbc
          .sql("INSERT INTO replica (id, heartbeat_time) VALUES (:id, now())")
          .param("id", paused)
          .update();
    }

    /** A live stream credential of the paused replica, held by {@code streamId}, and more. */
    UUID credential(String schedule, @Nullable UUID streamId) {
      UUID id = db.insertCredential("application", "app", podUid, "v-" + UUID.randomUUID(), paused);
      db.jdbc
          .sql(
              "UPDATE credential SET lease_ttl_seconds = 60, next_action_time = now(),"
                  + " stream_id = :stream, "
                  + schedule
                  + " WHERE id = :id")
          .param("stream", streamId)
          .param("id", id)
          .update();
      return id;
    }

    /** A credential whose stream broke longer ago than the reconnect grace: due to be revoked. */
    UUID abandonedCredential() {
      return credential(
          "renewal_due_time = now() + interval '1 minute',"
              + " detached_time = now() - interval '10 minutes'",
          null);
    }

    void readByPausedReplica(UUID id) {
      stale = new CredentialStore(db.jdbc).findEntry(id).orElseThrow();
    }

    /** The paused replica's heartbeat goes stale and the other replica claims its credentials. */
    void claimedByAnother() {
      db.jdbc
          .sql("UPDATE replica SET heartbeat_time = :old WHERE id = :id")
          .param("old", OffsetDateTime.now().minusMinutes(1))
          .param("id", paused)
          .update();
      assertThat(TakeOver.claimStale(db.jdbc, other)).isPositive();
    }
  }
}
