package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The PostgreSQL half of setup on a real embedded PostgreSQL, without Vault. */
class TargetDatabaseSetupIT {

  private static EmbeddedPostgres postgres;

  @BeforeAll
  static void startPostgres() throws Exception {
    postgres = EmbeddedPostgres.builder().start();
    try (Connection c = postgres.getPostgresDatabase().getConnection();
        Statement st = c.createStatement()) {
      st.execute("ALTER ROLE postgres PASSWORD 'superuser-password'");
    }
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    postgres.close();
  }

  private static TargetDatabaseOptions options(String database) {
    return TargetDatabaseOptions.defaults(
        postgres.getJdbcUrl("postgres", "postgres"),
        "postgres",
        Secret.of("superuser-password"),
        database);
  }

  private static List<Object> query(String database, String sql) throws SQLException {
    try (Connection c = new TargetDatabaseSetup(options(database)).connect(database);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      List<Object> values = new java.util.ArrayList<>();
      while (rs.next()) {
        values.add(rs.getObject(1));
      }
      return values;
    }
  }

  @Test
  void secondRunChangesNothingAndSaysSo() {
    SetupReport first = new TargetDatabaseSetup(options("idem")).apply(false);
    assertThat(first.changed()).isTrue();
    assertThat(first.steps()).extracting(StepResult::outcome).contains(Outcome.CREATED);

    SetupReport second = new TargetDatabaseSetup(options("idem")).apply(false);
    assertThat(second.steps())
        .allSatisfy(s -> assertThat(s.outcome()).as(s.subject()).isEqualTo(Outcome.UNCHANGED));
    assertThat(second.render()).contains("No changes");
  }

  @Test
  void dryRunReportsThePlanAndCreatesNothing() throws SQLException {
    SetupReport plan = new TargetDatabaseSetup(options("dry")).apply(true);
    assertThat(plan.steps())
        .filteredOn(
            s ->
                !s.subject().startsWith("group privileges on existing objects")
                    && !s.subject().startsWith("other databases"))
        .extracting(StepResult::outcome)
        .containsOnly(Outcome.CREATED);
    assertThat(plan.render()).contains("would create").doesNotContain("superuser-password");
    assertThat(query("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'dry'"))
        .containsExactly(0L);
    assertThat(
            query(
                "postgres",
                "SELECT count(*) FROM pg_roles WHERE rolname IN ('dry_grp', 'admin_dry')"))
        .containsExactly(0L);
  }

  @Test
  void tamperedTriggerIsRepairedAsAnUpdate() throws SQLException {
    new TargetDatabaseSetup(options("tamper")).apply(false);
    try (Connection c = new TargetDatabaseSetup(options("tamper")).connect("tamper");
        Statement st = c.createStatement()) {
      st.execute("ALTER EVENT TRIGGER " + TargetDatabaseSetup.EVENT_TRIGGER + " DISABLE");
      st.execute("GRANT CONNECT ON DATABASE tamper TO PUBLIC");
    }
    SetupReport repair = new TargetDatabaseSetup(options("tamper")).apply(false);
    assertThat(repair.steps())
        .filteredOn(s -> s.outcome() == Outcome.UPDATED)
        .extracting(StepResult::subject)
        .anyMatch(s -> s.startsWith("event trigger"))
        .anyMatch(s -> s.startsWith("privileges on database"));
    assertThat(query("tamper", "SELECT evtenabled FROM pg_event_trigger")).containsExactly("O");
  }

