package io.credbroker.broker.lease;

import static io.credbroker.broker.lease.CredentialRows.COLUMNS;
import static io.credbroker.broker.lease.CredentialRows.LIFECYCLE_COLUMNS;
import static io.credbroker.broker.lease.CredentialRows.instant;
import static io.credbroker.broker.lease.CredentialRows.nullableInstant;
import static io.credbroker.broker.lease.CredentialRows.utc;

import io.credbroker.broker.lease.CredentialQueries.IdentityRole;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Writes to the {@code credential} table: a credential recorded at issue, the schedule's
 * transitions (renewed, rotated, detached, resumed, ended; see the package's transition table) and
 * the reads those writes depend on ({@link #findEntry}, {@link #dueBy}, {@link #stillHeldAsSeen},
 * {@link #goneFromHere}), and the deletion of ended credentials. It keeps the name of the store the
 * schedule writes to; what is only read about credentials is in {@link CredentialQueries}. Every
 * statement uses bind parameters; no input is ever concatenated into SQL. There is no password
 * column, on purpose.
 *
 * <p>Lifecycle updates are conditional ({@code state = 'ACTIVE'}, and for the owner's work {@code
 * owner_replica = me}), so that a replica that lost a credential to another (resume, failover) or
 * to a revocation cannot overwrite what the other did; they report whether a row changed.
 *
 * <p>Thread-safe (stateless apart from the shared {@link JdbcClient}); statements run in their own
 * auto-committed transactions unless the caller opens one. {@link JdbcClient} already translates
 * every {@code SQLException} into a {@code DataAccessException}, so the class is a plain bean
 * (declared in {@link LeaseConfiguration}), not a {@code @Repository} behind Spring's translating
 * proxy, which cost a reflective call per statement on the issuance and release path.
 */
public class CredentialStore {

  private final JdbcClient jdbc;

  public CredentialStore(JdbcClient jdbc) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
  }

  // The statements of every issuance and release take positional parameters: JdbcClient hands them
  // to JdbcTemplate as they are, where named ones would be substituted (a new SQL string, argument
  // list and statement creator) on every call.

  /** {@link #insert}: the columns of {@link CredentialRows#COLUMNS}, then the schedule. */
  private static final String INSERT =
      "INSERT INTO credential ("
          + COLUMNS
          + ", lease_ttl_seconds, renewal_due_time, next_action_time, stream_id,"
          + " expiry_granted_to_owner)"
          + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
          + " true)";

  /**
   * The claim condition of a fenced write: the row is as the owner read it (owner, stream, detached
   * time; bound by {@link #sameClaim}, after the flag that turns it on).
   */
  private static final String SAME_CLAIM =
      " (owner_replica = ?"
          + " AND stream_id IS NOT DISTINCT FROM CAST(? AS uuid)"
          + " AND detached_time IS NOT DISTINCT FROM CAST(? AS timestamptz))";

  /** What ending a credential sets (after {@code SET}): state, end time, trigger. */
  private static final String ENDING =
      "state = ?, end_time = ?, end_reason = ?, renewal_due_time = NULL,"
          + " next_action_time = NULL, stream_id = NULL, updated_time = now()";

  /** Queues the lease of the credential just ended ({@code ended}): trigger, first retry. */
  private static final String QUEUE_ENDED =
      "INSERT INTO revocation_retry (credential_id, lease_id, trigger, next_attempt_time)"
          + " SELECT id, lease_id, ?, ? FROM ended ON CONFLICT (credential_id) DO NOTHING";

  /**
   * {@link #endAndQueue}: state, end time, trigger, id, {@link #SAME_CLAIM} with its flag, then the
   * queue row's trigger and first retry.
   */
  private static final String END_AND_QUEUE =
      "WITH ended AS (UPDATE credential SET "
          + ENDING
          + " WHERE id = ? AND state = 'ACTIVE' AND (NOT ? OR"
          + SAME_CLAIM
          + ") RETURNING id, lease_id) "
          + QUEUE_ENDED;

  /**
   * {@link #endOwnedAndQueue}: state, end time, trigger, id, the pod's UID, then the queue row's
   * trigger and first retry. A data-modifying {@code WITH} runs to completion whether or not the
   * query reads it.
   */
  private static final String END_OWNED_AND_QUEUE =
      "WITH ended AS (UPDATE credential SET "
          + ENDING
          + " WHERE id = ? AND state = 'ACTIVE' AND pod_uid = ?"
          + " RETURNING id, lease_id, username, replaces, revoke_after IS NOT NULL AS marked),"
          + " queued AS ("
          + QUEUE_ENDED
          + ") SELECT lease_id, username, replaces, marked FROM ended";

  /**
   * {@link #supersede}: revoke after, trigger, revoke after (the next action), id, then {@link
   * #SAME_CLAIM} with its flag. A credential marked meanwhile for an ending (its pod deleted, its
   * binding gone) is not replaced.
   */
  private static final String SUPERSEDE =
      "UPDATE credential SET revoke_after = ?, revoke_trigger = ?, renewal_due_time = NULL,"
          + " stream_id = NULL, next_action_time = ?, updated_time = now()"
          + " WHERE id = ? AND state = 'ACTIVE' AND revoke_after IS NULL AND ? AND"
          + SAME_CLAIM;

  /** {@link #stillHeldAsSeen}: id, then {@link #SAME_CLAIM} with its flag. */
  private static final String STILL_HELD =
      "SELECT id FROM credential WHERE id = ? AND state = 'ACTIVE' AND ? AND" + SAME_CLAIM;

  /**
   * Records a credential that Vault has just issued, with no schedule (nobody looks at it again).
   */
  public void insert(CredentialRecord record) {
    insert(record, null, null, null, null);
  }

  /**
   * Records a credential that Vault has just issued, with its schedule.
   *
   * @param leaseTtl what each renewal asks for
   * @param renewalDue when to renew first, or {@code null} when nobody renews it
   * @param nextAction when its owner must look at it first
   * @param streamId the stream it is issued on, or {@code null}
   */
  void insert(
      CredentialRecord record,
      @Nullable Duration leaseTtl,
      @Nullable Instant renewalDue,
      @Nullable Instant nextAction,
      @Nullable UUID streamId) {
    jdbc.sql(INSERT)
        .params(
            record.id(),
            record.databaseRole(),
            record.vaultMount(),
            record.vaultRole(),
            record.leaseId(),
            record.username(),
            record.owner().namespace(),
            record.owner().serviceAccount(),
            record.owner().podName(),
            record.owner().podUid(),
            record.kind().name(),
            record.state().name(),
            record.renewable(),
            record.ownerReplica(),
            utc(record.issueTime()),
            utc(record.expireTime()),
            utc(record.maxExpireTime()),
            record.replaces(),
            utc(record.detachedTime()),
            utc(record.endTime()),
            record.endReason(),
            utc(record.tokenExpireTime()),
            leaseTtl == null ? null : leaseTtl.toSeconds(),
            utc(renewalDue),
            utc(nextAction),
            streamId)
        .update();
  }

  /**
   * The part of ending a credential's renewals that every ending shares: revoked for {@code
   * :trigger} at {@code :at}, unless it was due to be revoked earlier for another reason, and never
   * renewed again. Followed by each ending's own {@code next_action_time}.
   */
  private static final String END_RENEWALS =
      " revoke_trigger = CASE WHEN revoke_after IS NOT NULL AND revoke_after < :at"
          + " THEN revoke_trigger ELSE :trigger END,"
          + " revoke_after = LEAST(COALESCE(revoke_after, :at), :at),"
          + " renewal_due_time = NULL,";

  /**
   * Ends the renewals of every live credential of a deleted pod UID, whoever owns it: nobody renews
   * or rotates it any more, it cannot be resumed ({@link #attach} wants no {@code revoke_after}),
   * and its owner revokes it at {@code revokeAt} for {@link RevocationTrigger#POD_DELETED} (or
   * earlier, when it was already due to be revoked earlier for another reason).
   *
   * @return the ids of the credentials concerned
   */
  public List<UUID> endRenewalsOfPod(String podUid, Instant revokeAt) {
    return jdbc.sql(
            "UPDATE credential SET"
                + END_RENEWALS
                + " next_action_time = LEAST(COALESCE(next_action_time, :at), :at),"
                + " updated_time = now()"
                + " WHERE pod_uid = :podUid AND state = 'ACTIVE' RETURNING id")
        .param("at", utc(revokeAt))
        .param("trigger", RevocationTrigger.POD_DELETED.name())
        .param("podUid", podUid)
        .query((rs, row) -> rs.getObject("id", UUID.class))
        .list();
  }

  /**
   * Ends the renewals of one live credential this replica owns because its identity is no longer
   * bound to its database role: as {@link #endRenewalsOfPod} does for a deleted pod, for {@link
   * RevocationTrigger#UNBOUND} (unless it was due to be revoked earlier for another reason), and it
   * is looked at again when it is due to be revoked.
   *
   * @return when it is revoked, or empty when it is not this replica's live credential
   */
  Optional<Instant> endRenewalsUnbound(UUID id, String replica, Instant revokeAt) {
    return jdbc.sql(
            "UPDATE credential SET"
                + END_RENEWALS
                + " next_action_time = LEAST(COALESCE(revoke_after, :at), :at),"
                + " updated_time = now()"
                + " WHERE id = :id AND owner_replica = :replica AND state = 'ACTIVE'"
                + " RETURNING revoke_after")
        .param("at", utc(revokeAt))
        .param("trigger", RevocationTrigger.UNBOUND.name())
        .param("id", id)
        .param("replica", replica)
        .query((rs, row) -> instant(rs, "revoke_after"))
        .optional();
  }

  /**
   * Ends the renewals of every live credential of {@code identityRole}, whoever owns it, because no
   * binding allows it any more: nobody renews or rotates it, it cannot be resumed, its owner looks
   * at it at {@code lookAt} (ending its stream) and revokes it at {@code revokeAt} for {@link
   * RevocationTrigger#UNBOUND}. A credential due to be revoked earlier anyway is left alone.
   *
   * @return how many credentials it ended
   */
  public int endRenewalsUnbound(IdentityRole identityRole, Instant revokeAt, Instant lookAt) {
    return jdbc.sql(
            "UPDATE credential SET revoke_trigger = 'UNBOUND', revoke_after = :at,"
                + " renewal_due_time = NULL, next_action_time = :lookAt, updated_time = now()"
                + " WHERE namespace = :namespace AND service_account = :serviceAccount"
                + " AND database_role = :databaseRole AND state = 'ACTIVE'"
                + " AND (revoke_after IS NULL OR revoke_after > :at)")
        .param("at", utc(revokeAt))
        .param("lookAt", utc(lookAt))
        .param("namespace", identityRole.namespace())
        .param("serviceAccount", identityRole.serviceAccount())
        .param("databaseRole", identityRole.databaseRole())
        .update();
  }

  // ---- lifecycle (package-private: only the lease feature changes a credential's schedule) ----

  Optional<LeaseEntry> findEntry(UUID id) {
    return jdbc.sql("SELECT " + LIFECYCLE_COLUMNS + " FROM credential WHERE id = :id")
        .param("id", id)
        .query(CredentialRows::entry)
        .optional();
  }

  /**
   * A credential's id and when its owner must look at it next.
   *
   * @param expiry the lease's expiry when it is renewed and, once passed, known to be gone in Vault
   *     (as {@link LeaseEntry#knownExpired} tells, the stream aside); {@code null} otherwise
   */
  record Due(UUID id, Instant at, @Nullable Instant expiry) {
    Due(UUID id, Instant at) {
      this(id, at, null);
    }
  }

  /**
   * This replica's live credentials whose next action is due by {@code until}, earliest first,
   * except that those whose lease is known to have run out by {@code now} come after all the
   * others. The limit must not be filled by run-out leases: the keeper serves them only when no
   * other is due ({@link LeaseKeeper}), so under a backlog of more of them than {@code limit}, due
   * renewals that can still succeed were never loaded, and the run-out ones were served instead,
   * each a doomed rotation.
   */
  List<Due> dueBy(String replica, Instant now, Instant until, int limit) {
    return jdbc.sql(
            "SELECT id, next_action_time, known_expiry FROM (SELECT id, next_action_time,"
                + " CASE WHEN renewal_due_time IS NOT NULL"
                + " AND expiry_granted_to_owner AND stream_id IS NOT NULL"
                + " AND detached_time IS NULL THEN expire_time END AS known_expiry"
                + " FROM credential WHERE owner_replica = :replica"
                + " AND state = 'ACTIVE' AND next_action_time <= :until) AS due"
                + " ORDER BY known_expiry IS NOT NULL AND known_expiry <= :now, next_action_time"
                + " LIMIT :limit")
        .param("replica", replica)
        .param("now", utc(now))
        .param("until", utc(until))
        .param("limit", limit)
        .query(
            (rs, row) ->
                new Due(
                    rs.getObject("id", UUID.class),
                    instant(rs, "next_action_time"),
                    nullableInstant(rs, "known_expiry")))
        .list();
  }

  /**
   * A successful renewal, as its owner records it.
   *
   * @param renewedAt when Vault renewed the lease
   * @param expireTime when the lease now runs out
   * @param maxExpireTime the limit Vault capped the renewal at, or {@code null} when it did not cap
   *     it (a known limit is never moved later)
   * @param renewalDue when to renew next, or {@code null} when nobody renews it any more
   * @param nextAction when the owner must look at it next
   */
  record Renewal(
      Instant renewedAt,
      Instant expireTime,
      @Nullable Instant maxExpireTime,
      @Nullable Instant renewalDue,
      Instant nextAction) {}

  /** Records a successful renewal by the owner. */
  boolean recordRenewal(UUID id, String replica, Renewal renewal) {
    return jdbc.sql(
                "UPDATE credential SET expire_time = :expire,"
                    // LEAST ignores NULLs: a cap Vault applied never moves a known limit later.
                    + " max_expire_time = LEAST(:maxExpire, max_expire_time),"
                    + " last_renewal_time = :renewedAt, renewal_due_time = :renewalDue,"
                    + " next_action_time = :nextAction, renewal_failures = 0,"
                    + " expiring_notified = false, expiry_granted_to_owner = true,"
                    + " updated_time = now()"
                    + " WHERE id = :id AND owner_replica = :replica AND state = 'ACTIVE'")
            .param("expire", utc(renewal.expireTime()))
            .param("maxExpire", utc(renewal.maxExpireTime()))
            .param("renewedAt", utc(renewal.renewedAt()))
            .param("renewalDue", utc(renewal.renewalDue()))
            .param("nextAction", utc(renewal.nextAction()))
            .param("id", id)
            .param("replica", replica)
            .update()
        == 1;
  }

  /**
   * Records that a renewal (or rotation) failed and when to try again.
   *
   * @param failures the consecutive failed attempts, this one included: the count its owner read
   *     before the attempt, plus one. Not the stored count plus one, which a renewal that succeeded
   *     in the same attempt (before its rotation failed) has just reset, so that every retry would
   *     wait the shortest backoff.
   */
  boolean recordRenewalFailure(
      UUID id,
      String replica,
      int failures,
      Instant retryAt,
      Instant nextAction,
      boolean expiringNotified) {
    return jdbc.sql(
                "UPDATE credential SET renewal_failures = :failures,"
                    + " renewal_due_time = :retryAt, next_action_time = :nextAction,"
                    + " expiring_notified = :notified, updated_time = now()"
                    + " WHERE id = :id AND owner_replica = :replica AND state = 'ACTIVE'")
            .param("failures", failures)
            .param("retryAt", utc(retryAt))
            .param("nextAction", utc(nextAction))
            .param("notified", expiringNotified)
            .param("id", id)
            .param("replica", replica)
            .update()
        == 1;
  }

  /** Moves the owner's next look at a credential, e.g. when it was loaded before it was due. */
  boolean reschedule(UUID id, String replica, @Nullable Instant renewalDue, Instant nextAction) {
    return jdbc.sql(
                "UPDATE credential SET renewal_due_time = :renewalDue,"
                    + " next_action_time = :nextAction, updated_time = now()"
                    + " WHERE id = :id AND owner_replica = :replica AND state = 'ACTIVE'")
            .param("renewalDue", utc(renewalDue))
            .param("nextAction", utc(nextAction))
            .param("id", id)
            .param("replica", replica)
            .update()
        == 1;
  }

  /**
   * Marks a credential as replaced by a rotation decided on the reading {@code seen}: nobody renews
   * it any more, no stream holds it, and it is revoked at {@code revokeAfter} for {@code trigger}.
   * Only while it is held as {@code seen} found it ({@link #SAME_CLAIM}): the replacement was
   * issued for that stream, and a credential resumed on another stream (or detached, or claimed)
   * since must not be replaced under it.
   *
   * @return false when it is not held as read any more, or when it was marked for an ending
   *     meanwhile (its pod deleted, its binding gone): then nothing replaces it
   */
  boolean supersede(LeaseEntry seen, Instant revokeAfter, RevocationTrigger trigger) {
    return sameClaim(
                jdbc.sql(SUPERSEDE)
                    .param(utc(revokeAfter))
                    .param(trigger.name())
                    .param(utc(revokeAfter))
                    .param(seen.id()),
                seen)
            .update()
        == 1;
  }

  /**
   * Takes back a {@link #supersede} whose replacement never reached the pod (its stream ended): the
   * credential is live and resumable again, counted as detached since {@code now} unless it already
   * was (so it gets the reconnect grace), and looked at (renewed) now.
   *
   * @return whether this replica still owned the superseded credential
   */
  boolean restoreSuperseded(UUID id, String replica, Instant now) {
    return jdbc.sql(
                "UPDATE credential SET revoke_after = NULL, revoke_trigger = NULL, stream_id = NULL,"
                    + " detached_time = COALESCE(detached_time, :now),"
                    + " renewal_due_time = CASE WHEN renewable THEN :now END,"
                    + " next_action_time = :now, updated_time = now()"
                    + " WHERE id = :id AND owner_replica = :replica AND state = 'ACTIVE'"
                    + " AND revoke_after IS NOT NULL AND expire_time > :now"
                    // A mark made after the supersede (its pod deleted, its binding gone) stays.
                    + " AND revoke_trigger IS DISTINCT FROM 'POD_DELETED'"
                    + " AND revoke_trigger IS DISTINCT FROM 'UNBOUND'")
            .param("now", utc(now))
            .param("id", id)
            .param("replica", replica)
            .update()
        == 1;
  }

  /**
   * Notes that a stream of {@code replica} ended without a release: the credentials it held are
   * kept until {@code graceEnd}, then revoked unless resumed. Only those {@code replica} still owns
   * and the stream still holds: one claimed by another replica, or resumed on another stream, since
   * is left as its new holder has it.
   *
   * @return how many live credentials the stream held
   */
  int detachStream(UUID streamId, String replica, Instant when, Instant graceEnd) {
    return detach(null, streamId, replica, when, graceEnd);
  }

  /**
   * Notes that the stream {@code streamId} no longer holds the credential {@code id}, which it was
   * found attached to: that credential alone is kept until {@code graceEnd}, then revoked unless
   * resumed. Every other credential attached to that stream is left as it is, since the stream may
   * still be open and holding one of them (a rotation's replacement, say).
   *
   * @return 1 if the credential was still attached to that stream and owned by {@code replica}
   */
  int detachCredential(UUID id, UUID streamId, String replica, Instant when, Instant graceEnd) {
    return detach(id, streamId, replica, when, graceEnd);
  }

  /** The credential {@code id} of that stream, or every one when {@code id} is null. */
  private int detach(
      @Nullable UUID id, UUID streamId, String replica, Instant when, Instant graceEnd) {
    var statement =
        jdbc.sql(
                "UPDATE credential SET detached_time = :when, stream_id = NULL,"
                    + " next_action_time = LEAST(COALESCE(next_action_time, :graceEnd), :graceEnd),"
                    + " updated_time = now()"
                    + " WHERE "
                    + (id == null ? "" : "id = :id AND ")
                    + "stream_id = :streamId AND owner_replica = :replica AND state = 'ACTIVE'")
            .param("when", utc(when))
            .param("graceEnd", utc(graceEnd))
            .param("streamId", streamId)
            .param("replica", replica);
    return (id == null ? statement : statement.param("id", id)).update();
  }

  /**
   * Adopts a live credential of the given pod for a new stream on {@code replica} (resume). Only a
   * stream credential that has not expired and was not replaced can be adopted.
   *
   * @return the credential as adopted, in the same statement (a resume has nothing left to read
   *     that could fail after the credential became its stream's); empty when it was not adopted
   */
  Optional<LeaseEntry> attach(UUID id, String podUid, String replica, UUID streamId, Instant now) {
    return jdbc.sql(
            "UPDATE credential SET owner_replica = :replica, stream_id = :streamId,"
                + " detached_time = NULL,"
                // The replica it came from may have renewed it in Vault without recording it.
                + " expiry_granted_to_owner = false,"
                // A lease nobody renewed while detached (capped) is looked at now: with a
                // stream to hand a replacement to, it can be rotated.
                + " renewal_due_time = CASE WHEN renewable"
                + " THEN COALESCE(renewal_due_time, :now) END,"
                + " next_action_time = LEAST(CASE WHEN renewable"
                + " THEN COALESCE(renewal_due_time, :now) END, expire_time),"
                + " updated_time = now()"
                + " WHERE id = :id AND pod_uid = :podUid AND state = 'ACTIVE'"
                + " AND kind = 'STREAM' AND revoke_after IS NULL AND expire_time > :now"
                + " RETURNING "
                + LIFECYCLE_COLUMNS)
        .param("replica", replica)
        .param("streamId", streamId)
        .param("id", id)
        .param("podUid", podUid)
        .param("now", utc(now))
        .query(CredentialRows::entry)
        .optional();
  }

  /**
   * Schedules the revocation of the credential that {@code newId} replaced, at {@code revokeAt} at
   * the latest (an earlier schedule stays).
   *
   * @return the replaced credential's revocation time, or empty when it has already ended
   */
  Optional<Instant> scheduleReplacedRevocation(UUID replacedId, Instant revokeAt) {
    return jdbc.sql(
            "UPDATE credential SET"
                + " revoke_after = LEAST(COALESCE(revoke_after, :at), :at),"
                + " revoke_trigger = 'ROTATION',"
                + " next_action_time = LEAST(COALESCE(next_action_time, :at), :at),"
                + " updated_time = now()"
                + " WHERE id = :id AND state = 'ACTIVE' RETURNING revoke_after")
        .param("at", utc(revokeAt))
        .param("id", replacedId)
        .query((rs, row) -> instant(rs, "revoke_after"))
        .optional();
  }

  /**
   * Ends an active credential and, in the same statement, puts its lease on the revocation queue
   * (first attempt by anyone else at {@code retryAt}), so that a crash before Vault confirms the
   * revocation leaves the lease to another replica.
   *
   * @return whether the credential was active and has now ended
   */
  boolean endAndQueue(
      UUID id, CredentialState state, RevocationTrigger trigger, Instant now, Instant retryAt) {
    return endAndQueue(id, null, state, trigger, now, retryAt);
  }

  /**
   * As {@link #endAndQueue(UUID, CredentialState, RevocationTrigger, Instant, Instant)}, and when
   * {@code seen} is given only while the credential is still held as its owner read it then (see
   * {@link #SAME_CLAIM}): an owner's revocation decided on that reading never ends a credential
   * that another replica claimed, or that a stream resumed, since.
   */
  boolean endAndQueue(
      UUID id,
      @Nullable LeaseEntry seen,
      CredentialState state,
      RevocationTrigger trigger,
      Instant now,
      Instant retryAt) {
    return sameClaim(
                jdbc.sql(END_AND_QUEUE)
                    .param(state.name())
                    .param(utc(now))
                    .param(trigger.name())
                    .param(id),
                seen)
            .param(trigger.name())
            .param(utc(retryAt))
            .update()
        == 1;
  }

  /**
   * As {@link #endAndQueue(UUID, CredentialState, RevocationTrigger, Instant, Instant)}, only if
   * the credential is the pod's with this UID, and returning what revoking it needs: a pod's
   * release then takes one statement instead of a read and an ending.
   *
   * @return the credential just ended; empty when it was not active or is not the pod's
   */
  Optional<EndedCredential> endOwnedAndQueue(
      UUID id,
      String podUid,
      CredentialState state,
      RevocationTrigger trigger,
      Instant now,
      Instant retryAt) {
    return jdbc.sql(END_OWNED_AND_QUEUE)
        .param(state.name())
        .param(utc(now))
        .param(trigger.name())
        .param(id)
        .param(Objects.requireNonNull(podUid, "podUid"))
        .param(trigger.name())
        .param(utc(retryAt))
        .query(
            (rs, row) ->
                new EndedCredential(
                    id,
                    rs.getString("lease_id"),
                    rs.getString("username"),
                    rs.getObject("replaces", UUID.class),
                    rs.getBoolean("marked")))
        .optional();
  }

  /**
   * A credential just ended by {@link #endOwnedAndQueue}.
   *
   * @param id the credential
   * @param leaseId its Vault lease, now queued for revocation
   * @param username its database user
   * @param replaces the credential it replaced in a rotation, or {@code null}
   * @param marked whether it was already due to be revoked (a rotation had replaced it, its pod was
   *     deleted, its binding removed): only then may a replacement of it be live
   */
  record EndedCredential(
      UUID id, String leaseId, String username, @Nullable UUID replaces, boolean marked) {}

  /**
   * Whether the live credential is still held as its owner read it in {@code seen}: the same owner,
   * attached to the same stream (or to none) and detached at the same time. A claim by another
   * replica changes the owner (and the stream); a resume, even back on this replica, changes the
   * stream; so an owner that paused (a GC, a frozen process, a network cut) between reading and
   * acting finds here that its reading is stale. Its Vault calls (renewals) ask this first.
   */
  boolean stillHeldAsSeen(LeaseEntry seen) {
    return !sameClaim(jdbc.sql(STILL_HELD).param(seen.id()), seen)
        .query(UUID.class)
        .list()
        .isEmpty();
  }

  /** Binds {@link #SAME_CLAIM} and the flag before it: on when {@code seen} is given. */
  private static JdbcClient.StatementSpec sameClaim(
      JdbcClient.StatementSpec statement, @Nullable LeaseEntry seen) {
    return statement
        .param(seen != null)
        .param(seen == null ? null : seen.record().ownerReplica())
        .param(seen == null ? null : seen.streamId())
        .param(seen == null ? null : utc(seen.record().detachedTime()));
  }

  /**
   * Which of {@code ids} a stream on {@code replica} should no longer hold: live credentials that
   * another replica keeps now, and credentials that ended before {@code endedBefore}.
   */
  List<Gone> goneFromHere(Collection<UUID> ids, String replica, Instant endedBefore) {
    if (ids.isEmpty()) {
      return List.of();
    }
    return jdbc.sql(
            "SELECT id, CASE WHEN state = 'ACTIVE' THEN NULL ELSE end_reason END AS end_reason,"
                + " pod_uid FROM credential WHERE id = ANY(:ids) AND ((state = 'ACTIVE'"
                + " AND owner_replica IS DISTINCT FROM :replica)"
                + " OR (state <> 'ACTIVE' AND end_time < :endedBefore))")
        .param("ids", ids.toArray(UUID[]::new))
        .param("replica", replica)
        .param("endedBefore", utc(endedBefore))
        .query(
            (rs, row) ->
                new Gone(
                    rs.getObject("id", UUID.class),
                    rs.getString("end_reason"),
                    rs.getString("pod_uid")))
        .list();
  }

  /**
   * A credential a stream should no longer hold on the replica that asked ({@link #goneFromHere}).
   *
   * @param endReason the {@link RevocationTrigger} name it ended for, or {@code null} when it is
   *     live and another replica keeps it
   * @param podUid its pod's UID, or {@code null} when its token was bound to no pod
   */
  record Gone(UUID id, @Nullable String endReason, @Nullable String podUid) {}

  /**
   * Deletes up to {@code batch} credentials that ended (released, revoked or expired) more than
   * {@code olderThan} ago, by the database's clock, and whose revocation no longer waits in the
   * retry queue; a live credential is never deleted. Runs in the caller's transaction.
   *
   * @return how many it deleted
   */
  public int deleteEnded(Duration olderThan, int batch) {
    return jdbc.sql(
            "DELETE FROM credential WHERE id IN (SELECT c.id FROM credential c"
                + " WHERE c.state <> 'ACTIVE'"
                + " AND c.end_time < now() - :seconds * interval '1 second'"
                + " AND NOT EXISTS (SELECT 1 FROM revocation_retry r WHERE r.credential_id = c.id)"
                + " LIMIT :batch)")
        .param("seconds", olderThan.toSeconds())
        .param("batch", batch)
        .update();
  }
}
