package io.credbroker.broker.lease;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The persisted queue of revocations Vault has not confirmed yet (table {@code revocation_retry}).
 *
 * <p>A credential enters it in the statement that ends the credential ({@link
 * CredentialStore#endAndQueue}) and leaves it only when Vault confirmed the revocation. Any replica
 * works it: {@link #claimDue} takes due rows with {@code FOR UPDATE SKIP LOCKED} and pushes their
 * next attempt out by a claim lease, so two replicas never try the same row at once and a replica
 * that dies mid-attempt only delays the row by that lease.
 *
 * <p>A confirmation is not deleted at once: its row goes with the next batch of confirmations (one
 * statement for up to {@link #CONFIRMATION_BATCH} of them, or at the retry worker's next pass,
 * about a poll interval later). Until then the row's next attempt is still a claim lease away, so
 * no replica tries it, and this replica's reads no longer count it as waiting. A row whose
 * confirmation is lost (a crash, or the state database failing the delete) is revoked again after
 * its claim lease: Vault revokes a lease idempotently.
 *
 * <p>Thread-safe; every method is at most two auto-committed statements.
 */
public class RevocationRetryQueue {

  /**
   * How long an attempt in progress keeps its row from other replicas: only a replica that died
   * mid-attempt leaves it that long.
   */
  static final Duration CLAIM_LEASE = Duration.ofSeconds(30);

  private static final String COLUMNS =
      "credential_id, lease_id, trigger, attempts, next_attempt_time, last_failure, enqueued_time";

  /**
   * One revocation waiting for Vault.
   *
   * @param credentialId the credential
   * @param leaseId its Vault lease
   * @param trigger why it is being revoked
   * @param attempts how many attempts failed so far
   * @param nextAttemptTime when the next attempt is due
   * @param lastFailure a short classification of the last failure (e.g. {@code VAULT_UNAVAILABLE}),
   *     or {@code null} before the first attempt finished
   * @param enqueuedTime when it entered the queue
   */
  public record PendingRevocation(
      UUID credentialId,
      String leaseId,
      RevocationTrigger trigger,
      int attempts,
      Instant nextAttemptTime,
      @Nullable String lastFailure,
      Instant enqueuedTime) {

    public PendingRevocation {
      Objects.requireNonNull(credentialId, "credentialId");
      Objects.requireNonNull(leaseId, "leaseId");
      Objects.requireNonNull(trigger, "trigger");
      Objects.requireNonNull(nextAttemptTime, "nextAttemptTime");
      Objects.requireNonNull(enqueuedTime, "enqueuedTime");
    }
  }

  /** Confirmations deleted in one statement as soon as this many wait. */
  static final int CONFIRMATION_BATCH = 32;

  /**
   * Most confirmations kept for a later delete while the state database refuses them; one beyond it
   * is left to be revoked again after its claim lease.
   */
  static final int MAX_UNDELETED_CONFIRMATIONS = 10_000;

  private final JdbcClient jdbc;

  /** Credentials Vault confirmed whose rows have not been deleted yet. */
  private final Set<UUID> confirmedUndeleted = ConcurrentHashMap.newKeySet();

  /** Whether a thread is deleting confirmations now: one at a time. */
  private final AtomicBoolean deleting = new AtomicBoolean();

  public RevocationRetryQueue(JdbcClient jdbc) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
  }

  /** The waiting revocations, the longest-waiting first. */
  public List<PendingRevocation> list(int limit) {
    deleteConfirmed();
    return jdbc.sql(
            "SELECT " + COLUMNS + " FROM revocation_retry ORDER BY enqueued_time LIMIT :limit")
        .param("limit", limit)
        .query(RevocationRetryQueue::map)
        .list();
  }

  /** How many revocations wait for Vault. */
  public long depth() {
    deleteConfirmed();
    return jdbc.sql("SELECT count(*) FROM revocation_retry").query(Long.class).single();
  }

  /**
   * How long the longest-waiting revocation has waited for Vault, by the state database's clock (so
   * that replicas with skewed clocks agree); zero when none waits.
   */
  public Duration oldestAge() {
    deleteConfirmed();
    double seconds =
        jdbc.sql(
                "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(enqueued_time)), 0)"
                    + " FROM revocation_retry")
            .query(Double.class)
            .single();
    return Duration.ofMillis(Math.max(0, Math.round(seconds * 1000)));
  }

  /** Whether the credential's revocation still waits for Vault. */
  public boolean contains(UUID credentialId) {
    if (confirmedUndeleted.contains(credentialId)) {
      return false;
    }
    // Positional parameters on the release path, as CredentialStore's.
    return jdbc.sql("SELECT count(*) FROM revocation_retry WHERE credential_id = ?")
            .param(credentialId)
            .query(Long.class)
            .single()
        > 0;
  }

  /** Of these credentials, the ones whose revocation Vault has not confirmed yet. */
  public Set<UUID> queuedAmong(Collection<UUID> ids) {
    if (ids.isEmpty()) {
      return Set.of();
    }
    Set<UUID> queued =
        new HashSet<>(
            jdbc.sql("SELECT credential_id FROM revocation_retry WHERE credential_id IN (:ids)")
                .param("ids", List.copyOf(ids))
                .query(UUID.class)
                .list());
    queued.removeAll(confirmedUndeleted);
    return Set.copyOf(queued);
  }

  /**
   * The waiting revocations with their credential's holder, oldest first, optionally of one
   * namespace; the slice's window bounds the time they were queued.
   */
  public List<QueuedRevocation> waiting(@Nullable String namespace, ListSlice slice) {
    deleteConfirmed();
    return slice
        .bind(
            jdbc.sql(
                    "SELECT r.credential_id, c.username, c.namespace, c.pod_name, r.trigger, r.attempts,"
                        + " r.next_attempt_time, r.last_failure, r.enqueued_time"
                        + " FROM revocation_retry r JOIN credential c ON c.id = r.credential_id"
                        + " WHERE (CAST(:ns AS text) IS NULL OR c.namespace = :ns)"
                        + " AND (CAST(:since AS timestamptz) IS NULL OR r.enqueued_time >= :since)"
                        + " AND (CAST(:until AS timestamptz) IS NULL OR r.enqueued_time < :until)"
                        + " AND (CAST(:afterTime AS timestamptz) IS NULL OR r.enqueued_time > :afterTime"
                        + " OR (r.enqueued_time = :afterTime AND r.credential_id > CAST(:afterKey AS uuid)))"
                        + " ORDER BY r.enqueued_time, r.credential_id LIMIT :limit")
                .param("ns", namespace))
        .query(
            (rs, row) ->
                new QueuedRevocation(
                    rs.getObject("credential_id", UUID.class),
                    rs.getString("username"),
                    rs.getString("namespace"),
                    rs.getString("pod_name"),
                    rs.getString("trigger"),
                    rs.getInt("attempts"),
                    rs.getObject("next_attempt_time", OffsetDateTime.class).toInstant(),
                    rs.getString("last_failure"),
                    rs.getObject("enqueued_time", OffsetDateTime.class).toInstant()))
        .list();
  }

  /**
   * Vault confirmed the revocation: its row is deleted with the next batch of confirmations. Every
   * release confirms one, and a delete of its own per release was a sixth of a release's cost.
   */
  void confirmed(UUID credentialId) {
    if (confirmedUndeleted.size() < MAX_UNDELETED_CONFIRMATIONS) {
      confirmedUndeleted.add(credentialId);
    }
    if (confirmedUndeleted.size() >= CONFIRMATION_BATCH) {
      deleteConfirmed();
    }
  }

  /**
   * Deletes the rows of the confirmations not deleted yet, in one statement; nothing when another
   * thread is deleting them now. A failure keeps them for the next call (the retry worker makes one
   * at every pass) and is thrown.
   */
  void deleteConfirmed() {
    if (confirmedUndeleted.isEmpty() || !deleting.compareAndSet(false, true)) {
      return;
    }
    try {
      UUID[] batch = confirmedUndeleted.toArray(UUID[]::new);
      jdbc.sql("DELETE FROM revocation_retry WHERE credential_id = ANY(?)").param(batch).update();
      for (UUID deleted : batch) {
        confirmedUndeleted.remove(deleted);
      }
    } finally {
      deleting.set(false);
    }
  }

  /**
   * Leaves a queued revocation to the queue, due now, without an attempt: its caller did not ask
   * Vault ({@code reason} says why; shown as its last failure until it is revoked).
   */
  void deferred(UUID credentialId, Instant now, String reason) {
    jdbc.sql(
            "UPDATE revocation_retry SET next_attempt_time = :next, last_failure = :reason"
                + " WHERE credential_id = :id")
        .param("next", utc(now))
        .param("reason", reason)
        .param("id", credentialId)
        .update();
  }

  /** An attempt failed; try again at {@code nextAttempt}. */
  void failed(UUID credentialId, Instant nextAttempt, String failure) {
    jdbc.sql(
            "UPDATE revocation_retry SET attempts = attempts + 1, next_attempt_time = :next,"
                + " last_failure = :failure WHERE credential_id = :id")
        .param("next", utc(nextAttempt))
        .param("failure", failure)
        .param("id", credentialId)
        .update();
  }

  /**
   * Takes up to {@code limit} due revocations for this replica to attempt now, pushing their next
   * attempt {@code claimLease} out so that no other replica tries them meanwhile.
   */
  List<PendingRevocation> claimDue(Instant now, Duration claimLease, int limit) {
    deleteConfirmed();
    return jdbc.sql(
            "UPDATE revocation_retry SET next_attempt_time = :leaseEnd WHERE credential_id IN"
                + " (SELECT credential_id FROM revocation_retry WHERE next_attempt_time <= :now"
                + " ORDER BY next_attempt_time LIMIT :limit FOR UPDATE SKIP LOCKED)"
                + " RETURNING "
                + COLUMNS)
        .param("leaseEnd", utc(now.plus(claimLease)))
        .param("now", utc(now))
        .param("limit", limit)
        .query(RevocationRetryQueue::map)
        .list();
  }

  private static PendingRevocation map(ResultSet rs, int row) throws SQLException {
    return new PendingRevocation(
        rs.getObject("credential_id", UUID.class),
        rs.getString("lease_id"),
        RevocationTrigger.valueOf(rs.getString("trigger")),
        rs.getInt("attempts"),
        rs.getObject("next_attempt_time", OffsetDateTime.class).toInstant(),
        rs.getString("last_failure"),
        rs.getObject("enqueued_time", OffsetDateTime.class).toInstant());
  }

  private static OffsetDateTime utc(Instant instant) {
    return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
  }
}
