package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.vault.EngineRequest;
import io.credbroker.devstack.vault.LeaseRecord;
import io.credbroker.devstack.vault.Operation;
import io.credbroker.devstack.vault.RenewalGrant;
import io.credbroker.devstack.vault.TokenEntry;
import io.credbroker.devstack.vault.VaultException;
import io.credbroker.devstack.vault.VaultResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The engine's paths and validation, where no database connection is needed. */
class DatabaseEngineTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TokenEntry ROOT =
      new TokenEntry("root", "acc", List.of("root"), "root", Map.of(), Instant.now(), null);

  private final InMemoryEngineContext context = new InMemoryEngineContext();
  private final DatabaseEngine engine = new DatabaseEngine(context);

  @AfterEach
  void close() {
    engine.close();
  }

  private VaultResponse call(Operation op, String path, String body) throws Exception {
    JsonNode json = body.isEmpty() ? JsonNodeFactory.instance.objectNode() : JSON.readTree(body);
    return engine.handle(new EngineRequest(op, "database/", path, json, Map.of(), ROOT));
  }

  private VaultException failure(Operation op, String path, String body) {
    try {
      call(op, path, body);
    } catch (VaultException e) {
      return e;
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("no failure for " + op + " " + path);
  }

  private void unverifiedConfig(String name, String allowedRoles) throws Exception {
    call(
        Operation.UPDATE,
        "config/" + name,
        "{\"plugin_name\":\"postgresql-database-plugin\",\"verify_connection\":false,"
            + "\"connection_url\":\"postgresql://{{username}}:{{password}}@127.0.0.1:1/db\","
            + "\"username\":\"admin\",\"password\":\"s3cret-admin\",\"allowed_roles\":\""
            + allowedRoles
            + "\"}");
  }

  @Test
  void unknownRoleIsABadRequest() {
    VaultException e = failure(Operation.READ, "creds/nope", "");

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors()).containsExactly("unknown role: nope");
  }

  @Test
  void roleOutsideAllowedRolesIsAWrappedServerError() throws Exception {
    unverifiedConfig("db1", "other, app-*");
    call(
        Operation.UPDATE,
        "roles/db1",
        "{\"db_name\":\"db1\",\"creation_statements\":\"SELECT 1\"}");

    VaultException e = failure(Operation.READ, "creds/db1", "");

    assertThat(e.status()).isEqualTo(500);
    assertThat(e.errors())
        .containsExactly("1 error occurred:\n\t* \"db1\" is not an allowed role\n\n");
    assertThat(context.leases).isEmpty();
  }

  @Test
  void allowedRolesMatchGlobs() {
    assertThat(DatabaseEngine.glob("app-*", "app-rw")).isTrue();
    assertThat(DatabaseEngine.glob("app-*", "db1")).isFalse();
    assertThat(DatabaseEngine.glob("*-rw", "app-rw")).isTrue();
    assertThat(DatabaseEngine.glob("a*b*c", "aXXbYYc")).isTrue();
    assertThat(DatabaseEngine.glob("a*b*c", "aXXcYYb")).isFalse();
  }

  @Test
  void roleReadEchoesStatementsAndTtlsInSeconds() throws Exception {
    call(
        Operation.UPDATE,
        "roles/app",
        "{\"db_name\":\"db1\",\"creation_statements\":[\"CREATE ROLE x\"],"
            + "\"default_ttl\":\"1h\",\"max_ttl\":86400}");

    JsonNode data = JSON.valueToTree(call(Operation.READ, "roles/app", "").data());

    assertThat(data.get("db_name").asText()).isEqualTo("db1");
    assertThat(data.get("creation_statements").get(0).asText()).isEqualTo("CREATE ROLE x");
    assertThat(data.get("revocation_statements").isArray()).isTrue();
    assertThat(data.get("revocation_statements")).isEmpty();
    assertThat(data.get("renew_statements")).isEmpty();
    assertThat(data.get("rollback_statements")).isEmpty();
    assertThat(data.get("default_ttl").asLong()).isEqualTo(3600);
    assertThat(data.get("max_ttl").asLong()).isEqualTo(86400);
    assertThat(data.get("credential_type").asText()).isEqualTo("password");
    assertThat(data.has("credential_config")).isFalse();
  }

  @Test
  void roleUpdateKeepsFieldsNotSent() throws Exception {
    call(
        Operation.UPDATE,
        "roles/app",
        "{\"db_name\":\"db1\",\"creation_statements\":\"SELECT 1\",\"default_ttl\":60}");
    call(Operation.UPDATE, "roles/app", "{\"max_ttl\":\"2m\"}");

    JsonNode data = JSON.valueToTree(call(Operation.READ, "roles/app", "").data());

    assertThat(data.get("db_name").asText()).isEqualTo("db1");
    assertThat(data.get("default_ttl").asLong()).isEqualTo(60);
    assertThat(data.get("max_ttl").asLong()).isEqualTo(120);
  }

  @Test
  void roleWithoutDatabaseIsRefusedAndNothingIsStored() {
    VaultException e =
        failure(Operation.UPDATE, "roles/app", "{\"creation_statements\":\"SELECT 1\"}");

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors()).containsExactly("database name is required");
    assertThat(context.size()).isZero();
  }

  @Test
  void badTtlIsRefusedWithVaultsConversionError() {
    VaultException e =
        failure(Operation.UPDATE, "roles/app", "{\"db_name\":\"db1\",\"default_ttl\":\"soon\"}");

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors().get(0))
        .isEqualTo(
            "error converting input soon for field \"default_ttl\": time: invalid duration \"soon\"");
    assertThat(context.size()).isZero();
  }

  @Test
  void unrecognizedRoleParametersAreIgnoredWithAWarning() throws Exception {
    VaultResponse r =
        call(Operation.UPDATE, "roles/app", "{\"db_name\":\"db1\",\"ttl\":5,\"foo\":1}");

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.data()).isNull();
    assertThat(r.warnings())
        .containsExactly("Endpoint ignored these unrecognized parameters: [foo ttl]");
  }

  @Test
  void roleWriteWithoutWarningsIsNoContent() throws Exception {
    assertThat(call(Operation.UPDATE, "roles/app", "{\"db_name\":\"db1\"}").status())
        .isEqualTo(204);
  }

  @Test
  void configReadNeverShowsThePasswordAndRedactsALiteralOne() throws Exception {
    VaultResponse write =
        call(
            Operation.UPDATE,
            "config/lit",
            "{\"plugin_name\":\"postgresql-database-plugin\",\"verify_connection\":false,"
                + "\"connection_url\":\"postgresql://admin:hunter2@127.0.0.1:1/db\","
                + "\"password\":\"hunter2\",\"allowed_roles\":[\"a\",\"b\"]}");

    assertThat(write.status()).isEqualTo(200);
    assertThat(write.warnings())
        .containsExactly(
            "Password found in connection_url, use a templated url to enable root rotation and"
                + " prevent read access to password information.");

    JsonNode data = JSON.valueToTree(call(Operation.READ, "config/lit", "").data());
    assertThat(data.toString()).doesNotContain("hunter2");
    assertThat(data.get("connection_details").get("connection_url").asText())
        .isEqualTo("postgresql://admin:xxxxx@127.0.0.1:1/db");
    assertThat(data.get("allowed_roles").toString()).isEqualTo("[\"a\",\"b\"]");
    assertThat(data.get("plugin_name").asText()).isEqualTo("postgresql-database-plugin");
    assertThat(data.get("verify_connection").asBoolean()).isFalse();
    assertThat(data.get("root_credentials_rotate_statements")).isEmpty();
    assertThat(data.get("password_policy").asText()).isEmpty();
    assertThat(data.has("plugin_version")).isTrue();
  }

  @Test
  void templatedConfigWritesWithoutContent() throws Exception {
    unverifiedConfig("db1", "*");

    JsonNode data = JSON.valueToTree(call(Operation.READ, "config/db1", "").data());
    assertThat(data.get("connection_details").get("connection_url").asText())
        .isEqualTo("postgresql://{{username}}:{{password}}@127.0.0.1:1/db");
    assertThat(data.get("connection_details").get("username").asText()).isEqualTo("admin");
    assertThat(data.get("connection_details").has("password")).isFalse();
  }

  @Test
  void configWithoutPluginNameIsRefused() {
    VaultException e =
        failure(Operation.UPDATE, "config/x", "{\"connection_url\":\"postgresql://h/db\"}");

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors()).containsExactly("empty plugin name");
    assertThat(context.size()).isZero();
  }

  @Test
  void configForAnotherPluginIsRefused() {
    VaultException e =
        failure(
            Operation.UPDATE,
            "config/x",
            "{\"plugin_name\":\"mysql-database-plugin\",\"connection_url\":\"x\"}");

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors().get(0)).startsWith("error creating database object: ");
    assertThat(context.size()).isZero();
  }

  @Test
  void unreachableDatabaseIsRefusedWithoutLeakingThePassword() {
    VaultException e =
        failure(
            Operation.UPDATE,
            "config/x",
            "{\"plugin_name\":\"postgresql-database-plugin\","
                + "\"connection_url\":\"postgresql://{{username}}:{{password}}@127.0.0.1:1/db\","
                + "\"username\":\"admin\",\"password\":\"s3cret-admin\"}");

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.errors().get(0))
        .startsWith(
            "error creating database object: error verifying connection: failed to connect to"
                + " `host=127.0.0.1 user=admin database=db`: ");
    assertThat(e.errors().get(0)).doesNotContain("s3cret-admin");
    assertThat(context.size()).isZero();
  }

  @Test
  void emptyListsAreNotFoundAndFilledListsShowKeys() throws Exception {
    assertThat(failure(Operation.LIST, "roles/", "").status()).isEqualTo(404);
    assertThat(failure(Operation.LIST, "roles/", "").errors()).isEmpty();

    call(Operation.UPDATE, "roles/b", "{\"db_name\":\"db1\"}");
    call(Operation.UPDATE, "roles/a", "{\"db_name\":\"db1\"}");

    JsonNode data = JSON.valueToTree(call(Operation.LIST, "roles/", "").data());
    assertThat(data.get("keys").toString()).isEqualTo("[\"a\",\"b\"]");
  }

  @Test
  void readingAMissingRoleOrConfigIsNotFound() {
    assertThat(failure(Operation.READ, "roles/none", "").status()).isEqualTo(404);
    assertThat(failure(Operation.READ, "config/none", "").status()).isEqualTo(404);
  }

  @Test
  void unknownPathsAndOperationsAnswerLikeVault() {
    VaultException path = failure(Operation.READ, "static-roles/x", "");
    assertThat(path.status()).isEqualTo(404);
    assertThat(path.errors()).containsExactly("1 error occurred:\n\t* unsupported path\n\n");

    VaultException op = failure(Operation.DELETE, "creds/x", "");
    assertThat(op.status()).isEqualTo(405);
    assertThat(op.errors()).containsExactly("1 error occurred:\n\t* unsupported operation\n\n");
  }

  @Test
  void rotateRootOfUnknownConfigOrWithoutUsernameFails() throws Exception {
    VaultException unknown = failure(Operation.UPDATE, "rotate-root/none", "");
    assertThat(unknown.status()).isEqualTo(500);
    assertThat(unknown.errors().get(0))
        .contains("failed to find entry for connection with name: \"none\"");

    call(
        Operation.UPDATE,
        "config/nouser",
        "{\"plugin_name\":\"postgresql-database-plugin\",\"verify_connection\":false,"
            + "\"connection_url\":\"postgresql://127.0.0.1:1/db\"}");
    VaultException noUser = failure(Operation.UPDATE, "rotate-root/nouser", "");
    assertThat(noUser.status()).isEqualTo(500);
    assertThat(noUser.errors())
        .containsExactly(
            "1 error occurred:\n\t* unable to rotate root credentials: no username in configuration\n\n");
  }

  @Test
  void renewalGrantUsesTheIncrementOrTheRoleDefaultAndTheRoleMax() throws Exception {
    call(Operation.UPDATE, "roles/app", "{\"db_name\":\"db1\",\"default_ttl\":60,\"max_ttl\":300}");
    LeaseRecord lease = lease("app");

    RenewalGrant byDefault = engine.renewalGrant(lease, Duration.ZERO);
    RenewalGrant byIncrement = engine.renewalGrant(lease, Duration.ofSeconds(90));

    assertThat(byDefault)
        .isEqualTo(new RenewalGrant(Duration.ofSeconds(60), Duration.ofSeconds(300)));
    assertThat(byIncrement.ttl()).isEqualTo(Duration.ofSeconds(90));
  }

  @Test
  void renewalOfALeaseWhoseRoleIsGoneIsRefused() {
    VaultException e = null;
    try {
      engine.renewalGrant(lease("gone"), Duration.ZERO);
    } catch (VaultException thrown) {
      e = thrown;
    }

    assertThat(e).isNotNull();
    assertThat(e.errors().get(0))
        .contains("error during renew: could not find role with name \"gone\"");
  }

  @Test
  void revocationOfALeaseWithoutUsernameIsRefused() {
    LeaseRecord lease =
        new LeaseRecord(
            "database/creds/x/1",
            "database/",
            "creds/x",
            Instant.now(),
            Instant.now(),
            null,
            true,
            "acc",
            JsonNodeFactory.instance.objectNode());

    assertThatThrownBy(() -> engine.revoke(lease))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("secret is missing username internal data");
  }

  private static LeaseRecord lease(String role) {
    ObjectNode data = JsonNodeFactory.instance.objectNode();
    data.put("username", "v-root-" + role);
    data.put("role", role);
    data.put("db_name", "db1");
    data.putArray("revocation_statements");
    return new LeaseRecord(
        "database/creds/" + role + "/abc",
        "database/",
        "creds/" + role,
        Instant.now(),
        Instant.now().plusSeconds(60),
        null,
        true,
        "acc",
        data);
  }
}
