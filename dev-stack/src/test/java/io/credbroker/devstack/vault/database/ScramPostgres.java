package io.credbroker.devstack.vault.database;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A throwaway embedded PostgreSQL for the engine's integration tests that, like a real server,
 * checks passwords (SCRAM) on TCP logins, so a refused login in a test is a real refusal. One per
 * test class; {@link #close} stops it.
 */
final class ScramPostgres implements AutoCloseable {

  static final String SUPERUSER_PASSWORD = "fixture-superuser-pw";

  private final EmbeddedPostgres postgres;

  private ScramPostgres(EmbeddedPostgres postgres) {
    this.postgres = postgres;
  }

  static ScramPostgres start() throws IOException, SQLException {
    // zonky picks (and opens up for the server user) the data directory; we only learn it.
    AtomicReference<Path> dataDir = new AtomicReference<>();
    EmbeddedPostgres pg =
        EmbeddedPostgres.builder()
            .setDataDirectoryCustomizer(d -> dataDir.set(d.toPath()))
            .setServerConfig("password_encryption", "scram-sha-256")
            .setServerConfig("fsync", "off")
            .start();
    try (Connection c = pg.getPostgresDatabase().getConnection();
        Statement s = c.createStatement()) {
      s.execute("ALTER ROLE postgres PASSWORD '" + SUPERUSER_PASSWORD + "'");
      s.execute("CREATE DATABASE db1");
    }
    // Overwrite in place so the file keeps the owner the server runs as.
    Files.writeString(
        dataDir.get().resolve("pg_hba.conf"),
        "local all all trust\n"
            + "host all all 127.0.0.1/32 scram-sha-256\n"
            + "host all all ::1/128 scram-sha-256\n",
        StandardCharsets.UTF_8);
    ScramPostgres server = new ScramPostgres(pg);
    try (Connection c = server.connect("postgres", "postgres", SUPERUSER_PASSWORD);
        Statement s = c.createStatement()) {
      s.execute("SELECT pg_reload_conf()");
    }
    return server;
  }

  int port() {
    return postgres.getPort();
  }

  Connection connect(String database, String user, String password) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port() + "/" + database, p);
  }

  /** Runs statements on db1 as the superuser. */
  void admin(String... sql) throws SQLException {
    try (Connection c = connect("db1", "postgres", SUPERUSER_PASSWORD);
        Statement s = c.createStatement()) {
      for (String q : sql) {
        s.execute(q);
      }
    }
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }
}
