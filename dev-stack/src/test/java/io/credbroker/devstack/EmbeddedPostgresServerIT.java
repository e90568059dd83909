package io.credbroker.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedPostgresServerIT {

  @TempDir static Path dir;
  static EmbeddedPostgresServer server;

  @BeforeAll
  static void start() {
    server = EmbeddedPostgresServer.start(dir.resolve("pg"), 0);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void superuserLogsInWithItsPasswordOverTcp() throws SQLException {
    try (Connection c = server.info().connect("postgres");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT current_user, current_setting('max_connections')")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).isEqualTo("postgres");
      assertThat(Integer.parseInt(rs.getString(2))).isGreaterThanOrEqualTo(300);
    }
  }

  @Test
  void wrongOrMissingPasswordIsRefused() {
    PostgresInfo info = server.info();
    Properties wrong = new Properties();
    wrong.setProperty("user", "postgres");
    wrong.setProperty("password", "not-the-password");
    assertThatThrownBy(() -> DriverManager.getConnection(info.jdbcUrl("postgres"), wrong).close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("password authentication failed");
    Properties none = new Properties();
    none.setProperty("user", "postgres");
    assertThatThrownBy(() -> DriverManager.getConnection(info.jdbcUrl("postgres"), none).close())
        .isInstanceOf(SQLException.class);
  }

  @Test
  void createDatabaseIsIdempotent() throws SQLException {
    server.info().createDatabase("appdb");
    server.info().createDatabase("appdb");
    try (Connection c = server.info().connect("appdb")) {
      assertThat(c.getCatalog()).isEqualTo("appdb");
    }
  }

  @Test
  void passwordNeverAppearsInToString() {
    assertThat(server.info().toString()).doesNotContain(server.info().adminPassword());
  }
}
