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
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.core.VaultTemplate;

/**
 * Dynamic roles issued and revoked by Vault (the dev-stack stand-in, running the configured SQL for
 * real on embedded PostgreSQL) against a database prepared by setup: objects never block {@code
 * DROP ROLE}, open sessions are cut, and catalog ACLs do not grow with the number of roles.
 */
class DynamicRoleLifecycleIT {

  private static final String DB = "db1";
  private static final String GROUP = "db1_grp";

  @TempDir static Path workDir;
  private static DevStack stack;
  private static VaultTemplate vault;

  @BeforeAll
  static void setUp() {
    stack = VaultTestSupport.startStack(workDir);
    assertThat(VaultTestSupport.setUpDatabase(stack, DB).changed()).isTrue();
    vault = VaultTestSupport.vault(stack, stack.vaultRootToken());
  }

  @AfterAll
  static void tearDown() {
    if (stack != null) {
      stack.close();
    }
  }

  @Test
  void objectsCreatedByARevokedRoleBelongToTheGroupAndServeTheNextRole() throws SQLException {
    Credential first = issue(vault, "database", DB);
    try (Connection c = login(stack, DB, first);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)");
      st.execute("CREATE SEQUENCE invoice_numbers");
      st.execute(
          "CREATE FUNCTION order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.orders'");
      st.execute("CREATE VIEW recent_orders AS SELECT id, item FROM orders ORDER BY id DESC");
      st.execute("CREATE SCHEMA reporting");
      st.execute(
          "CREATE TABLE reporting.daily_totals (day date PRIMARY KEY, total bigint NOT NULL)");
      st.execute("INSERT INTO orders (item) VALUES ('first')");
    }

    revoke(vault, first);

    assertThat(
            adminQuery("SELECT count(*) FROM pg_roles WHERE rolname = '" + first.username() + "'"))
        .containsExactly(0L);
    assertThat(
            adminQuery(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid IN ('public.orders'::regclass, 'public.orders_id_seq'::regclass,"
                    + " 'public.invoice_numbers'::regclass, 'public.recent_orders'::regclass, 'reporting.daily_totals'::regclass)"
                    + " UNION ALL SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE oid = 'public.order_count'::regproc"
                    + " UNION ALL SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'reporting'"))
        .hasSize(7)
        .containsOnly(GROUP);

    Credential second = issue(vault, "database", DB);
    try (Connection c = login(stack, DB, second);
        Statement st = c.createStatement()) {
      st.execute("INSERT INTO orders (item) VALUES ('second')");
      st.execute("UPDATE orders SET item = 'first, amended' WHERE item = 'first'");
      assertThat(single(st, "SELECT nextval('invoice_numbers')")).isEqualTo(1L);
      assertThat(single(st, "SELECT order_count()")).isEqualTo(2L);
      assertThat(single(st, "SELECT item FROM recent_orders LIMIT 1")).isEqualTo("second");
      st.execute("INSERT INTO reporting.daily_totals VALUES (current_date, 2)");
      assertThat(single(st, "SELECT total FROM reporting.daily_totals")).isEqualTo(2L);
      st.execute("DELETE FROM orders WHERE item = 'second'");
    }
    revoke(vault, second);
    assertThat(
            adminQuery("SELECT count(*) FROM pg_roles WHERE rolname = '" + second.username() + "'"))
        .containsExactly(0L);
  }

