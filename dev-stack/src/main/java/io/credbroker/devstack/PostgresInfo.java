package io.credbroker.devstack;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Where the dev stack's PostgreSQL listens and how to log in as its superuser. Immutable and
 * thread-safe; {@link #toString} hides the password.
 */
public record PostgresInfo(String host, int port, String adminUser, String adminPassword) {

  private static final Pattern DATABASE_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_\\-]{0,62}");

  /** {@code jdbc:postgresql://host:port/<database>}. */
  public String jdbcUrl(String database) {
    return "jdbc:postgresql://" + host + ":" + port + "/" + database;
  }

  /** A new connection as the superuser; the caller closes it. */
  public Connection connect(String database) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", adminUser);
    props.setProperty("password", adminPassword);
    return DriverManager.getConnection(jdbcUrl(database), props);
  }

  /**
   * Creates a database owned by the superuser unless it exists.
   *
   * @throws IllegalArgumentException for a name that is not a plain identifier
   */
  public void createDatabase(String name) {
    if (!DATABASE_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("not a plain database name: " + name);
    }
    try (Connection c = connect("postgres");
        Statement s = c.createStatement()) {
      try (ResultSet rs =
          s.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + name + "'")) {
        if (rs.next()) {
          return;
        }
      }
      try {
        s.execute("CREATE DATABASE \"" + name + "\"");
      } catch (SQLException e) {
        // Two callers may race to create the same database; the loser sees duplicate_database.
        if (!"42P04".equals(e.getSQLState())) {
          throw e;
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create database " + name + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "PostgresInfo[host=" + host + ", port=" + port + ", adminUser=" + adminUser + "]";
  }
}
