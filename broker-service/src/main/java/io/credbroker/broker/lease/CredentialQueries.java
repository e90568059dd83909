package io.credbroker.broker.lease;

import static io.credbroker.broker.lease.CredentialRows.COLUMNS;
import static io.credbroker.broker.lease.CredentialRows.nullableInstant;

import io.credbroker.broker.auth.PodIdentity;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Reads of the {@code credential} table: what operators (the admin API, revocations), the other
 * packages (pods, revocation) and the lease core's own bookkeeping (the reconciler, the gauges) ask
 * about credentials. Nothing here writes; every change to a credential goes through {@link
 * CredentialStore}, whose conditional writes are the schedule's. Named after what it answers, so
 * that a caller that only looks needs nothing that could change a row.
 *
 * <p>Every statement uses bind parameters; no input is ever concatenated into SQL. Thread-safe
 * (stateless apart from the shared {@link JdbcClient}). A plain bean, as {@link CredentialStore}
 * is, for the same reason.
 */
public class CredentialQueries {

  private final JdbcClient jdbc;

  public CredentialQueries(JdbcClient jdbc) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
  }

  /**
   * Which of {@code leaseIds} the state database knows: as a credential in any state, or as a
   * revocation still queued. A lease known here is the broker's to renew, revoke or let run out.
   */
  public Set<String> knownLeaseIds(Collection<String> leaseIds) {
    if (leaseIds.isEmpty()) {
      return Set.of();
    }
    String[] ids = leaseIds.toArray(String[]::new);
    return Set.copyOf(
        jdbc.sql(
                "SELECT lease_id FROM credential WHERE lease_id = ANY(:ids)"
                    + " UNION SELECT lease_id FROM revocation_retry WHERE lease_id = ANY(:ids)")
            .param("ids", ids)
            .query(String.class)
            .list());
  }

  /**
   * Read on every release and revocation: a positional parameter, which JdbcClient passes to
   * JdbcTemplate as it is (see {@link CredentialStore}).
   */
  public Optional<CredentialRecord> findById(UUID id) {
    return jdbc.sql("SELECT " + COLUMNS + " FROM credential WHERE id = ?")
        .param(id)
        .query(CredentialRows::record)
        .optional();
  }

  /** The live credentials of pod {@code podUid} that a rotation issued to replace {@code id}. */
  public List<CredentialRecord> findLiveReplacements(UUID id, String podUid) {
    return jdbc.sql(
            "SELECT "
                + COLUMNS
                + " FROM credential WHERE replaces = :id AND pod_uid = :podUid"
                + " AND state = 'ACTIVE'")
        .param("id", id)
        .param("podUid", podUid)
        .query(CredentialRows::record)
        .list();
  }

  /** Every credential ever issued to the given PostgreSQL user name (normally one). */
  public List<CredentialRecord> findByUsername(String username) {
    return jdbc.sql("SELECT " + COLUMNS + " FROM credential WHERE username = :username")
        .param("username", username)
        .query(CredentialRows::record)
        .list();
  }

  /** The credentials with these ids, oldest first; unknown ids are skipped. */
  public List<CredentialRecord> findAllById(Collection<UUID> ids) {
    if (ids.isEmpty()) {
      return List.of();
    }
    return jdbc.sql(
            "SELECT " + COLUMNS + " FROM credential WHERE id IN (:ids) ORDER BY issue_time, id")
        .param("ids", List.copyOf(ids))
        .query(CredentialRows::record)
        .list();
  }

  /**
   * The credentials an operator's revocation ended (for {@link RevocationTrigger#ADMIN}) at or
   * after {@code since}, oldest end first.
   */
  public List<CredentialRecord> endedByOperatorsSince(Instant since) {
    return jdbc.sql(
            "SELECT "
                + COLUMNS
                + " FROM credential WHERE state <> 'ACTIVE' AND end_reason = :admin"
                + " AND end_time >= :since ORDER BY end_time, id")
        .param("admin", RevocationTrigger.ADMIN.name())
        .param("since", CredentialRows.utc(since))
        .query(CredentialRows::record)
        .list();
  }

  /**
   * The credentials that match every filter of {@code query} (optional filters are written as
   * {@code CAST(:p AS text) IS NULL OR column = :p}), newest first; the slice's window bounds the
   * issue time and its position continues after a credential of the previous page.
   */
  public List<CredentialRecord> search(CredentialQuery query) {
    return query
        .slice()
        .bind(
            jdbc.sql(
                    "SELECT "
                        + COLUMNS
                        + " FROM credential"
                        + " WHERE (CAST(:ns AS text) IS NULL OR namespace = :ns)"
                        + " AND (CAST(:sa AS text) IS NULL OR service_account = :sa)"
                        + " AND (CAST(:pod AS text) IS NULL OR pod_name = :pod)"
                        + " AND (CAST(:role AS text) IS NULL OR database_role = :role)"
                        + " AND (CAST(:username AS text) IS NULL OR username = :username)"
                        + " AND (NOT :activeOnly OR state = 'ACTIVE')"
                        + " AND (CAST(:since AS timestamptz) IS NULL OR issue_time >= :since)"
                        + " AND (CAST(:until AS timestamptz) IS NULL OR issue_time < :until)"
                        + " AND (CAST(:afterTime AS timestamptz) IS NULL OR issue_time < :afterTime"
                        + " OR (issue_time = :afterTime AND id > CAST(:afterKey AS uuid)))"
                        + " ORDER BY issue_time DESC, id LIMIT :limit")
                .param("ns", query.namespace())
                .param("sa", query.serviceAccount())
                .param("pod", query.podName())
                .param("role", query.databaseRole())
                .param("username", query.username())
                .param("activeOnly", query.activeOnly()))
        .query(CredentialRows::record)
        .list();
  }

  /** The UIDs of every pod of this name the broker has issued credentials to. */
  public List<String> podUidsOf(String namespace, String podName) {
    return jdbc.sql(
            "SELECT DISTINCT pod_uid FROM credential WHERE namespace = :ns AND pod_name = :pod"
                + " AND pod_uid IS NOT NULL")
        .param("ns", namespace)
        .param("pod", podName)
        .query(String.class)
        .list();
  }

  /** The ids of the still active credentials issued to any of these pod UIDs, oldest first. */
  public List<UUID> activeIdsOfPods(Collection<String> podUids) {
    return idsOfPods(
        "SELECT id FROM credential WHERE pod_uid IN (:uids) AND state = 'ACTIVE'"
            + " ORDER BY issue_time",
        podUids);
  }

  /**
   * The ids of the ended credentials issued to any of these pod UIDs whose revocation still waits
   * for Vault in the retry queue, oldest first.
   */
  public List<UUID> queuedIdsOfPods(Collection<String> podUids) {
    return idsOfPods(
        "SELECT c.id FROM credential c JOIN revocation_retry r ON r.credential_id = c.id"
            + " WHERE c.pod_uid IN (:uids) AND c.state <> 'ACTIVE' ORDER BY c.issue_time",
        podUids);
  }

  /** The credential ids {@code sql} selects for the pod UIDs bound to {@code :uids}. */
  private List<UUID> idsOfPods(String sql, Collection<String> podUids) {
    if (podUids.isEmpty()) {
      return List.of();
    }
    return jdbc.sql(sql).param("uids", List.copyOf(podUids)).query(UUID.class).list();
  }

  /**
   * Every (namespace, service account, database role) that live credentials not already ending (no
   * revoke trigger) were issued for, cluster-wide.
   */
  public List<IdentityRole> liveIdentityRoles() {
    return jdbc.sql(
            "SELECT DISTINCT namespace, service_account, database_role FROM credential"
                + " WHERE state = 'ACTIVE' AND revoke_trigger IS NULL")
        .query(
            (rs, row) ->
                new IdentityRole(
                    rs.getString("namespace"),
                    rs.getString("service_account"),
                    rs.getString("database_role")))
        .list();
  }

  /** A service account and a database role it obtained credentials of. */
  public record IdentityRole(String namespace, String serviceAccount, String databaseRole) {}

  /**
   * The pods (name and UID known) whose live credentials this replica is responsible for and which
   * are not known to be deleted yet.
   */
  public List<PodIdentity> podsServedBy(String replica) {
    return jdbc.sql(
            "SELECT DISTINCT namespace, service_account, pod_name, pod_uid FROM credential"
                + " WHERE owner_replica = :replica AND state = 'ACTIVE' AND pod_uid IS NOT NULL"
                + " AND revoke_trigger IS DISTINCT FROM 'POD_DELETED'")
        .param("replica", replica)
        .query(
            (rs, row) ->
                new PodIdentity(
                    rs.getString("namespace"),
                    rs.getString("service_account"),
                    rs.getString("pod_name"),
                    rs.getString("pod_uid")))
        .list();
  }

  /**
   * This replica's live credentials by where they are in their life: {@code attached} (a stream
   * holds it), {@code detached} (in its reconnect grace), {@code replaced} (draining after a
   * rotation), {@code one_shot}.
   */
  Map<String, Long> liveCounts(String replica) {
    return jdbc.sql(
            "SELECT count(*) FILTER (WHERE kind = 'STREAM' AND revoke_after IS NULL"
                + " AND detached_time IS NULL) AS attached,"
                + " count(*) FILTER (WHERE kind = 'STREAM' AND revoke_after IS NULL"
                + " AND detached_time IS NOT NULL) AS detached,"
                + " count(*) FILTER (WHERE revoke_after IS NOT NULL) AS replaced,"
                + " count(*) FILTER (WHERE kind = 'ONE_SHOT') AS one_shot"
                + " FROM credential WHERE owner_replica = :replica AND state = 'ACTIVE'")
        .param("replica", replica)
        .query(
            (rs, row) ->
                Map.of(
                    "attached", rs.getLong("attached"),
                    "detached", rs.getLong("detached"),
                    "replaced", rs.getLong("replaced"),
                    "one_shot", rs.getLong("one_shot")))
        .single();
  }

  /**
   * This replica's renewal backlog at {@code now}: how many of its credentials it renews are past
   * their renewal due (or retry) time, and the earliest such time.
   *
   * @param overdue credentials whose renewal is due and not yet made
   * @param oldestDue the earliest renewal due among them, or {@code null} when none is overdue
   */
  record RenewalBacklog(long overdue, @Nullable Instant oldestDue) {}

  RenewalBacklog renewalBacklog(String replica, Instant now) {
    return jdbc.sql(
            "SELECT count(*) AS overdue, min(renewal_due_time) AS oldest FROM credential"
                + " WHERE owner_replica = :replica AND state = 'ACTIVE'"
                + " AND renewal_due_time <= :now")
        .param("replica", replica)
        .param("now", CredentialRows.utc(now))
        .query(
            (rs, row) -> new RenewalBacklog(rs.getLong("overdue"), nullableInstant(rs, "oldest")))
        .single();
  }

  /** The earliest expiry among this replica's credentials that it is supposed to renew. */
  Optional<Instant> earliestRenewedExpiry(String replica) {
    List<@Nullable Instant> earliest =
        jdbc.sql(
                "SELECT min(expire_time) AS earliest FROM credential"
                    + " WHERE owner_replica = :replica AND state = 'ACTIVE'"
                    + " AND renewal_due_time IS NOT NULL")
            .param("replica", replica)
            .query((rs, row) -> nullableInstant(rs, "earliest"))
            .list();
    return earliest.isEmpty() ? Optional.empty() : Optional.ofNullable(earliest.get(0));
  }

  /** The earliest death of a Vault token that created a live credential, in the whole cluster. */
  Optional<Instant> earliestTokenExpiry() {
    List<@Nullable Instant> earliest =
        jdbc.sql(
                "SELECT min(token_expire_time) AS earliest FROM credential"
                    + " WHERE state = 'ACTIVE'")
            .query((rs, row) -> nullableInstant(rs, "earliest"))
            .list();
    return earliest.isEmpty() ? Optional.empty() : Optional.ofNullable(earliest.get(0));
  }
}
