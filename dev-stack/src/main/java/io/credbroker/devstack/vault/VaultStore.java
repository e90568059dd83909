package io.credbroker.devstack.vault;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.credbroker.devstack.http.Json;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Everything the Vault stand-in keeps, in schema {@code vault} of its own PostgreSQL database:
 * tokens (by accessor, with a SHA-256 of the token id, never the id itself), leases, mounts,
 * policies and the engines' key/value storage. Each method is its own transaction.
 *
 * <p>Thread-safe (a small connection pool). Lifecycle: {@link #open} creates the schema if missing;
 * {@link #close} closes the pool.
 */
final class VaultStore implements AutoCloseable {

  private final HikariDataSource pool;

  private VaultStore(HikariDataSource pool) {
    this.pool = pool;
  }

  static VaultStore open(String jdbcUrl, String user, String password) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(6);
    config.setMinimumIdle(1);
    config.setPoolName("vault-store");
    VaultStore store = new VaultStore(new HikariDataSource(config));
    store.createSchema();
    return store;
  }

  private void createSchema() {
    run(
        c -> {
          try (Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS vault");
            s.execute(
                """
                CREATE TABLE IF NOT EXISTS vault.tokens (
                  accessor text PRIMARY KEY,
                  id_hash text NOT NULL UNIQUE,
                  parent_accessor text,
                  expire_time timestamptz,
                  body jsonb NOT NULL)""");
            s.execute("CREATE INDEX IF NOT EXISTS tokens_expire ON vault.tokens (expire_time)");
            s.execute(
                """
                CREATE TABLE IF NOT EXISTS vault.leases (
                  lease_id text PRIMARY KEY,
                  mount_path text NOT NULL,
                  request_path text NOT NULL,
                  token_accessor text NOT NULL,
                  issue_time timestamptz NOT NULL,
                  expire_time timestamptz NOT NULL,
                  last_renewal timestamptz,
                  renewable boolean NOT NULL,
                  engine_data jsonb NOT NULL,
                  revoke_attempts int NOT NULL DEFAULT 0,
                  next_attempt timestamptz,
                  irrevocable boolean NOT NULL DEFAULT false,
                  revoke_error text)""");
            s.execute("CREATE INDEX IF NOT EXISTS leases_expire ON vault.leases (expire_time)");
            s.execute("CREATE INDEX IF NOT EXISTS leases_token ON vault.leases (token_accessor)");
            s.execute(
                """
                CREATE TABLE IF NOT EXISTS vault.mounts (
                  kind text NOT NULL,
                  path text NOT NULL,
                  body jsonb NOT NULL,
                  PRIMARY KEY (kind, path))""");
            s.execute(
                "CREATE TABLE IF NOT EXISTS vault.policies (name text PRIMARY KEY, text text NOT NULL)");
            s.execute(
                """
                CREATE TABLE IF NOT EXISTS vault.storage (
                  mount_uuid text NOT NULL,
                  key text NOT NULL,
                  value jsonb NOT NULL,
                  PRIMARY KEY (mount_uuid, key))""");
          }
          return null;
        });
  }

  // ---- tokens ----

  void putToken(
      String accessor,
      String idHash,
      @Nullable String parent,
      @Nullable Instant expire,
      JsonNode body) {
    update(
        """
        INSERT INTO vault.tokens (accessor, id_hash, parent_accessor, expire_time, body)
        VALUES (?, ?, ?, ?, ?::jsonb)
        ON CONFLICT (accessor) DO UPDATE SET expire_time = excluded.expire_time, body = excluded.body""",
        accessor,
        idHash,
        parent,
        expire,
        json(body));
  }

  void updateToken(String accessor, @Nullable Instant expire, JsonNode body) {
    update(
        "UPDATE vault.tokens SET expire_time = ?, body = ?::jsonb WHERE accessor = ?",
        expire,
        json(body),
        accessor);
  }

  Optional<JsonNode> tokenByHash(String idHash) {
    return queryOne(
        "SELECT body FROM vault.tokens WHERE id_hash = ?", rs -> parse(rs.getString(1)), idHash);
  }

  Optional<JsonNode> tokenByAccessor(String accessor) {
    return queryOne(
        "SELECT body FROM vault.tokens WHERE accessor = ?", rs -> parse(rs.getString(1)), accessor);
  }

  List<String> tokenAccessors() {
    return query("SELECT accessor FROM vault.tokens ORDER BY accessor", rs -> rs.getString(1));
  }

  List<String> childTokens(String accessor) {
    return query(
        "SELECT accessor FROM vault.tokens WHERE parent_accessor = ?",
        rs -> rs.getString(1),
        accessor);
  }

  List<String> expiredTokens(Instant now, int limit) {
    return query(
        "SELECT accessor FROM vault.tokens WHERE expire_time <= ? ORDER BY expire_time LIMIT "
            + limit,
        rs -> rs.getString(1),
        now);
  }

  void deleteToken(String accessor) {
    update("DELETE FROM vault.tokens WHERE accessor = ?", accessor);
  }

  // ---- leases ----

  void insertLease(LeaseRecord l) {
    update(
        """
        INSERT INTO vault.leases (lease_id, mount_path, request_path, token_accessor, issue_time,
          expire_time, last_renewal, renewable, engine_data)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)""",
        l.leaseId(),
        l.mountPath(),
        l.requestPath(),
        l.tokenAccessor(),
        l.issueTime(),
        l.expireTime(),
        l.lastRenewal(),
        l.renewable(),
        json(l.engineData()));
  }

  /** A stored lease with the core's bookkeeping about failed revocations. */
  record StoredLease(
      LeaseRecord lease, int revokeAttempts, boolean irrevocable, @Nullable String revokeError) {}

  private static final String LEASE_COLUMNS =
      "lease_id, mount_path, request_path, issue_time, expire_time, last_renewal, renewable,"
          + " token_accessor, engine_data, revoke_attempts, irrevocable, revoke_error";

  private static StoredLease readLease(ResultSet rs) throws SQLException {
    LeaseRecord l =
        new LeaseRecord(
            rs.getString(1),
            rs.getString(2),
            rs.getString(3),
            instant(rs, 4),
            instant(rs, 5),
            nullableInstant(rs, 6),
            rs.getBoolean(7),
            rs.getString(8),
            parse(rs.getString(9)));
    return new StoredLease(l, rs.getInt(10), rs.getBoolean(11), rs.getString(12));
  }

  private static Instant instant(ResultSet rs, int column) throws SQLException {
    Instant t = nullableInstant(rs, column);
    if (t == null) {
      throw new SQLException("column " + column + " is null");
    }
    return t;
  }

  private static @Nullable Instant nullableInstant(ResultSet rs, int column) throws SQLException {
    OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }

  Optional<StoredLease> lease(String leaseId) {
    return queryOne(
        "SELECT " + LEASE_COLUMNS + " FROM vault.leases WHERE lease_id = ?",
        VaultStore::readLease,
        leaseId);
  }

  List<StoredLease> leasesWithPrefix(String prefix) {
    return query(
        "SELECT "
            + LEASE_COLUMNS
            + " FROM vault.leases WHERE starts_with(lease_id, ?) ORDER BY lease_id",
        VaultStore::readLease,
        prefix);
  }

  List<String> leaseIdsOfToken(String accessor) {
    return query(
        "SELECT lease_id FROM vault.leases WHERE token_accessor = ?",
        rs -> rs.getString(1),
        accessor);
  }

  /** Leases past their expiry whose next revocation attempt is due. */
  List<StoredLease> dueLeases(Instant now, int limit) {
    return query(
        "SELECT "
            + LEASE_COLUMNS
            + " FROM vault.leases WHERE expire_time <= ? AND NOT irrevocable"
            + " AND (next_attempt IS NULL OR next_attempt <= ?) ORDER BY expire_time LIMIT "
            + limit,
        VaultStore::readLease,
        now,
        now);
  }

  List<StoredLease> irrevocableLeases() {
    return query(
        "SELECT " + LEASE_COLUMNS + " FROM vault.leases WHERE irrevocable ORDER BY lease_id",
        VaultStore::readLease);
  }

  void renewLease(String leaseId, Instant expire, Instant lastRenewal) {
    update(
        "UPDATE vault.leases SET expire_time = ?, last_renewal = ? WHERE lease_id = ?",
        expire,
        lastRenewal,
        leaseId);
  }

  /** Makes a lease due for revocation now (queued revoke, or token revoked). */
  void expireLeaseNow(String leaseId, Instant now) {
    update(
        "UPDATE vault.leases SET expire_time = LEAST(expire_time, ?), next_attempt = NULL WHERE lease_id = ?",
        now,
        leaseId);
  }

  void recordRevokeFailure(
      String leaseId,
      int attempts,
      @Nullable Instant nextAttempt,
      boolean irrevocable,
      String error) {
    update(
        "UPDATE vault.leases SET revoke_attempts = ?, next_attempt = ?, irrevocable = ?, revoke_error = ? WHERE lease_id = ?",
        attempts,
        nextAttempt,
        irrevocable,
        error,
        leaseId);
  }

  void deleteLease(String leaseId) {
    update("DELETE FROM vault.leases WHERE lease_id = ?", leaseId);
  }

  // ---- mounts ----

  List<JsonNode> mounts(String kind) {
    return query(
        "SELECT body FROM vault.mounts WHERE kind = ? ORDER BY path",
        rs -> parse(rs.getString(1)),
        kind);
  }

  void putMount(String kind, String path, JsonNode body) {
    update(
        "INSERT INTO vault.mounts (kind, path, body) VALUES (?, ?, ?::jsonb)"
            + " ON CONFLICT (kind, path) DO UPDATE SET body = excluded.body",
        kind,
        path,
        json(body));
  }

  void deleteMount(String kind, String path) {
    update("DELETE FROM vault.mounts WHERE kind = ? AND path = ?", kind, path);
  }

  // ---- policies ----

  Optional<String> policy(String name) {
    return queryOne("SELECT text FROM vault.policies WHERE name = ?", rs -> rs.getString(1), name);
  }

  List<String> policyNames() {
    return query("SELECT name FROM vault.policies ORDER BY name", rs -> rs.getString(1));
  }

  void putPolicy(String name, String text) {
    update(
        "INSERT INTO vault.policies (name, text) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET text = excluded.text",
        name,
        text);
  }

  void putPolicyIfAbsent(String name, String text) {
    update(
        "INSERT INTO vault.policies (name, text) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        name,
        text);
  }

  void deletePolicy(String name) {
    update("DELETE FROM vault.policies WHERE name = ?", name);
  }

  // ---- engine storage ----

  EngineStorage storage(String mountUuid) {
    return new EngineStorage() {
      @Override
      public Optional<JsonNode> get(String key) {
        return queryOne(
            "SELECT value FROM vault.storage WHERE mount_uuid = ? AND key = ?",
            rs -> parse(rs.getString(1)),
            mountUuid,
            key);
      }

      @Override
      public void put(String key, JsonNode value) {
        update(
            "INSERT INTO vault.storage (mount_uuid, key, value) VALUES (?, ?, ?::jsonb)"
                + " ON CONFLICT (mount_uuid, key) DO UPDATE SET value = excluded.value",
            mountUuid,
            key,
            json(value));
      }

      @Override
      public void delete(String key) {
        update("DELETE FROM vault.storage WHERE mount_uuid = ? AND key = ?", mountUuid, key);
      }

      @Override
      public List<String> list(String prefix) {
        List<String> keys =
            query(
                "SELECT key FROM vault.storage WHERE mount_uuid = ? AND starts_with(key, ?)",
                rs -> rs.getString(1),
                mountUuid,
                prefix);
        TreeSet<String> result = new TreeSet<>();
        for (String k : keys) {
          String rest = k.substring(prefix.length());
          int slash = rest.indexOf('/');
          result.add(slash < 0 ? rest : rest.substring(0, slash + 1));
        }
        return List.copyOf(result);
      }
    };
  }

  void deleteStorage(String mountUuid) {
    update("DELETE FROM vault.storage WHERE mount_uuid = ?", mountUuid);
  }

  @Override
  public void close() {
    pool.close();
  }

  // ---- plumbing ----

  @FunctionalInterface
  interface RowMapper<T> {
    T map(ResultSet rs) throws SQLException;
  }

  @FunctionalInterface
  private interface Work<T> {
    @Nullable T run(Connection c) throws SQLException;
  }

  private <T> @Nullable T run(Work<T> work) {
    try (Connection c = pool.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw new VaultStoreException(e);
    }
  }

  private void update(String sql, @Nullable Object... args) {
    run(
        c -> {
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            ps.executeUpdate();
          }
          return null;
        });
  }

  private <T> List<T> query(String sql, RowMapper<T> mapper, @Nullable Object... args) {
    List<T> result =
        run(
            c -> {
              List<T> rows = new ArrayList<>();
              try (PreparedStatement ps = c.prepareStatement(sql)) {
                bind(ps, args);
                try (ResultSet rs = ps.executeQuery()) {
                  while (rs.next()) {
                    rows.add(mapper.map(rs));
                  }
                }
              }
              return rows;
            });
    return result == null ? List.of() : result;
  }

  private <T> Optional<T> queryOne(String sql, RowMapper<T> mapper, @Nullable Object... args) {
    List<T> rows = query(sql, mapper, args);
    return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
  }

  private static void bind(PreparedStatement ps, @Nullable Object... args) throws SQLException {
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a == null) {
        ps.setNull(i + 1, Types.NULL);
      } else if (a instanceof Instant t) {
        ps.setObject(i + 1, OffsetDateTime.ofInstant(t, ZoneOffset.UTC));
      } else {
        ps.setObject(i + 1, a);
      }
    }
  }

  private static String json(JsonNode node) {
    try {
      return Json.MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode parse(String text) {
    try {
      return Json.MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("corrupt JSON in the vault schema", e);
    }
  }

  static ObjectNode object() {
    return Json.MAPPER.createObjectNode();
  }

  /** The stand-in's own storage failed; rendered as a 500 like a Vault storage error. */
  static final class VaultStoreException extends RuntimeException {
    VaultStoreException(SQLException cause) {
      super(cause.getMessage(), cause);
    }
  }
}
