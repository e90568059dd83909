package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.vault.VaultException;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultMount;
import org.springframework.vault.support.VaultResponse;

/**
 * The database engine through the whole Vault stand-in, driven by Spring Vault's {@code
 * VaultTemplate} with the same calls an operator and an application make, against the dev stack's
 * PostgreSQL (password authentication enforced, so refused logins are real).
 */
class DatabaseEngineSpringVaultIT {

  private static final String ADMIN = "vaultadmin";
  private static final String ADMIN_PASSWORD = "initial-admin-password";

  private static DevStack stack;
  private static VaultTemplate vault;

  @BeforeAll
  static void start() throws Exception {
    stack = DevStack.builder().createDatabase("db1").start();
    try (Connection c = stack.postgres().connect("db1");
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE ROLE " + ADMIN + " WITH LOGIN CREATEROLE PASSWORD '" + ADMIN_PASSWORD + "'");
      s.execute("GRANT ALL ON SCHEMA public TO " + ADMIN);
    }
    vault =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())),
            new TokenAuthentication(stack.vaultRootToken()));
    vault.opsForSys().mount("database", VaultMount.create("database"));
    vault.write("database/config/db1", config(ADMIN, ADMIN_PASSWORD));
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  private static Map<String, Object> config(String user, String password) {
    PostgresInfo pg = stack.postgres();
    Map<String, Object> body = new HashMap<>();
    body.put("plugin_name", "postgresql-database-plugin");
    body.put(
        "connection_url",
        "postgresql://{{username}}:{{password}}@"
            + pg.host()
            + ":"
            + pg.port()
            + "/db1?sslmode=disable");
    body.put("username", user);
    body.put("password", password);
    body.put("allowed_roles", "*");
    return body;
  }

  private static void role(String name, String defaultTtl, String maxTtl, List<String> revocation) {
    Map<String, Object> body = new HashMap<>();
    body.put("db_name", "db1");
    body.put(
        "creation_statements",
        List.of(
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
                + " GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"));
    body.put("revocation_statements", revocation);
    body.put("default_ttl", defaultTtl);
    body.put("max_ttl", maxTtl);
    vault.write("database/roles/" + name, body);
  }

  private static Connection login(String user, String password) throws SQLException {
    PostgresInfo pg = stack.postgres();
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    return DriverManager.getConnection(pg.jdbcUrl("db1"), p);
  }

  private static boolean roleExists(String name) throws SQLException {
    try (Connection c = stack.postgres().connect("db1");
        PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
      s.setString(1, name);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next();
      }
    }
  }

  private static Instant validUntil(String name) throws SQLException {
    try (Connection c = stack.postgres().connect("db1");
        PreparedStatement s =
            c.prepareStatement("SELECT rolvaliduntil FROM pg_roles WHERE rolname = ?")) {
      s.setString(1, name);
      try (ResultSet rs = s.executeQuery()) {
        assertThat(rs.next()).isTrue();
        return rs.getTimestamp(1).toInstant();
      }
    }
  }

  @Test
  void credentialsFromCredsLogInAndCanCreateATable() throws Exception {
    role("app", "1h", "24h", List.of());

    VaultResponse creds = vault.read("database/creds/app");

    assertThat(creds).isNotNull();
    assertThat(creds.getLeaseId()).startsWith("database/creds/app/");
    assertThat(creds.isRenewable()).isTrue();
    assertThat(creds.getLeaseDuration()).isEqualTo(3600);
    assertThat(creds.getRequiredData()).containsOnlyKeys("username", "password");
    String user = (String) creds.getRequiredData().get("username");
    String password = (String) creds.getRequiredData().get("password");
    assertThat(user).matches("v-root-app-[0-9A-Za-z]{20}-[0-9]{10}");
    try (Connection c = login(user, password);
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE created_by_dynamic_user (id int)");
      s.execute("DROP TABLE created_by_dynamic_user");
    }
  }

  @Test
  void operatorReadsBackConfigWithoutPasswordAndRolesWithSeconds() {
    role("readback", "90s", "1h", List.of());

    VaultResponse config = vault.read("database/config/db1");
    VaultResponse role = vault.read("database/roles/readback");

    assertThat(config).isNotNull();
    assertThat(config.getRequiredData().toString()).doesNotContain(ADMIN_PASSWORD);
    @SuppressWarnings("unchecked")
    Map<String, Object> details =
        (Map<String, Object>) config.getRequiredData().get("connection_details");
    assertThat(details).containsEntry("username", ADMIN).doesNotContainKey("password");
    assertThat(config.getRequiredData()).containsEntry("plugin_name", "postgresql-database-plugin");
    assertThat(role).isNotNull();
    assertThat(((Number) role.getRequiredData().get("default_ttl")).longValue()).isEqualTo(90);
    assertThat(((Number) role.getRequiredData().get("max_ttl")).longValue()).isEqualTo(3600);
    assertThat(vault.list("database/roles")).contains("readback");
  }

  @Test
  void renewBeyondMaxTtlIsCappedWithVaultsWarning() throws Exception {
    role("capped", "10s", "30s", List.of());
    VaultResponse creds = vault.read("database/creds/capped");
    String user = (String) creds.getRequiredData().get("username");

    VaultResponse renewed =
        vault.write("sys/leases/renew", Map.of("lease_id", creds.getLeaseId(), "increment", "1h"));

    assertThat(renewed).isNotNull();
    assertThat(renewed.getLeaseDuration()).isBetween(25L, 30L);
    assertThat(renewed.getWarnings())
        .singleElement()
        .asString()
        .matches(
            "TTL of \"1h\" exceeded the effective max_ttl of \"(29|30|2[5-9])s\"; TTL value is capped accordingly");
    // The renew statement moved VALID UNTIL to the capped expiry plus Vault's 5 s buffer.
    assertThat(validUntil(user))
        .isBetween(Instant.now().plusSeconds(25), Instant.now().plusSeconds(40));
  }

  @Test
  void lookupShowsTheLease() {
    role("looked", "1h", "2h", List.of());
    VaultResponse creds = vault.read("database/creds/looked");

    VaultResponse lookup = vault.write("sys/leases/lookup", Map.of("lease_id", creds.getLeaseId()));

    assertThat(lookup).isNotNull();
    assertThat(lookup.getRequiredData())
        .containsEntry("id", creds.getLeaseId())
        .containsEntry("renewable", true);
    assertThat(((Number) lookup.getRequiredData().get("ttl")).longValue()).isBetween(3500L, 3600L);
  }

  @Test
  void revokedCredentialsCannotLogInAndTheRoleIsGone() throws Exception {
    role("revoked", "1h", "2h", List.of());
    VaultResponse creds = vault.read("database/creds/revoked");
    String user = (String) creds.getRequiredData().get("username");
    String password = (String) creds.getRequiredData().get("password");
    login(user, password).close();

    vault.write("sys/leases/revoke", Map.of("lease_id", creds.getLeaseId()));

    assertThat(roleExists(user)).isFalse();
    assertThatThrownBy(() -> login(user, password).close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("password authentication failed");
  }

  @Test
  void expiredLeaseRunsTheRevocationStatementsOnItsOwn() throws Exception {
    role(
        "shortlived",
        "2s",
        "2s",
        List.of(
            "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM \"{{name}}\"; DROP ROLE \"{{name}}\";"));
    VaultResponse creds = vault.read("database/creds/shortlived");
    String user = (String) creds.getRequiredData().get("username");
    assertThat(roleExists(user)).isTrue();

    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> !roleExists(user));
  }

  @Test
  void rotateRootMakesTheOriginalAdminPasswordFail() throws Exception {
    try (Connection c = stack.postgres().connect("db1");
        Statement s = c.createStatement()) {
      s.execute("CREATE ROLE rotated_admin WITH LOGIN CREATEROLE PASSWORD 'rotate-me'");
    }
    vault.write("database/config/rotating", config("rotated_admin", "rotate-me"));
    Map<String, Object> role = new HashMap<>();
    role.put("db_name", "rotating");
    role.put("creation_statements", "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';");
    vault.write("database/roles/after-rotation", role);

    vault.write("database/rotate-root/rotating", null);

    assertThatThrownBy(() -> login("rotated_admin", "rotate-me").close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("password authentication failed");
    VaultResponse creds = vault.read("database/creds/after-rotation");
    assertThat(roleExists((String) creds.getRequiredData().get("username"))).isTrue();
  }

  @Test
  void restartedStandInKeepsRotatedConfigRolesAndLeases() throws Exception {
    try (Connection c = stack.postgres().connect("db1");
        Statement s = c.createStatement()) {
      s.execute("CREATE ROLE restart_admin WITH LOGIN CREATEROLE PASSWORD 'before-restart'");
    }
    vault.write("database/config/restarting", config("restart_admin", "before-restart"));
    Map<String, Object> role = new HashMap<>();
    role.put("db_name", "restarting");
    role.put("creation_statements", "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';");
    role.put("default_ttl", "1h");
    vault.write("database/roles/survivor", role);
    vault.write("database/rotate-root/restarting", null);
    VaultResponse before = vault.read("database/creds/survivor");
    String userBefore = (String) before.getRequiredData().get("username");

    stack.stopVault();
    stack.startVault();

    // The rotated admin password was persisted: the new engine connects with it.
    VaultResponse after = vault.read("database/creds/survivor");
    assertThat(roleExists((String) after.getRequiredData().get("username"))).isTrue();
    // A lease from before the restart is still revocable, with the SQL run for real.
    vault.write("sys/leases/revoke", Map.of("lease_id", before.getLeaseId()));
    assertThat(roleExists(userBefore)).isFalse();
  }

  @Test
  void unknownRoleIsABadRequestAndADisallowedRoleAServerError() {
    assertThatThrownBy(() -> vault.read("database/creds/nope"))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("400")
        .hasMessageContaining("unknown role: nope");

    Map<String, Object> restricted = config(ADMIN, ADMIN_PASSWORD);
    restricted.put("allowed_roles", "someone-else");
    vault.write("database/config/restricted", restricted);
    Map<String, Object> role = new HashMap<>();
    role.put("db_name", "restricted");
    role.put("creation_statements", "SELECT 1");
    vault.write("database/roles/not-allowed", role);

    assertThatThrownBy(() -> vault.read("database/creds/not-allowed"))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("500")
        .hasMessageContaining("\"not-allowed\" is not an allowed role");
  }
}
