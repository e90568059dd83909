package io.credbroker.broker.lease;

import io.credbroker.broker.auth.PodIdentity;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * The {@code credential} table in the broker's state database. Every statement uses bind parameters;
 * no input is ever concatenated into SQL. There is no password column, on purpose.
 *
 * <p>Thread-safe (stateless apart from the shared {@link JdbcClient}); statements run in their own
 * auto-committed transactions unless the caller opens one.
 */
@Repository
public class CredentialStore {

  private static final String COLUMNS =
      "id, database_role, vault_mount, vault_role, lease_id, username, namespace,"
          + " service_account, pod_name, pod_uid, kind, state, renewable, owner_replica,"
          + " issue_time, expire_time";

  private final JdbcClient jdbc;

  public CredentialStore(JdbcClient jdbc) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
  }

  /** Records a credential that Vault has just issued. */
  public void insert(CredentialRecord record) {
    jdbc.sql(
            "INSERT INTO credential ("
                + COLUMNS
                + ") VALUES (:id, :databaseRole, :vaultMount, :vaultRole, :leaseId, :username,"
                + " :namespace, :serviceAccount, :podName, :podUid, :kind, :state, :renewable,"
                + " :ownerReplica, :issueTime, :expireTime)")
        .param("id", record.id())
        .param("databaseRole", record.databaseRole())
        .param("vaultMount", record.vaultMount())
        .param("vaultRole", record.vaultRole())
        .param("leaseId", record.leaseId())
        .param("username", record.username())
        .param("namespace", record.owner().namespace())
        .param("serviceAccount", record.owner().serviceAccount())
        .param("podName", record.owner().podName())
        .param("podUid", record.owner().podUid())
        .param("kind", record.kind().name())
        .param("state", record.state().name())
        .param("renewable", record.renewable())
        .param("ownerReplica", record.ownerReplica())
        .param("issueTime", utc(record.issueTime()))
        .param("expireTime", utc(record.expireTime()))
        .update();
  }

  public Optional<CredentialRecord> findById(UUID id) {
    return jdbc.sql("SELECT " + COLUMNS + " FROM credential WHERE id = :id")
        .param("id", id)
        .query(CredentialStore::map)
        .optional();
  }

  /** Every credential ever issued to the given PostgreSQL user name (normally one). */
  public List<CredentialRecord> findByUsername(String username) {
    return jdbc.sql("SELECT " + COLUMNS + " FROM credential WHERE username = :username")
        .param("username", username)
        .query(CredentialStore::map)
        .list();
  }

  /**
   * Notes that the stream holding a credential has ended while the credential is still active.
   *
   * @return whether an active credential was updated
   */
  public boolean markDetached(UUID id, Instant when) {
    return jdbc.sql(
                "UPDATE credential SET detached_time = :when, updated_time = now()"
                    + " WHERE id = :id AND state = 'ACTIVE'")
            .param("when", utc(when))
            .param("id", id)
            .update()
        == 1;
  }

  private static CredentialRecord map(ResultSet rs, int row) throws SQLException {
    return new CredentialRecord(
        rs.getObject("id", UUID.class),
        rs.getString("database_role"),
        rs.getString("vault_mount"),
        rs.getString("vault_role"),
        rs.getString("lease_id"),
        rs.getString("username"),
        new PodIdentity(
            rs.getString("namespace"),
            rs.getString("service_account"),
            rs.getString("pod_name"),
            rs.getString("pod_uid")),
        CredentialKind.valueOf(rs.getString("kind")),
        CredentialState.valueOf(rs.getString("state")),
        rs.getBoolean("renewable"),
        rs.getString("owner_replica"),
        instant(rs, "issue_time"),
        instant(rs, "expire_time"));
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return Objects.requireNonNull(value, column).toInstant();
  }

  private static @Nullable OffsetDateTime utc(@Nullable Instant instant) {
    return instant == null ? null : OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
  }
}
