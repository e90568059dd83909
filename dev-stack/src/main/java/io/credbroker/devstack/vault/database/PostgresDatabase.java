package io.credbroker.devstack.vault.database;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * One initialised instance of the PostgreSQL plugin for one connection config: a HikariCP pool
 * built from the config's {@code connection_url}, and the plugin's user operations (create, renew,
 * revoke, change password) executing the configured SQL for real.
 *
 * <p>Thread-safe. User operations on one instance run one at a time, as in the real plugin: {@code
 * plugins/database/postgresql/postgresql.go} (hashicorp/vault) takes the connection producer's
 * mutex ({@code p.Lock()}) in {@code NewUser}, {@code changeUserPassword}, {@code
 * changeUserExpiration} and {@code DeleteUser}, and {@code connutil.SQLConnectionProducer.Close}
 * takes it too. Vault keeps one plugin instance per connection config ({@code
 * databaseBackend.connections}, keyed by config name, in {@code
 * builtin/logical/database/backend.go}), so a slow revocation delays every creation and renewal on
 * the same config, and none on another. The pool is created on first use and lives until {@link
 * #close}; after that every operation fails, and the engine builds a new instance from the stored
 * config.
 */
final class PostgresDatabase implements AutoCloseable {

  static final String DEFAULT_RENEW = "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';";
  static final String DEFAULT_CHANGE_PASSWORD =
      "ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';";

  private static final AtomicInteger POOL_NUMBER = new AtomicInteger();

  private final String name;
  private final ConnectionSettings settings;
  private final Object lock = new Object();

  /** The plugin's per-instance mutex: held for each user operation and by {@link #close}. */
  private final ReentrantLock operations = new ReentrantLock();

  // @GuardedBy("lock")
  private @Nullable HikariDataSource pool;

  // @GuardedBy("lock")
  private boolean closed;

  PostgresDatabase(String name, ConnectionSettings settings) {
    this.name = name;
    this.settings = settings;
  }

  ConnectionSettings settings() {
    return settings;
  }

  /**
   * Connects once outside the pool, so a bad password fails at once instead of after a pool
   * timeout.
   */
  void verifyConnection() throws DatabaseException {
    JdbcTarget target = settings.target();
    try (Connection c = DriverManager.getConnection(target.jdbcUrl(), target.driverProperties());
        Statement s = c.createStatement()) {
      s.execute("SELECT 1");
    } catch (SQLException e) {
      throw new DatabaseException(
          "error verifying connection: failed to connect to `"
              + describeTarget()
              + "`: "
              + message(e),
          e);
    }
  }

  /** Creates a user with the creation statements in one transaction and returns its name. */
  String newUser(
      String displayName,
      String roleName,
      String password,
      Instant expiration,
      List<String> creationStatements)
      throws DatabaseException {
    if (creationStatements.isEmpty()) {
      throw new DatabaseException("empty creation statements");
    }
    String username;
    try {
      username = settings.usernameTemplate().generate(displayName, roleName);
    } catch (UsernameTemplate.TemplateException e) {
      throw new DatabaseException("unable to apply template: " + e.getMessage());
    }
    Map<String, String> values = userValues(username);
    values.put("password", storedPassword(password));
    values.put("expiration", SqlStatements.expiration(expiration));
    inTransaction(
        SqlStatements.queries(creationStatements, true), values, "failed to execute query: ");
    return username;
  }

  /** Moves the user's VALID UNTIL (or runs the role's renew statements) in one transaction. */
  void renewUser(String username, Instant expiration, List<String> renewStatements)
      throws DatabaseException {
    List<String> statements = renewStatements.isEmpty() ? List.of(DEFAULT_RENEW) : renewStatements;
    Map<String, String> values = userValues(username);
    values.put("expiration", SqlStatements.expiration(expiration));
    inTransaction(SqlStatements.queries(statements, false), values, "");
  }

  /**
   * Removes the user: custom revocation statements in one transaction, or the plugin's default
   * revocation, which is not transactional on purpose (it strips as much access as it can even when
   * a step fails) and whose final DROP ROLE fails while the role owns objects.
   */
  void deleteUser(String username, List<String> revocationStatements) throws DatabaseException {
    if (!revocationStatements.isEmpty()) {
      Map<String, String> values = userValues(username);
      inTransaction(SqlStatements.queries(revocationStatements, true), values, "");
      return;
    }
    defaultDeleteUser(username);
  }

  /** Sets a new password for a role (root rotation), in one transaction. */
  void changePassword(String username, String newPassword, List<String> statements)
      throws DatabaseException {
    List<String> effective = statements.isEmpty() ? List.of(DEFAULT_CHANGE_PASSWORD) : statements;
    Map<String, String> values = userValues(username);
    values.put("password", storedPassword(newPassword));
    inTransaction(SqlStatements.queries(effective, false), values, "failed to execute query: ");
  }

  /**
   * The template values every user statement gets: the role as both {@code name} and {@code
   * username}.
   */
  private static Map<String, String> userValues(String username) {
    Map<String, String> values = new LinkedHashMap<>();
    values.put("name", username);
    values.put("username", username);
    return values;
  }

  private String storedPassword(String password) {
    return settings.scramSha256() ? Passwords.scramSha256Verifier(password) : password;
  }

  private void inTransaction(List<String> queries, Map<String, String> values, String errorPrefix)
      throws DatabaseException {
    operations.lock();
    try {
      runTransaction(queries, values, errorPrefix);
    } finally {
      operations.unlock();
    }
  }

  private void runTransaction(List<String> queries, Map<String, String> values, String errorPrefix)
      throws DatabaseException {
    try (Connection c = connection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        for (String query : queries) {
          try {
            s.execute(SqlStatements.substitute(query, values));
          } catch (SQLException e) {
            throw new DatabaseException(errorPrefix + message(e), e);
          }
        }
        c.commit();
      } catch (DatabaseException | SQLException | RuntimeException e) {
        rollbackQuietly(c);
        throw e;
      } finally {
        restoreAutoCommit(c, autoCommit);
      }
    } catch (SQLException e) {
      throw new DatabaseException(message(e), e);
    }
  }

  private void defaultDeleteUser(String username) throws DatabaseException {
    operations.lock();
    try {
      runDefaultDeleteUser(username);
    } finally {
      operations.unlock();
    }
  }

  private void runDefaultDeleteUser(String username) throws DatabaseException {
    try (Connection c = connection()) {
      try (PreparedStatement exists =
          c.prepareStatement("SELECT exists (SELECT rolname FROM pg_roles WHERE rolname=?)")) {
        exists.setString(1, username);
        try (ResultSet rs = exists.executeQuery()) {
          if (!rs.next() || !rs.getBoolean(1)) {
            return;
          }
        }
      }
      String user = quoteIdentifier(username);
      List<String> revocations = new ArrayList<>();
      try (PreparedStatement schemas =
          c.prepareStatement(
              "SELECT DISTINCT table_schema FROM information_schema.role_column_grants"
                  + " WHERE grantee=?")) {
        schemas.setString(1, username);
        try (ResultSet rs = schemas.executeQuery()) {
          while (rs.next()) {
            String schema = rs.getString(1);
            // The plugin leaves this first schema name unquoted; kept so errors match.
            revocations.add(
                "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA " + schema + " FROM " + user + ";");
            revocations.add(
                "REVOKE USAGE ON SCHEMA " + quoteIdentifier(schema) + " FROM " + user + ";");
          }
        }
      }
      revocations.add("REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM " + user + ";");
      revocations.add("REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM " + user + ";");
      revocations.add("REVOKE USAGE ON SCHEMA public FROM " + user + ";");
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT current_database()")) {
        if (rs.next() && rs.getString(1) != null) {
          revocations.add(
              "REVOKE CONNECT ON DATABASE "
                  + quoteIdentifier(rs.getString(1))
                  + " FROM "
                  + user
                  + ";");
        }
      }
      SQLException last = null;
      for (String query : revocations) {
        try (Statement s = c.createStatement()) {
          s.execute(query);
        } catch (SQLException e) {
          last = e;
        }
      }
      if (last != null) {
        throw new DatabaseException(
            "could not perform all revocation statements: " + message(last), last);
      }
      try (Statement s = c.createStatement()) {
        s.execute("DROP ROLE IF EXISTS " + user + ";");
      }
    } catch (SQLException e) {
      throw new DatabaseException(message(e), e);
    }
  }

  /** PostgreSQL's identifier quoting, as the plugin's QuoteIdentifier. */
  static String quoteIdentifier(String name) {
    int nul = name.indexOf('\0');
    String n = nul >= 0 ? name.substring(0, nul) : name;
    return "\"" + n.replace("\"", "\"\"") + "\"";
  }

  private Connection connection() throws DatabaseException {
    HikariDataSource ds;
    synchronized (lock) {
      if (closed) {
        throw new DatabaseException("database connection " + name + " is closed");
      }
      if (pool == null) {
        pool = newPool();
      }
      ds = pool;
    }
    try {
      return ds.getConnection();
    } catch (SQLException e) {
      throw new DatabaseException("unable to get connection: " + message(e), e);
    }
  }

  private HikariDataSource newPool() {
    JdbcTarget target = settings.target();
    HikariConfig config = new HikariConfig();
    config.setPoolName("devstack-vault-db-" + name + "-" + POOL_NUMBER.incrementAndGet());
    config.setJdbcUrl(target.jdbcUrl());
    config.setDataSourceProperties(target.driverProperties());
    config.setMaximumPoolSize(settings.maxOpenConnections());
    // Go's database/sql opens connections lazily and keeps up to max_idle of them.
    config.setMinimumIdle(0);
    config.setMaxLifetime(
        settings.maxConnectionLifetime().isZero()
            ? 0
            : Math.max(30_000, settings.maxConnectionLifetime().toMillis()));
    // A wrong admin password should surface quickly, not after Hikari's default 30 s.
    config.setConnectionTimeout(5_000);
    config.setInitializationFailTimeout(-1);
    config.setAutoCommit(true);
    return new HikariDataSource(config);
  }

  /** pgx's description of a connection attempt: {@code host=h user=u database=d}. */
  private String describeTarget() {
    JdbcTarget t = settings.target();
    String rest = t.jdbcUrl().substring("jdbc:postgresql://".length());
    int slash = rest.indexOf('/');
    String hosts = rest.substring(0, slash);
    String firstHost = hosts.split(",")[0];
    String host =
        firstHost.startsWith("[")
            ? firstHost.substring(1, firstHost.indexOf(']'))
            : firstHost.substring(0, firstHost.lastIndexOf(':'));
    String database =
        java.net.URLDecoder.decode(
            rest.substring(slash + 1), java.nio.charset.StandardCharsets.UTF_8);
    return "host=" + host + " user=" + (t.user() == null ? "" : t.user()) + " database=" + database;
  }

  /**
   * A driver error in pgx's words ({@code ERROR: ... (SQLSTATE x)}), without the admin password.
   */
  private String message(SQLException e) {
    String text = e.getMessage();
    if (e instanceof PSQLException pe) {
      ServerErrorMessage server = pe.getServerErrorMessage();
      if (server != null && server.getMessage() != null) {
        text =
            (server.getSeverity() == null ? "ERROR" : server.getSeverity())
                + ": "
                + server.getMessage()
                + " (SQLSTATE "
                + server.getSQLState()
                + ")";
      }
    }
    if (text == null && e.getCause() != null) {
      text = e.getCause().getMessage();
    }
    return settings.sanitize(text);
  }

  private static void rollbackQuietly(Connection c) {
    try {
      c.rollback();
    } catch (SQLException ignored) {
      // The transaction is lost with the connection either way.
    }
  }

  private static void restoreAutoCommit(Connection c, boolean autoCommit) {
    try {
      c.setAutoCommit(autoCommit);
    } catch (SQLException ignored) {
      // Hikari resets the connection state on return.
    }
  }

  @Override
  public void close() {
    // Like the connection producer's Close: waits for the operation in flight.
    operations.lock();
    try {
      HikariDataSource ds;
      synchronized (lock) {
        closed = true;
        ds = pool;
        pool = null;
      }
      if (ds != null) {
        ds.close();
      }
    } finally {
      operations.unlock();
    }
  }
}
