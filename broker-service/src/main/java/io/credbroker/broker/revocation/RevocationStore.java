package io.credbroker.broker.revocation;

import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialQuery;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.ListSlice;
import io.credbroker.broker.lease.QueuedRevocation;
import io.credbroker.broker.lease.RevocationRetryQueue;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The revocation feature's tables ({@code pod_block}, {@code audit_event}); what it needs of the
 * lease lifecycle's tables ({@code credential}, {@code revocation_retry}) it asks the lease
 * package, which owns them ({@link CredentialQueries}, {@link RevocationRetryQueue}).
 *
 * <p>Every statement uses bind parameters; no input is ever concatenated into SQL (optional filters
 * are written as {@code CAST(:p AS text) IS NULL OR column = :p}). Thread-safe; each call runs in
 * the caller's transaction if there is one, otherwise in its own.
 */
public class RevocationStore {

  /** Namespace of the advisory locks that pair a block with the insert trigger of V5. */
  static final String LOCK_PREFIX = "credbroker.pod_block:";

  private static final String BLOCK_COLUMNS =
      "pod_uid, namespace, pod_name, reason, blocked_by, blocked_time";

  private final JdbcClient jdbc;
  private final CredentialQueries credentials;
  private final RevocationRetryQueue retryQueue;

  public RevocationStore(
      JdbcClient jdbc, CredentialQueries credentials, RevocationRetryQueue retryQueue) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.retryQueue = Objects.requireNonNull(retryQueue, "retryQueue");
  }

  /** The UIDs of every pod of this name the broker has issued to or blocked, sorted. */
  List<String> podUidsOf(String namespace, String podName) {
    SortedSet<String> uids = new TreeSet<>(credentials.podUidsOf(namespace, podName));
    uids.addAll(
        jdbc.sql("SELECT pod_uid FROM pod_block WHERE namespace = :ns AND pod_name = :pod")
            .param("ns", namespace)
            .param("pod", podName)
            .query(String.class)
            .list());
    return List.copyOf(uids);
  }

  /**
   * Blocks one pod UID unless it is blocked already. Must run inside a transaction: the advisory
   * lock it takes is held until commit, so that an insert of a credential for this UID either
   * commits before the block or fails on the V5 trigger after it.
   *
   * @return whether a new block was written
   */
  boolean block(String podUid, String namespace, String podName, String reason, String actor) {
    jdbc.sql("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
        .param("key", LOCK_PREFIX + podUid)
        .query(Object.class)
        .list();
    return jdbc.sql(
                "INSERT INTO pod_block (pod_uid, namespace, pod_name, reason, blocked_by)"
                    + " VALUES (:uid, :ns, :pod, :reason, :actor) ON CONFLICT (pod_uid) DO NOTHING")
            .param("uid", podUid)
            .param("ns", namespace)
            .param("pod", podName)
            .param("reason", reason)
            .param("actor", actor)
            .update()
        == 1;
  }

  boolean isBlocked(String podUid) {
    return jdbc.sql("SELECT EXISTS (SELECT 1 FROM pod_block WHERE pod_uid = :uid)")
        .param("uid", podUid)
        .query(Boolean.class)
        .single();
  }

  List<PodBlock> blocksOf(String namespace, String podName) {
    return jdbc.sql(
            "SELECT "
                + BLOCK_COLUMNS
                + " FROM pod_block WHERE namespace = :ns AND pod_name = :pod ORDER BY blocked_time")
        .param("ns", namespace)
        .param("pod", podName)
        .query(RevocationStore::block)
        .list();
  }

  /** Lifts every block of pods of this name; answers the blocks it removed. */
  List<PodBlock> unblock(String namespace, String podName) {
    return jdbc.sql(
            "DELETE FROM pod_block WHERE namespace = :ns AND pod_name = :pod RETURNING "
                + BLOCK_COLUMNS)
        .param("ns", namespace)
        .param("pod", podName)
        .query(RevocationStore::block)
        .list();
  }

  /** The ids of the still active credentials issued to any of these pod UIDs. */
  List<UUID> activeCredentialsOf(Collection<String> podUids) {
    return credentials.activeIdsOfPods(podUids);
  }

  /**
   * The ids of the ended credentials of these pod UIDs whose revocation Vault has not confirmed.
   */
  List<UUID> queuedCredentialsOf(Collection<String> podUids) {
    return credentials.queuedIdsOfPods(podUids);
  }

  public Optional<CredentialSummary> findCredential(UUID id) {
    return credentials.findById(id).map(CredentialSummary::of);
  }

  public List<CredentialSummary> search(CredentialQuery query) {
    return credentials.search(query).stream().map(CredentialSummary::of).toList();
  }

  /** The credentials with these ids, oldest first; unknown ids are skipped. */
  List<CredentialSummary> credentials(Collection<UUID> ids) {
    return credentials.findAllById(ids).stream().map(CredentialSummary::of).toList();
  }

  /** Of these credentials, the ones whose revocation Vault has not confirmed yet. */
  Set<UUID> queued(Collection<UUID> ids) {
    return retryQueue.queuedAmong(ids);
  }

  public List<QueuedRevocation> queue(@Nullable String namespace, int limit) {
    return queue(namespace, ListSlice.first(limit));
  }

  /** Queued revocations, oldest first; the slice's window bounds the time they were queued. */
  public List<QueuedRevocation> queue(@Nullable String namespace, ListSlice slice) {
    return retryQueue.waiting(namespace, slice);
  }

  long appendAudit(
      String actor,
      String action,
      String namespace,
      @Nullable String podName,
      List<String> podUids,
      List<UUID> credentialIds,
      List<String> usernames,
      String reason,
      String replica) {
    return jdbc.sql(
            "INSERT INTO audit_event (actor, action, namespace, pod_name, pod_uids, credential_ids,"
                + " usernames, reason, replica) VALUES (:actor, :action, :ns, :pod, :uids,"
                + " :ids, :usernames, :reason, :replica) RETURNING id")
        .param("actor", actor)
        .param("action", action)
        .param("ns", namespace)
        .param("pod", podName)
        .param("uids", podUids.toArray(String[]::new))
        .param("ids", credentialIds.toArray(UUID[]::new))
        .param("usernames", usernames.toArray(String[]::new))
        .param("reason", reason)
        .param("replica", replica)
        .query(Long.class)
        .single();
  }

  /** Every credential that an operator action recorded for pods of this name. */
  Set<UUID> auditedCredentialsOf(String namespace, String podName) {
    return Set.copyOf(
        jdbc.sql(
                "SELECT DISTINCT unnest(credential_ids) FROM audit_event"
                    + " WHERE namespace = :ns AND pod_name = :pod")
            .param("ns", namespace)
            .param("pod", podName)
            .query(UUID.class)
            .list());
  }

  /**
   * Credentials operator actions revoked since {@code since}, with the reason their streams end
   * with: first those of the audit trail, with its action; then those an operator's revocation
   * ended whose audit record is not written yet, or never is (a pod revocation writes its record
   * only once Vault has revoked every credential of the pod, which can take longer than a listener
   * stays away; a replica ends a blocked pod's credential at its next look without one): {@code
   * POD_REVOKED} while their pod is blocked, {@code CREDENTIAL_REVOKED} otherwise. Each credential
   * once.
   */
  List<RevocationMessage.CredentialRevoked> revokedSince(Instant since) {
    Map<UUID, RevocationMessage.CredentialRevoked> revoked = new LinkedHashMap<>();
    for (RevocationMessage.CredentialRevoked audited :
        jdbc.sql(
                "SELECT u.credential_id, e.action FROM audit_event e,"
                    + " unnest(e.credential_ids) AS u(credential_id) WHERE e.event_time >= :since"
                    + " ORDER BY e.id")
            .param("since", OffsetDateTime.ofInstant(since, java.time.ZoneOffset.UTC))
            .query(
                (rs, row) ->
                    new RevocationMessage.CredentialRevoked(
                        rs.getObject("credential_id", UUID.class), rs.getString("action")))
            .list()) {
      revoked.putIfAbsent(audited.credentialId(), audited);
    }
    List<CredentialRecord> ended = credentials.endedByOperatorsSince(since);
    Set<String> blocked =
        blockedAmong(
            ended.stream()
                .map(c -> c.owner().podUid())
                .filter(Objects::nonNull)
                .collect(Collectors.toSet()));
    for (CredentialRecord credential : ended) {
      String reason =
          blocked.contains(credential.owner().podUid())
              ? RevocationService.POD_REVOKED
              : RevocationService.CREDENTIAL_REVOKED;
      revoked.putIfAbsent(
          credential.id(), new RevocationMessage.CredentialRevoked(credential.id(), reason));
    }
    return List.copyOf(revoked.values());
  }

  /** Which of these pod UIDs are blocked. */
  private Set<String> blockedAmong(Collection<String> podUids) {
    if (podUids.isEmpty()) {
      return Set.of();
    }
    return Set.copyOf(
        jdbc.sql("SELECT pod_uid FROM pod_block WHERE pod_uid IN (:uids)")
            .param("uids", List.copyOf(podUids))
            .query(String.class)
            .list());
  }

  public List<AuditEvent> audit(@Nullable String namespace, @Nullable String podName, int limit) {
    return audit(namespace, podName, ListSlice.first(limit));
  }

  /** Audit events, newest first; the slice's window bounds the time they were recorded. */
  public List<AuditEvent> audit(
      @Nullable String namespace, @Nullable String podName, ListSlice slice) {
    return slice
        .bind(
            jdbc.sql(
                    "SELECT id, event_time, actor, action, namespace, pod_name, pod_uids, credential_ids,"
                        + " usernames, reason, replica FROM audit_event"
                        + " WHERE (CAST(:ns AS text) IS NULL OR namespace = :ns)"
                        + " AND (CAST(:pod AS text) IS NULL OR pod_name = :pod)"
                        + " AND (CAST(:since AS timestamptz) IS NULL OR event_time >= :since)"
                        + " AND (CAST(:until AS timestamptz) IS NULL OR event_time < :until)"
                        + " AND (CAST(:afterTime AS timestamptz) IS NULL OR event_time < :afterTime"
                        + " OR (event_time = :afterTime AND id < CAST(:afterKey AS bigint)))"
                        + " ORDER BY event_time DESC, id DESC LIMIT :limit")
                .param("ns", namespace)
                .param("pod", podName))
        .query(
            (rs, row) ->
                new AuditEvent(
                    rs.getLong("id"),
                    instant(rs, "event_time"),
                    rs.getString("actor"),
                    rs.getString("action"),
                    rs.getString("namespace"),
                    rs.getString("pod_name"),
                    Arrays.asList(array(rs, "pod_uids", String[].class)),
                    Arrays.asList(array(rs, "credential_ids", UUID[].class)),
                    Arrays.asList(array(rs, "usernames", String[].class)),
                    rs.getString("reason"),
                    rs.getString("replica")))
        .list();
  }

  /**
   * Deletes up to {@code batch} audit events recorded more than {@code olderThan} ago, by the
   * database's clock. Runs in the caller's transaction.
   *
   * @return how many it deleted
   */
  public int deleteAuditEvents(Duration olderThan, int batch) {
    return jdbc.sql(
            "DELETE FROM audit_event WHERE id IN (SELECT id FROM audit_event"
                + " WHERE event_time < now() - :seconds * interval '1 second' LIMIT :batch)")
        .param("seconds", olderThan.toSeconds())
        .param("batch", batch)
        .update();
  }

  private static PodBlock block(ResultSet rs, int row) throws SQLException {
    return new PodBlock(
        rs.getString("pod_uid"),
        rs.getString("namespace"),
        rs.getString("pod_name"),
        rs.getString("reason"),
        rs.getString("blocked_by"),
        instant(rs, "blocked_time"));
  }

  private static <T> T array(ResultSet rs, String column, Class<T> type) throws SQLException {
    Array array = rs.getArray(column);
    return type.cast(array.getArray());
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    return Objects.requireNonNull(nullableInstant(rs, column), column);
  }

  private static @Nullable Instant nullableInstant(ResultSet rs, String column)
      throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? null : value.toInstant();
  }
}