  @Test
  void databaseCreatedFromTemplateInheritsTheOwnershipTrigger() throws SQLException {
    TargetDatabaseOptions options =
        options("fromtemplate").withTemplateDatabase("fromtemplate_tpl");
    SetupReport first = new TargetDatabaseSetup(options).apply(false);
    assertThat(first.steps())
        .filteredOn(
            s ->
                s.subject().startsWith("event trigger") && s.subject().endsWith("\"fromtemplate\""))
        .extracting(StepResult::outcome)
        .containsExactly(Outcome.UNCHANGED);
    assertThat(
            query(
                "postgres",
                "SELECT datistemplate FROM pg_database WHERE datname = 'fromtemplate_tpl'"))
        .containsExactly(true);

    // A member of the group creates a table in the derived database: the inherited trigger hands it
    // over.
    try (Connection c = new TargetDatabaseSetup(options).connect("fromtemplate");
        Statement st = c.createStatement()) {
      st.execute(
          "CREATE ROLE member_role LOGIN PASSWORD 'member-password' IN ROLE fromtemplate_grp");
    }
    try (Connection c = postgres.getDatabase("member_role", "fromtemplate").getConnection();
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE made_by_member (id serial PRIMARY KEY)");
    }
    assertThat(
            query(
                "fromtemplate",
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'made_by_member'"))
        .containsExactly("fromtemplate_grp");
    assertThat(new TargetDatabaseSetup(options).apply(false).changed()).isFalse();
  }

  @Test
  void otherDatabasesCloseToPublicButLoginRolesThatExistedKeepTheirAccess() throws SQLException {
    try (Connection c = new TargetDatabaseSetup(options("postgres")).connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("CREATE DATABASE bystander");
      st.execute("CREATE ROLE reporting_user LOGIN PASSWORD 'reporting-password'");
      st.execute(
          "CREATE ROLE someones_temporary LOGIN PASSWORD 'temporary-password' VALID UNTIL 'infinity'");
    }
    SetupReport report = new TargetDatabaseSetup(options("closing")).apply(false);
    assertThat(report.steps())
        .filteredOn(s -> s.subject().startsWith("other databases"))
        .singleElement()
        .satisfies(
            s ->
                assertThat(s.detail())
                    .contains("REVOKE CONNECT, TEMPORARY ON DATABASE \"bystander\" FROM PUBLIC")
                    .containsPattern(
                        "GRANT CONNECT, TEMPORARY ON DATABASE \"bystander\" TO .*reporting_user")
                    .doesNotContain("someones_temporary"));

    String publicOrMember = "SELECT has_database_privilege('%s', 'bystander', 'CONNECT')";
    assertThat(query("postgres", publicOrMember.formatted("reporting_user"))).containsExactly(true);
    assertThat(query("postgres", publicOrMember.formatted("someones_temporary")))
        .containsExactly(false);
    try (Connection c = new TargetDatabaseSetup(options("closing")).connect("closing");
        Statement st = c.createStatement()) {
      st.execute("CREATE ROLE closing_member LOGIN PASSWORD 'member-password' IN ROLE closing_grp");
    }
    assertThat(query("postgres", publicOrMember.formatted("closing_member")))
        .containsExactly(false);
    assertThat(
            query(
                "postgres",
                "SELECT has_database_privilege('closing_member', 'closing', 'CONNECT')"))
        .containsExactly(true);
    assertThat(new TargetDatabaseSetup(options("closing")).apply(false).changed()).isFalse();
  }

  @Test
  void preExistingSuperuserVaultAdminRoleIsDemotedToLoginCreaterole() throws SQLException {
    try (Connection c = new TargetDatabaseSetup(options("postgres")).connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("CREATE ROLE admin_demoted LOGIN SUPERUSER CREATEDB REPLICATION BYPASSRLS");
    }

    SetupReport report = new TargetDatabaseSetup(options("demoted")).apply(false);

    assertThat(report.steps())
        .filteredOn(s -> s.subject().startsWith("Vault admin role"))
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.outcome()).isEqualTo(Outcome.UPDATED);
              assertThat(s.detail())
                  .isEqualTo(
                      "ALTER ROLE \"admin_demoted\" LOGIN CREATEROLE NOSUPERUSER NOCREATEDB"
                          + " NOREPLICATION NOBYPASSRLS");
            });
    assertThat(
            query(
                "postgres",
                "SELECT ARRAY[rolcanlogin, rolcreaterole, rolsuper, rolcreatedb, rolreplication,"
                    + " rolbypassrls]::text FROM pg_roles WHERE rolname = 'admin_demoted'"))
        .containsExactly("{t,t,f,f,f,f}");
    assertThat(new TargetDatabaseSetup(options("demoted")).apply(false).changed()).isFalse();
  }

  @Test
  void nonSuperuserAdminIsRefusedBeforeAnythingChanges() throws SQLException {
    try (Connection c = new TargetDatabaseSetup(options("postgres")).connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("CREATE ROLE not_super LOGIN CREATEROLE PASSWORD 'not-super-password'");
      // Earlier setups in this cluster closed the other databases to PUBLIC: a role created since
      // needs its own grant.
      st.execute("GRANT CONNECT ON DATABASE postgres TO not_super");
    }
    TargetDatabaseOptions options =
        new TargetDatabaseOptions(
            postgres.getJdbcUrl("postgres", "postgres"),
            "not_super",
            Secret.of("not-super-password"),
            "refused",
            "refused_grp",
            "admin_refused",
            null);
    assertThatThrownBy(() -> new TargetDatabaseSetup(options).apply(false))
        .isInstanceOf(SetupException.class)
        .hasMessageContaining("must be a superuser");
    assertThat(query("postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'refused_grp'"))
        .containsExactly(0L);
  }
}
