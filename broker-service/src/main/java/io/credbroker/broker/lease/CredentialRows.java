package io.credbroker.broker.lease;

import io.credbroker.broker.auth.PodIdentity;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * How a row of {@code credential} is selected, read and bound, in one place for {@link
 * CredentialQueries} and {@link CredentialStore}: the column lists, the mapping of a row to a
 * {@link CredentialRecord} or a {@link LeaseEntry}, and timestamps in UTC.
 */
final class CredentialRows {

  /** The columns of a {@link CredentialRecord}, as {@link #record} reads them. */
  static final String COLUMNS =
      "id, database_role, vault_mount, vault_role, lease_id, username, namespace,"
          + " service_account, pod_name, pod_uid, kind, state, renewable, owner_replica,"
          + " issue_time, expire_time, max_expire_time, replaces, detached_time, end_time,"
          + " end_reason, token_expire_time";

  /**
   * The columns of a {@link LeaseEntry} (the record and its schedule), as {@link #entry} reads
   * them.
   */
  static final String LIFECYCLE_COLUMNS =
      COLUMNS
          + ", lease_ttl_seconds, renewal_due_time, next_action_time, stream_id, revoke_after,"
          + " revoke_trigger, renewal_failures, expiring_notified, expiry_granted_to_owner";

  /** Reads a row selected with {@link #COLUMNS}. */
  static CredentialRecord record(ResultSet rs, int row) throws SQLException {
    return CredentialRecord.builder()
        .id(rs.getObject("id", UUID.class))
        .databaseRole(rs.getString("database_role"))
        .vaultMount(rs.getString("vault_mount"))
        .vaultRole(rs.getString("vault_role"))
        .leaseId(rs.getString("lease_id"))
        .username(rs.getString("username"))
        .owner(
            new PodIdentity(
                rs.getString("namespace"),
                rs.getString("service_account"),
                rs.getString("pod_name"),
                rs.getString("pod_uid")))
        .kind(CredentialKind.valueOf(rs.getString("kind")))
        .state(CredentialState.valueOf(rs.getString("state")))
        .renewable(rs.getBoolean("renewable"))
        .ownerReplica(rs.getString("owner_replica"))
        .issueTime(instant(rs, "issue_time"))
        .expireTime(instant(rs, "expire_time"))
        .maxExpireTime(nullableInstant(rs, "max_expire_time"))
        .replaces(rs.getObject("replaces", UUID.class))
        .detachedTime(nullableInstant(rs, "detached_time"))
        .endTime(nullableInstant(rs, "end_time"))
        .endReason(rs.getString("end_reason"))
        .tokenExpireTime(nullableInstant(rs, "token_expire_time"))
        .build();
  }

  /** Reads a row selected with {@link #LIFECYCLE_COLUMNS}. */
  static LeaseEntry entry(ResultSet rs, int row) throws SQLException {
    long ttl = rs.getLong("lease_ttl_seconds");
    Duration leaseTtl = rs.wasNull() ? null : Duration.ofSeconds(ttl);
    String trigger = rs.getString("revoke_trigger");
    return new LeaseEntry(
        record(rs, row),
        leaseTtl,
        nullableInstant(rs, "renewal_due_time"),
        nullableInstant(rs, "next_action_time"),
        rs.getObject("stream_id", UUID.class),
        nullableInstant(rs, "revoke_after"),
        trigger == null ? null : RevocationTrigger.valueOf(trigger),
        rs.getInt("renewal_failures"),
        rs.getBoolean("expiring_notified"),
        rs.getBoolean("expiry_granted_to_owner"));
  }

  static Instant instant(ResultSet rs, String column) throws SQLException {
    return Objects.requireNonNull(nullableInstant(rs, column), column);
  }

  static @Nullable Instant nullableInstant(ResultSet rs, String column) throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? null : value.toInstant();
  }

  /** A timestamp as the {@code timestamptz} columns are bound. */
  static @Nullable OffsetDateTime utc(@Nullable Instant instant) {
    return instant == null ? null : OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
  }

  private CredentialRows() {}
}
