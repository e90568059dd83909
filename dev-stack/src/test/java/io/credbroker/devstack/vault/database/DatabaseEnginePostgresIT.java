package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.credbroker.devstack.vault.EngineRequest;
import io.credbroker.devstack.vault.LeaseRecord;
import io.credbroker.devstack.vault.Operation;
import io.credbroker.devstack.vault.TokenEntry;
import io.credbroker.devstack.vault.VaultException;
import io.credbroker.devstack.vault.VaultResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The engine against a real PostgreSQL with password authentication, without the Vault core: the
 * SQL the plugin runs, the roles it creates and drops, and what a login sees.
 */
class DatabaseEnginePostgresIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TokenEntry TOKEN =
      new TokenEntry(
          "hvs.secret",
          "accessor-1",
          List.of("default"),
          "kubernetes-public-application",
          Map.of(),
          Instant.now(),
          null);
  private static final AtomicInteger ADMINS = new AtomicInteger();

  private static ScramPostgres postgres;

  private InMemoryEngineContext context;
  private DatabaseEngine engine;
  private String admin;
  private String adminPassword;

  @BeforeAll
  static void startPostgres() throws Exception {
    postgres = ScramPostgres.start();
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    postgres.close();
  }

  /** Each test gets its own Vault admin role, as an operator would create it. */
  @BeforeEach
  void setUp() throws Exception {
    admin = "vaultadmin" + ADMINS.incrementAndGet();
    adminPassword = "admin-pw-" + admin;
    postgres.admin(
        "CREATE ROLE " + admin + " WITH LOGIN CREATEROLE PASSWORD '" + adminPassword + "'",
        "GRANT ALL ON SCHEMA public TO " + admin);
    context = new InMemoryEngineContext();
    engine = new DatabaseEngine(context);
    writeConfig("db1", "{}");
  }

  @AfterEach
  void tearDown() {
    engine.close();
  }

  private VaultResponse call(Operation op, String path, String body) throws Exception {
    JsonNode json = body.isEmpty() ? JsonNodeFactory.instance.objectNode() : JSON.readTree(body);
    return engine.handle(new EngineRequest(op, "database/", path, json, Map.of(), TOKEN));
  }

  private void writeConfig(String name, String extra) throws Exception {
    var body = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(extra);
    body.put("plugin_name", "postgresql-database-plugin");
    body.put(
        "connection_url",
        "postgresql://{{username}}:{{password}}@127.0.0.1:"
            + postgres.port()
            + "/db1?sslmode=disable");
    body.put("username", admin);
    body.put("password", adminPassword);
    body.put("allowed_roles", "*");
    call(Operation.UPDATE, "config/" + name, body.toString());
  }

  private void writeRole(String name, String body) throws Exception {
    call(Operation.UPDATE, "roles/" + name, body);
  }

  private static final String CREATE =
      "{\"db_name\":\"db1\",\"default_ttl\":\"1h\",\"max_ttl\":\"24h\",\"creation_statements\":"
          + "[\"CREATE ROLE \\\"{{name}}\\\" WITH LOGIN PASSWORD '{{password}}'"
          + " VALID UNTIL '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \\\"{{name}}\\\";\"]}";

  private record Creds(String username, String password, LeaseRecord lease) {}

  private Creds creds(String role) throws Exception {
    VaultResponse r = call(Operation.READ, "creds/" + role, "");
    JsonNode data = JSON.valueToTree(r.data());
    assertThat(data.size()).isEqualTo(2);
    assertThat(r.data().toString()).doesNotContain(data.get("password").asText());
    return new Creds(data.get("username").asText(), data.get("password").asText(), r.lease());
  }

  private static boolean roleExists(String name) throws SQLException {
    try (Connection c = postgres.connect("db1", "postgres", ScramPostgres.SUPERUSER_PASSWORD);
        PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
      s.setString(1, name);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next();
      }
    }
  }

  private static Instant validUntil(String name) throws SQLException {
    try (Connection c = postgres.connect("db1", "postgres", ScramPostgres.SUPERUSER_PASSWORD);
        PreparedStatement s =
            c.prepareStatement("SELECT rolvaliduntil FROM pg_roles WHERE rolname = ?")) {
      s.setString(1, name);
      try (ResultSet rs = s.executeQuery()) {
        assertThat(rs.next()).isTrue();
        Timestamp t = rs.getTimestamp(1);
        return t.toInstant();
      }
    }
  }

  @Test
  void issuedCredentialsLogInAndCanCreateATable() throws Exception {
    writeRole("db1", CREATE);

    Creds creds = creds("db1");

    assertThat(creds.username()).matches("v-kubernet-db1-[0-9A-Za-z]{20}-[0-9]{10}");
    assertThat(creds.password()).hasSize(20);
    try (Connection c = postgres.connect("db1", creds.username(), creds.password());
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE owned_by_dynamic_user (id int)");
      s.execute("DROP TABLE owned_by_dynamic_user");
    }
    assertThat(validUntil(creds.username()))
        .isCloseTo(
            Instant.now().plus(Duration.ofHours(1)).plusSeconds(5), within(30, ChronoUnit.SECONDS));
  }

  @Test
  void leaseCarriesRoleTtlsAndEngineDataWithoutThePassword() throws Exception {
    writeRole("db1", CREATE);

    Creds creds = creds("db1");

    JsonNode data = creds.lease().engineData();
    assertThat(data.get("username").asText()).isEqualTo(creds.username());
    assertThat(data.get("role").asText()).isEqualTo("db1");
    assertThat(data.get("db_name").asText()).isEqualTo("db1");
    assertThat(data.toString()).doesNotContain(creds.password()).doesNotContain(adminPassword);
    assertThat(creds.lease().ttlSeconds(Instant.now())).isBetween(3590L, 3600L);
  }

  @Test
  void defaultRevocationDropsTheRoleAndLoginFails() throws Exception {
    writeRole("db1", CREATE);
    Creds creds = creds("db1");

    engine.revoke(creds.lease());

    assertThat(roleExists(creds.username())).isFalse();
    assertThatThrownBy(() -> postgres.connect("db1", creds.username(), creds.password()).close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("password authentication failed");
    // Revoking again is harmless: the role is already gone.
    engine.revoke(creds.lease());
  }

  @Test
  void defaultRevocationFailsWhileTheRoleOwnsObjectsAndSucceedsOnceTheyAreGone() throws Exception {
    // A superuser admin, so every REVOKE passes and only DROP ROLE can fail.
    call(
        Operation.UPDATE,
        "config/su",
        "{\"plugin_name\":\"postgresql-database-plugin\",\"allowed_roles\":\"*\",\"connection_url\":"
            + "\"postgresql://{{username}}:{{password}}@127.0.0.1:"
            + postgres.port()
            + "/db1\","
            + "\"username\":\"postgres\",\"password\":\""
            + ScramPostgres.SUPERUSER_PASSWORD
            + "\"}");
    writeRole("owner", CREATE.replace("\"db_name\":\"db1\"", "\"db_name\":\"su\""));
    Creds creds = creds("owner");
    try {
      try (Connection c = postgres.connect("db1", creds.username(), creds.password());
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE owned_by_dynamic_user (id int)");
      }

      assertThatThrownBy(() -> engine.revoke(creds.lease()))
          .isInstanceOfSatisfying(VaultException.class, e -> assertThat(e.status()).isEqualTo(500))
          .hasMessageContaining("cannot be dropped because some objects depend on it");
      assertThat(roleExists(creds.username())).isTrue();
    } finally {
      postgres.admin("DROP TABLE IF EXISTS owned_by_dynamic_user");
    }

    engine.revoke(creds.lease());
    assertThat(roleExists(creds.username())).isFalse();
  }

  @Test
  void defaultRevocationByANonOwnerAdminFailsOnObjectsItCannotTouch() throws Exception {
    writeRole("db1", CREATE);
    Creds creds = creds("db1");
    try {
      try (Connection c = postgres.connect("db1", creds.username(), creds.password());
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE owned_by_dynamic_user (id int)");
      }

      assertThatThrownBy(() -> engine.revoke(creds.lease()))
          .isInstanceOf(VaultException.class)
          .hasMessageContaining("could not perform all revocation statements");
      assertThat(roleExists(creds.username())).isTrue();
    } finally {
      postgres.admin("DROP TABLE IF EXISTS owned_by_dynamic_user");
    }
  }

  @Test
  void customRevocationRunsInOneTransaction() throws Exception {
    writeRole(
        "db1",
        CREATE.replace(
            "\"default_ttl\"",
            "\"revocation_statements\":[\"ALTER ROLE \\\"{{name}}\\\" NOLOGIN; SELECT no_such_function();\"],"
                + "\"default_ttl\""));
    Creds creds = creds("db1");

    assertThatThrownBy(() -> engine.revoke(creds.lease()))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("no_such_function");
    // The ALTER ROLE was rolled back with the failing statement: the user still logs in.
    postgres.connect("db1", creds.username(), creds.password()).close();

    writeRole("db1", "{\"revocation_statements\":\"DROP ROLE \\\"{{name}}\\\"\"}");
    engine.revoke(creds.lease());
    assertThat(roleExists(creds.username())).isFalse();
  }

  @Test
  void revocationAfterTheRoleWasDeletedUsesWhatTheLeaseCarries() throws Exception {
    writeRole("gone", CREATE);
    Creds creds = creds("gone");
    call(Operation.DELETE, "roles/gone", "");

    engine.revoke(creds.lease());

    assertThat(roleExists(creds.username())).isFalse();
  }

  @Test
  void failedCreationRollsBackReportsTheSqlErrorAndRegistersNoLease() throws Exception {
    writeRole(
        "bad",
        "{\"db_name\":\"db1\",\"creation_statements\":\"CREATE ROLE \\\"{{name}}\\\" LOGIN;"
            + " GRANT no_such_group TO \\\"{{name}}\\\";\"}");

    assertThatThrownBy(() -> call(Operation.READ, "creds/bad", ""))
        .isInstanceOfSatisfying(
            VaultException.class,
            e -> {
              assertThat(e.status()).isEqualTo(500);
              assertThat(e.errors())
                  .containsExactly(
                      "1 error occurred:\n\t* failed to execute query: ERROR: role \"no_such_group\""
                          + " does not exist (SQLSTATE 42704)\n\n");
            });
    assertThat(context.leases).isEmpty();
    try (Connection c = postgres.connect("db1", "postgres", ScramPostgres.SUPERUSER_PASSWORD);
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-kubernet-bad-%'")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }
  }

  @Test
  void emptyCreationStatementsAreRefused() throws Exception {
    writeRole("empty", "{\"db_name\":\"db1\"}");

    assertThatThrownBy(() -> call(Operation.READ, "creds/empty", ""))
        .isInstanceOfSatisfying(
            VaultException.class,
            e ->
                assertThat(e.errors())
                    .containsExactly("1 error occurred:\n\t* empty creation statements\n\n"));
  }

  @Test
  void doBlockCreationStatementRunsWhole() throws Exception {
    writeRole(
        "block",
        "{\"db_name\":\"db1\",\"creation_statements\":[\"DO $$ BEGIN CREATE ROLE \\\"{{name}}\\\" LOGIN"
            + " PASSWORD '{{password}}'; COMMENT ON ROLE \\\"{{name}}\\\" IS 'made in a block'; END $$;\"]}");

    Creds creds = creds("block");

    postgres.connect("db1", creds.username(), creds.password()).close();
  }

  @Test
  void renewalMovesValidUntilWithTheDefaultStatement() throws Exception {
    writeRole("db1", CREATE);
    Creds creds = creds("db1");
    Instant newExpiry = Instant.now().plus(Duration.ofHours(5));

    engine.applyRenewal(creds.lease(), newExpiry);

    assertThat(validUntil(creds.username()))
        .isCloseTo(newExpiry.plusSeconds(5), within(2, ChronoUnit.SECONDS));
  }

  @Test
  void rotateRootReallyChangesTheAdminPasswordAndKeepsIssuing() throws Exception {
    writeRole("db1", CREATE);

    call(Operation.UPDATE, "rotate-root/db1", "");

    assertThatThrownBy(() -> postgres.connect("db1", admin, adminPassword).close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("password authentication failed");
    String stored =
        context.get("config/db1").orElseThrow().get("connection_details").get("password").asText();
    assertThat(stored).isNotEqualTo(adminPassword).hasSize(20);
    postgres.connect("db1", admin, stored).close();
    // The pool was rebuilt with the new password.
    Creds creds = creds("db1");
    assertThat(roleExists(creds.username())).isTrue();
    JsonNode read = JSON.valueToTree(call(Operation.READ, "config/db1", "").data());
    assertThat(read.toString()).doesNotContain(stored);
  }

  @Test
  void scramPasswordAuthenticationSendsAVerifierThatLogsIn() throws Exception {
    writeConfig("scram", "{\"password_authentication\":\"scram-sha-256\"}");
    writeRole("s", CREATE.replace("\"db_name\":\"db1\"", "\"db_name\":\"scram\""));

    Creds creds = creds("s");

    postgres.connect("db1", creds.username(), creds.password()).close();
  }

  @Test
  void wrongAdminPasswordIsRefusedWithoutEchoingIt() throws Exception {
    VaultException e = null;
    try {
      call(
          Operation.UPDATE,
          "config/wrong",
          "{\"plugin_name\":\"postgresql-database-plugin\",\"connection_url\":"
              + "\"postgresql://{{username}}:{{password}}@127.0.0.1:"
              + postgres.port()
              + "/db1\","
              + "\"username\":\""
              + admin
              + "\",\"password\":\"not-the-right-one\"}");
    } catch (VaultException thrown) {
      e = thrown;
    }

    assertThat(e).isNotNull();
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors().get(0))
        .startsWith("error creating database object: error verifying connection")
        .contains("password authentication failed")
        .doesNotContain("not-the-right-one");
    assertThat(context.get("config/wrong")).isEmpty();
  }

  @Test
  void customUsernameTemplateShapesTheNames() throws Exception {
    writeConfig(
        "templated",
        "{\"username_template\":\"{{ printf \\\"app_%s_%s\\\" (.RoleName | replace \\\"-\\\" \\\"_\\\") (random 8) | lowercase }}\"}");
    writeRole("read-only", CREATE.replace("\"db_name\":\"db1\"", "\"db_name\":\"templated\""));

    Creds creds = creds("read-only");

    assertThat(creds.username()).matches("app_read_only_[0-9a-z]{8}");
    postgres.connect("db1", creds.username(), creds.password()).close();
  }

  @Test
  void customRenewStatementsRunWithTheNewExpiration() throws Exception {
    writeRole(
        "db1",
        CREATE.replace(
            "\"default_ttl\"",
            "\"renew_statements\":[\"ALTER ROLE \\\"{{name}}\\\" VALID UNTIL '{{expiration}}';"
                + " COMMENT ON ROLE \\\"{{username}}\\\" IS 'renewed until {{expiration}}'\"],"
                + "\"default_ttl\""));
    Creds creds = creds("db1");
    Instant newExpiry = Instant.now().plus(Duration.ofHours(2));

    engine.applyRenewal(creds.lease(), newExpiry);

    assertThat(validUntil(creds.username()))
        .isCloseTo(newExpiry.plusSeconds(5), within(2, ChronoUnit.SECONDS));
    try (Connection c = postgres.connect("db1", "postgres", ScramPostgres.SUPERUSER_PASSWORD);
        PreparedStatement s =
            c.prepareStatement(
                "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = ?")) {
      s.setString(1, creds.username());
      try (ResultSet rs = s.executeQuery()) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).startsWith("renewed until ").matches(".*[+-][0-9]{4}$");
      }
    }
  }

  @Test
  void resetRebuildsTheConnectionAndIssuingGoesOn() throws Exception {
    writeRole("db1", CREATE);
    creds("db1");

    assertThat(call(Operation.UPDATE, "reset/db1", "").status()).isEqualTo(204);

    Creds creds = creds("db1");
    postgres.connect("db1", creds.username(), creds.password()).close();
  }

  @Test
  void concurrentRequestsShareTheSmallPoolAndEachGetsItsOwnRole() throws Exception {
    writeConfig("small", "{\"max_open_connections\":2}");
    writeRole("busy", CREATE.replace("\"db_name\":\"db1\"", "\"db_name\":\"small\""));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Creds>> futures = new ArrayList<>();
      for (int i = 0; i < 24; i++) {
        futures.add(pool.submit(() -> creds("busy")));
      }
      Set<String> users = new HashSet<>();
      for (Future<Creds> f : futures) {
        Creds c = f.get(60, TimeUnit.SECONDS);
        users.add(c.username());
        assertThat(roleExists(c.username())).isTrue();
      }
      assertThat(users).hasSize(24);
      assertThat(context.leases).hasSize(24);
    } finally {
      pool.shutdownNow();
    }
  }

  /** A role whose revocation holds the connection for a while before dropping the user. */
  private static String slowRevocation(String dbName, double seconds) {
    return CREATE
        .replace("\"db_name\":\"db1\"", "\"db_name\":\"" + dbName + "\"")
        .replace(
            "\"default_ttl\"",
            "\"revocation_statements\":[\"SELECT pg_sleep("
                + seconds
                + "); DROP ROLE \\\"{{name}}\\\";\"],"
                + "\"default_ttl\"");
  }

  /**
   * Waits until a session of the revoking admin sits in pg_sleep, i.e. the revocation is under way.
   */
  private void awaitRevocationSleeping() {
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              try (Connection c =
                      postgres.connect("db1", "postgres", ScramPostgres.SUPERUSER_PASSWORD);
                  PreparedStatement s =
                      c.prepareStatement(
                          "SELECT count(*) FROM pg_stat_activity WHERE usename = ? AND state = 'active'"
                              + " AND query LIKE 'SELECT pg_sleep%'")) {
                s.setString(1, admin);
                try (ResultSet rs = s.executeQuery()) {
                  rs.next();
                  return rs.getInt(1) > 0;
                }
              }
            });
  }

  @Test
  void creationAndRenewalWaitForASlowRevocationOnTheSameConnection() throws Exception {
    writeRole("slow", slowRevocation("db1", 2));
    writeRole("db1", CREATE);
    Creds doomed = creds("slow");
    Creds kept = creds("db1");
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<?> revocation =
          pool.submit(
              () -> {
                engine.revoke(doomed.lease());
                return null;
              });
      awaitRevocationSleeping();

      Creds created = creds("db1");
      assertThat(revocation).as("revocation finished before the creation behind it").isDone();
      revocation.get();

      writeRole(
          "db1",
          "{\"revocation_statements\":[\"SELECT pg_sleep(2); DROP ROLE \\\"{{name}}\\\";\"]}");
      Future<?> secondRevocation =
          pool.submit(
              () -> {
                engine.revoke(created.lease());
                return null;
              });
      awaitRevocationSleeping();
      engine.applyRenewal(kept.lease(), Instant.now().plus(Duration.ofHours(2)));
      assertThat(secondRevocation).as("revocation finished before the renewal behind it").isDone();
      secondRevocation.get();
      assertThat(roleExists(doomed.username())).isFalse();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aSlowRevocationOnOneConnectionDoesNotDelayCreationOnAnother() throws Exception {
    writeConfig("db2", "{}");
    writeRole("slow", slowRevocation("db1", 10));
    writeRole("other", CREATE.replace("\"db_name\":\"db1\"", "\"db_name\":\"db2\""));
    Creds doomed = creds("slow");
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<?> revocation =
          pool.submit(
              () -> {
                engine.revoke(doomed.lease());
                return null;
              });
      awaitRevocationSleeping();

      Creds created = creds("other");

      assertThat(revocation).as("revocation on db1 still sleeping").isNotDone();
      assertThat(roleExists(created.username())).isTrue();
      revocation.get(60, TimeUnit.SECONDS);
      assertThat(roleExists(doomed.username())).isFalse();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aNewEngineOverTheSameStorageCarriesOn() throws Exception {
    writeRole("db1", CREATE);
    engine.close();

    engine = new DatabaseEngine(context);
    Creds creds = creds("db1");

    postgres.connect("db1", creds.username(), creds.password()).close();
  }
}