  @Test
  void revokingARoleWithAnOpenSessionTerminatesTheSessionAndDropsTheRole() throws SQLException {
    Credential credential = issue(vault, "database", DB);
    try (Connection session = login(stack, DB, credential)) {
      session.setAutoCommit(false);
      try (Statement st = session.createStatement()) {
        st.execute("CREATE TEMPORARY TABLE scratch (x int)"); // an open transaction holding locks
      }

      revoke(vault, credential);

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
      assertThatThrownBy(() -> session.createStatement().execute("SELECT 1"))
          .isInstanceOf(SQLException.class);
    }
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_roles WHERE rolname = '" + credential.username() + "'"))
        .containsExactly(0L);
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = '"
                    + credential.username()
                    + "'"))
        .containsExactly(0L);
    assertThatThrownBy(() -> login(stack, DB, credential).close()).isInstanceOf(SQLException.class);
  }

  @Test
  void aSessionOpenedWhileTheRevocationWaitsForALockDoesNotOutliveIt() throws Exception {
    Credential credential = issue(vault, "database", DB);
    // A table of the role's own (what it creates goes to the group; a superuser hands this one
    // over).
    try (Connection c = stack.postgres().connect(DB);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE slow_to_hand_over (id int)");
      st.execute("ALTER TABLE slow_to_hand_over OWNER TO \"" + credential.username() + "\"");
    }
    // Someone holds a lock on the role's table: handing it over waits for its lock timeout, inside
    // the transaction in which Vault runs the revocation, before the NOLOGIN is committed.
    try (Connection holder = stack.postgres().connect(DB)) {
      holder.setAutoCommit(false);
      try (Statement st = holder.createStatement()) {
        st.execute("LOCK TABLE slow_to_hand_over IN ACCESS EXCLUSIVE MODE");
      }
      CompletableFuture<Void> revocation =
          CompletableFuture.runAsync(() -> revoke(vault, credential));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  adminQuery(
                          "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                              + " WHERE c.relname = 'slow_to_hand_over' AND NOT l.granted")
                      .equals(List.of(1L)));
      // A pool reconnecting after its sessions were ended: the role can still log in, as the
      // revocation has not committed.
      try (Connection reconnected = login(stack, DB, credential)) {
        revocation.get(30, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(10)).until(() -> !reconnected.isValid(1));
      }
      holder.rollback();
    }
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = (SELECT oid FROM pg_roles"
                    + " WHERE rolname = '"
                    + credential.username()
                    + "')"))
        .containsExactly(0L);
    assertThatThrownBy(() -> login(stack, DB, credential).close()).isInstanceOf(SQLException.class);
    // The role was left for a later revocation to drop; clear it so that it does not reach the
    // other tests' counts.
    try (Connection c = stack.postgres().connect(DB);
        Statement st = c.createStatement()) {
      st.execute("DROP TABLE slow_to_hand_over");
      st.execute("DROP ROLE \"" + credential.username() + "\"");
      st.execute(
          "DELETE FROM credbroker_revocation.undropped_role WHERE role_name = '"
              + credential.username()
              + "'");
    }
  }

  @Test
  void roleThatCannotBeDroppedStillLosesLoginAndSessionsAndIsDroppedByALaterRevocation()
      throws SQLException {
    Credential stuck = issue(vault, "database", DB);
    // Something of the role in another database, which DROP ROLE run in db1 cannot remove: here a
    // table a
    // superuser handed to it (before setup closed other databases the role could create it itself).
    try (Connection c = stack.postgres().connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE left_behind (id int)");
      st.execute("ALTER TABLE left_behind OWNER TO \"" + stuck.username() + "\"");
    }
    try (Connection session = login(stack, DB, stuck)) {
      revoke(
          vault,
          stuck); // Vault reports success: the role is revoked even though it could not be dropped

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
    }
    assertThatThrownBy(() -> login(stack, DB, stuck).close()).isInstanceOf(SQLException.class);
    assertThat(
            adminQuery(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + stuck.username() + "'"))
        .containsExactly(false);
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = '" + stuck.username() + "'"))
        .containsExactly(0L);
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '"
                    + stuck.username()
                    + "'"))
        .as("no longer a member of the group")
        .containsExactly(0L);
    assertThat(
            adminQuery(
                "SELECT attempts || ' ' || last_error FROM credbroker_revocation.undropped_role WHERE role_name = '"
                    + stuck.username()
                    + "'"))
        .singleElement()
        .asString()
        .startsWith("1 role")
        .contains("cannot be dropped");

    // Once the object is gone, the next revocation of any role drops the leftover and clears its
    // row.
    try (Connection c = stack.postgres().connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("DROP TABLE left_behind");
    }
    Credential next = issue(vault, "database", DB);
    try (Connection c = login(stack, DB, next);
        Statement st = c.createStatement()) {
      // Readable, so that the broker can report it with a credential it borrows; but no pod can
      // erase its row.
      assertThat(single(st, "SELECT count(*) FROM credbroker_revocation.undropped_role"))
          .isEqualTo(1L);
      assertThatThrownBy(() -> st.execute("DELETE FROM credbroker_revocation.undropped_role"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("permission denied");
    }
    revoke(vault, next);
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_roles WHERE rolname IN ('"
                    + stuck.username()
                    + "', '"
                    + next.username()
                    + "')"))
        .containsExactly(0L);
    assertThat(adminQuery("SELECT count(*) FROM credbroker_revocation.undropped_role"))
        .containsExactly(0L);
  }

  @Test
  void aMissingUndroppedTableLeavesTheRoleUndroppedButDoesNotUndoItsRevocation()
      throws SQLException {
    Credential credential = issue(vault, "database", DB);
    // A DBA moved the table away (or took the admin's rights on it): recording the role for its
    // drop
    // fails, and so does the sweep that would drop it.
    adminExecute("ALTER TABLE credbroker_revocation.undropped_role RENAME TO undropped_role_moved");
    try (Connection session = login(stack, DB, credential)) {
      revoke(vault, credential); // raised before: Vault kept the lease and rolled back the NOLOGIN

      await().atMost(Duration.ofSeconds(10)).until(() -> !session.isValid(1));
      assertThat(
              adminQuery(
                  "SELECT rolcanlogin FROM pg_roles WHERE rolname = '"
                      + credential.username()
                      + "'"))
          .containsExactly(false);
      assertThatThrownBy(() -> login(stack, DB, credential).close())
          .isInstanceOf(SQLException.class);
    } finally {
      adminExecute(
          "ALTER TABLE credbroker_revocation.undropped_role_moved RENAME TO undropped_role");
      adminExecute("DROP ROLE IF EXISTS \"" + credential.username() + "\"");
    }
  }

  @Test
  void dynamicRoleCannotConnectToAnyOtherDatabase() throws SQLException {
    Credential credential = issue(vault, "database", DB);
    try {
      for (String other : List.of("postgres", "template1")) {
        assertThatThrownBy(() -> login(stack, other, credential).close())
            .as(other)
            .isInstanceOf(SQLException.class)
            .hasMessageContaining("permission denied for database");
      }
      login(stack, DB, credential).close();
    } finally {
      revoke(vault, credential);
    }
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_roles WHERE rolname = '" + credential.username() + "'"))
        .containsExactly(0L);
  }

  @Test
  void twoThousandRolesIssuedAndRevokedInSequenceLeaveNoAclGrowth() throws SQLException {
    try (Connection c = stack.postgres().connect(DB);
        Statement st = c.createStatement()) {
      st.execute(
          "CREATE TABLE IF NOT EXISTS ledger (id bigserial PRIMARY KEY, written_by text NOT NULL)");
      st.execute("GRANT ALL ON ledger, ledger_id_seq TO " + GROUP);
    }
    List<Object> before = catalogFootprint();

    for (int i = 0; i < 2000; i++) {
      Credential credential = issue(vault, "database", DB);
      if (i % 250 == 0) { // every few roles proves the group privileges really work for it
        try (Connection c = login(stack, DB, credential);
            Statement st = c.createStatement()) {
          st.execute("INSERT INTO ledger (written_by) VALUES (current_user)");
        }
      }
      revoke(vault, credential);
    }

    assertThat(catalogFootprint()).isEqualTo(before);
    assertThat(adminQuery("SELECT count(*) FROM ledger")).containsExactly(8L);
    assertThat(
            adminQuery(
                "SELECT count(*) FROM pg_roles WHERE pg_has_role(oid, '"
                    + GROUP
                    + "', 'MEMBER') AND rolname LIKE 'v-%'"))
        .containsExactly(0L);
  }

  /**
   * Every ACL on the shared objects, the group's members, and shared dependencies: what would grow
   * with per-role grants.
   */
  private static List<Object> catalogFootprint() throws SQLException {
    List<Object> all = new ArrayList<>();
    all.addAll(
        adminQuery(
            "SELECT coalesce(datacl::text, '') FROM pg_database WHERE datname = '" + DB + "'"));
    all.addAll(
        adminQuery(
            "SELECT nspname || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' ORDER BY 1"));
    all.addAll(
        adminQuery(
            "SELECT relname || coalesce(relacl::text, '') FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1"));
    all.addAll(
        adminQuery(
            "SELECT proname || coalesce(proacl::text, '') FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1"));
    all.addAll(
        adminQuery("SELECT count(*) FROM pg_auth_members WHERE roleid = '" + GROUP + "'::regrole"));
    all.addAll(adminQuery("SELECT count(*) FROM pg_roles"));
    all.addAll(adminQuery("SELECT count(*) FROM pg_shdepend"));
    return all;
  }

  private static void adminExecute(String sql) throws SQLException {
    try (Connection c = stack.postgres().connect(DB);
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }

  private static List<Object> adminQuery(String sql) throws SQLException {
    return VaultTestSupport.query(stack, DB, sql);
  }
}
