package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class JdbcTargetTest {

  @Test
  void urlFormBecomesJdbcWithDecodedCredentials() throws Exception {
    JdbcTarget t =
        JdbcTarget.parse(
            "postgresql://vault%20admin:p%40ss:w@rd@db.example:6543/app?sslmode=disable");

    assertThat(t.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example:6543/app");
    assertThat(t.user()).isEqualTo("vault admin");
    assertThat(t.password()).isEqualTo("p@ss:w@rd");
    assertThat(t.properties())
        .containsEntry("sslmode", "disable")
        .containsEntry("ApplicationName", "vault");
  }

  @Test
  void postgresSchemeAndDefaultsWork() throws Exception {
    JdbcTarget t = JdbcTarget.parse("postgres://bob@localhost");

    assertThat(t.jdbcUrl()).isEqualTo("jdbc:postgresql://localhost:5432/bob");
    assertThat(t.password()).isNull();
  }

  @Test
  void keyValueFormIsUnderstood() throws Exception {
    JdbcTarget t =
        JdbcTarget.parse(
            "host=127.0.0.1 port=5433 user=admin password='it\\'s x' dbname=db1 sslmode=disable connect_timeout=5");

    assertThat(t.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:5433/db1");
    assertThat(t.user()).isEqualTo("admin");
    assertThat(t.password()).isEqualTo("it's x");
    assertThat(t.properties())
        .containsEntry("connectTimeout", "5")
        .containsEntry("sslmode", "disable");
  }

  @Test
  void unknownParametersBecomeRuntimeOptions() throws Exception {
    JdbcTarget t = JdbcTarget.parse("postgresql://u:p@h:1/d?search_path=app&application_name=me");

    assertThat(t.properties().get("options")).contains("-c search_path=app");
    assertThat(t.properties()).containsEntry("ApplicationName", "me");
  }

  @Test
  void toStringHidesThePassword() throws Exception {
    assertThat(JdbcTarget.parse("postgresql://u:topsecret@h/d").toString())
        .doesNotContain("topsecret");
  }

  @Test
  void somethingElseIsRefused() {
    assertThatThrownBy(() -> JdbcTarget.parse("mysql:nothing"))
        .isInstanceOf(JdbcTarget.InvalidConnectionUrlException.class);
  }
}
