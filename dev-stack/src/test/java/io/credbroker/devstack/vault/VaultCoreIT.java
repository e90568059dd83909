package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.VaultException;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.Policy;
import org.springframework.vault.support.Policy.BuiltinCapabilities;
import org.springframework.vault.support.Policy.Rule;
import org.springframework.vault.support.VaultHealth;
import org.springframework.vault.support.VaultMount;
import org.springframework.vault.support.VaultResponse;
import org.springframework.vault.support.VaultUnsealStatus;

/** The Vault stand-in's core against Spring Vault's {@link VaultTemplate} and plain HTTP. */
class VaultCoreIT {

  @TempDir static Path workDir;
  static DevStack stack;
  static VaultTemplate root;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    stack = DevStack.builder().workDir(workDir).start();
    root = template("root");
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  static VaultTemplate template(String token) {
    return new VaultTemplate(
        VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication(token));
  }

  @Test
  void healthReportsAnActiveUnsealedNode() throws Exception {
    VaultHealth health = root.opsForSys().health();
    assertThat(health.isInitialized()).isTrue();
    assertThat(health.isSealed()).isFalse();
    assertThat(health.isStandby()).isFalse();
    assertThat(health.getVersion()).isNotBlank();

    assertThat(raw("GET", "sys/health?activecode=299", null, null).statusCode()).isEqualTo(299);
    HttpResponse<String> head = raw("HEAD", "sys/health", null, null);
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    HttpResponse<String> bad = raw("GET", "sys/health?activecode=abc", null, null);
    assertThat(bad.statusCode()).isEqualTo(400);
  }

  @Test
  void sealStatusLeaderAndInitAnswerUnwrappedWithoutAToken() throws Exception {
    // Vault's http package answers these itself (respondOk(w, status)): the object at the top
    // level, where `vault status`, hvac and Spring Vault read it.
    HttpResponse<String> seal = raw("GET", "sys/seal-status", null, null);
    assertThat(seal.statusCode()).isEqualTo(200);
    JsonNode status = Json.MAPPER.readTree(seal.body());
    assertThat(status.has("data")).isFalse();
    assertThat(status.path("initialized").asBoolean()).isTrue();
    assertThat(status.path("sealed").asBoolean(true)).isFalse();
    assertThat(status.path("version").asText()).isNotBlank();
    VaultUnsealStatus unseal = root.opsForSys().getUnsealStatus();
    assertThat(unseal.isSealed()).isFalse();
    assertThat(unseal.getSecretThreshold()).isEqualTo(1);
    assertThat(root.opsForSys().isInitialized()).isTrue();

    JsonNode leader = Json.MAPPER.readTree(raw("GET", "sys/leader", null, null).body());
    assertThat(leader.has("data")).isFalse();
    assertThat(leader.path("ha_enabled").isBoolean()).isTrue();

    assertThat(raw("PUT", "sys/seal-status", "root", "{}").statusCode()).isEqualTo(405);
    assertThat(raw("PUT", "sys/init", null, "{}").statusCode()).isEqualTo(400);
  }

  @Test
  void headOfACredsPathCreatesNoRole() throws Exception {
    enableDatabase("db-head", "r", "1h", "2h");

    assertThat(raw("HEAD", "db-head/creds/r", "root", null).statusCode()).isEqualTo(405);
    assertThat(raw("HEAD", "db-head/creds/r", null, null).statusCode()).isEqualTo(403);

    // No lease was created (Vault answers an empty list 404).
    assertThat(raw("LIST", "sys/leases/lookup/db-head/creds/r/", "root", null).statusCode())
        .isEqualTo(404);
  }

  @Test
  void revokePrefixWithoutATrailingSlashNamesOneLeaseOrOnePathSegment() throws Exception {
    enableDatabase("db-pre", "r", "1h", "2h");
    enableDatabase("db-pre2", "r", "1h", "2h");
    String first = root.read("db-pre/creds/r").getLeaseId();
    String second = root.read("db-pre/creds/r").getLeaseId();
    String neighbour = root.read("db-pre2/creds/r").getLeaseId();

    // A lease id: that lease alone (revokePrefixCommon in Vault's expiration.go).
    assertThat(raw("PUT", "sys/leases/revoke-prefix/" + first, "root", null).statusCode())
        .isEqualTo(204);
    assertThat(leaseExists(first)).isFalse();
    assertThat(leaseExists(second)).isTrue();
    // A path without its slash: that segment, not db-pre2 beside it.
    assertThat(raw("PUT", "sys/leases/revoke-prefix/db-pre", "root", null).statusCode())
        .isEqualTo(204);
    assertThat(leaseExists(second)).isFalse();
    assertThat(leaseExists(neighbour)).isTrue();
  }

  private static boolean leaseExists(String leaseId) throws Exception {
    int status =
        raw("PUT", "sys/leases/lookup", "root", "{\"lease_id\":\"" + leaseId + "\"}").statusCode();
    assertThat(status).isIn(200, 400);
    return status == 200;
  }

  @Test
  void revokingATokenDoesNotWaitForItsLeasesRevocationStatements() throws Exception {
    enableDatabase("db-lazy", "r", "1h", "2h");
    root.write(
        "db-lazy/roles/r",
        Map.of(
            "db_name", "pg",
            "creation_statements",
                List.of(
                    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL"
                        + " '{{expiration}}';"),
            "revocation_statements",
                List.of("SELECT pg_sleep(5);", "DROP ROLE IF EXISTS \"{{name}}\";"),
            "default_ttl", "1h",
            "max_ttl", "2h"));
    String token = credsToken("db-lazy", "r", "5m");
    VaultResponse creds = template(token).read("db-lazy/creds/r");
    String user = (String) creds.getRequiredData().get("username");

    long start = System.nanoTime();
    assertThat(raw("POST", "auth/token/revoke-self", token, "").statusCode()).isEqualTo(204);
    // Vault's RevokeByToken marks the leases expired and leaves them to its timers; the 5 s
    // revocation statement does not hold the answer up.
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    await().atMost(Duration.ofSeconds(20)).until(() -> !leaseExists(creds.getLeaseId()));
    assertThat(VaultWire.roleExists(stack.postgres(), user)).isFalse();
  }

  @Test
  void rootTokenLooksItselfUp() {
    VaultResponse r = root.read("auth/token/lookup-self");
    assertThat(r).isNotNull();
    assertThat(r.getRequiredData())
        .containsEntry("display_name", "root")
        .containsEntry("id", "root");
    assertThat(r.getRequiredData().get("policies")).isEqualTo(List.of("root"));
  }

  @Test
  void aBodyThatIsNotAJsonObjectIsRefusedWithVaultsOwnText() throws Exception {
    for (String body : List.of("{bad", "[1, 2]", "\"text\"")) {
      HttpResponse<String> r = raw("POST", "sys/leases/renew", "root", body);
      assertThat(r.statusCode()).as(body).isEqualTo(400);
      assertThat(r.body()).as(body).isEqualTo("{\"errors\":[\"error parsing JSON\"]}");
    }
  }

  @Test
  void everyResponseCarriesTheFullEnvelopeAndNoStore() throws Exception {
    HttpResponse<String> r = raw("GET", "auth/token/lookup-self", "root", null);
    assertThat(r.headers().firstValue("Cache-Control")).contains("no-store");
    assertThat(r.headers().firstValue("Content-Type")).contains("application/json");
    JsonNode body = Json.MAPPER.readTree(r.body());
    assertThat(body.fieldNames())
        .toIterable()
        .contains(
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth",
            "mount_type");
    assertThat(body.path("mount_type").asText()).isEqualTo("token");
  }

  @Test
  void createdTokenRenewsItselfAndIsCappedAtItsMaxWithVaultsWarning() throws Exception {
    String token =
        createToken("{\"ttl\":\"10s\",\"explicit_max_ttl\":\"30s\",\"display_name\":\"renewer\"}");
    VaultTemplate self = template(token);
    VaultResponse lookup = self.read("auth/token/lookup-self");
    assertThat(lookup.getRequiredData()).containsEntry("display_name", "token-renewer");

    VaultResponse renewed = self.write("auth/token/renew-self", Map.of("increment", "1h"));
    assertThat(renewed.getAuth()).containsEntry("client_token", token);
    assertThat(((Number) renewed.getAuth().get("lease_duration")).longValue()).isBetween(25L, 30L);
    assertThat(renewed.getWarnings())
        .singleElement()
        .asString()
        .matches(
            "TTL of \"1h\" exceeded the effective max_ttl of \"(29|30|28|27|26|25)s\"; TTL value is capped accordingly");
  }

  @Test
  void narrowPolicyIsEnforcedWithVaultsExactErrors() throws Exception {
    root.opsForSys().mount("kv-acl", VaultMount.create("kv"));
    root.write("kv-acl/app/config", Map.of("color", "blue"));
    root.write("kv-acl/other", Map.of("color", "red"));
    root.opsForSys()
        .createOrUpdatePolicy(
            "kv-app-read",
            Policy.of(
                Rule.builder()
                    .path("kv-acl/app/*")
                    .capabilities(BuiltinCapabilities.READ)
                    .build()));
    String token = createToken("{\"policies\":[\"kv-app-read\"],\"ttl\":\"5m\"}");
    VaultTemplate narrow = template(token);

    assertThat(narrow.read("kv-acl/app/config").getRequiredData()).containsEntry("color", "blue");
    assertThatThrownBy(() -> narrow.read("kv-acl/other"))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("permission denied");
    assertThatThrownBy(() -> narrow.write("kv-acl/app/config", Map.of("color", "green")))
        .isInstanceOf(VaultException.class);

    HttpResponse<String> denied = raw("GET", "kv-acl/other", token, null);
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.body())
        .isEqualTo("{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}");
    assertThat(root.read("kv-acl/app/config").getRequiredData()).containsEntry("color", "blue");
  }

  @Test
  void missingAndUnknownTokensAreRefusedLikeVault() throws Exception {
    HttpResponse<String> none = raw("GET", "auth/token/lookup-self", null, null);
    assertThat(none.statusCode()).isEqualTo(403);
    assertThat(none.body()).isEqualTo("{\"errors\":[\"permission denied\"]}");
    HttpResponse<String> unknown = raw("GET", "auth/token/lookup-self", "hvs.nosuchtoken", null);
    assertThat(unknown.statusCode()).isEqualTo(403);
    assertThat(unknown.body())
        .isEqualTo(
            "{\"errors\":[\"2 errors occurred:\\n\\t* permission denied\\n\\t* invalid token\\n\\n\"]}");
  }

  @Test
  void bearerHeaderAndFormBodiesAreAcceptedLikeVault() throws Exception {
    HttpResponse<String> bearer =
        http.send(
            HttpRequest.newBuilder(URI.create(stack.vaultAddress() + "/v1/auth/token/lookup-self"))
                .header("Authorization", "Bearer root")
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(bearer.statusCode()).isEqualTo(200);
    HttpResponse<String> form =
        http.send(
            HttpRequest.newBuilder(URI.create(stack.vaultAddress() + "/v1/auth/token/create"))
                .header("X-Vault-Token", "root")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("ttl=90s&display_name=form"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(form.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(form.body()).at("/auth/lease_duration").asLong())
        .isBetween(89L, 90L);
  }

  @Test
  void revokedTokenIsInvalidAtOnce() throws Exception {
    String token = createToken("{\"ttl\":\"5m\"}");
    assertThat(raw("POST", "auth/token/revoke-self", token, "").statusCode()).isEqualTo(204);
    assertThat(raw("GET", "auth/token/lookup-self", token, null).body()).contains("invalid token");
  }

  @Test
  void expiredTokenIsInvalid() throws Exception {
    String token = createToken("{\"ttl\":\"1s\"}");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(raw("GET", "auth/token/lookup-self", token, null).statusCode())
                    .isEqualTo(403));
  }

  @Test
  void mountsAreEnabledListedTunedAndDisabled() throws Exception {
    root.opsForSys()
        .mount("kv-list", VaultMount.builder().type("kv").description("listed").build());
    Map<String, VaultMount> mounts = root.opsForSys().getMounts();
    assertThat(mounts).containsKey("kv-list/");
    assertThat(mounts.get("kv-list/").getType()).isEqualTo("kv");
    assertThat(mounts.get("kv-list/").getDescription()).isEqualTo("listed");

    root.write("sys/mounts/kv-list/tune", Map.of("max_lease_ttl", "2h", "default_lease_ttl", "1h"));
    VaultResponse tune = root.read("sys/mounts/kv-list/tune");
    assertThat(tune.getRequiredData())
        .containsEntry("max_lease_ttl", 7200)
        .containsEntry("default_lease_ttl", 3600);

    HttpResponse<String> again = raw("POST", "sys/mounts/kv-list", "root", "{\"type\":\"kv\"}");
    assertThat(again.statusCode()).isEqualTo(400);
    assertThat(again.body()).contains("path is already in use at kv-list/");

    root.opsForSys().unmount("kv-list");
    assertThat(root.opsForSys().getMounts()).doesNotContainKey("kv-list/");
    HttpResponse<String> gone = raw("GET", "kv-list/x", "root", null);
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(gone.body())
        .isEqualTo(
            "{\"errors\":[\"no handler for route \\\"kv-list/x\\\". route entry not found.\"]}");
  }

  @Test
  void emptyReadsAndListsAre404WithNoErrors() throws Exception {
    root.opsForSys().mount("kv-empty", VaultMount.create("kv"));
    HttpResponse<String> read = raw("GET", "kv-empty/nothing", "root", null);
    assertThat(read.statusCode()).isEqualTo(404);
    assertThat(read.body()).isEqualTo("{\"errors\":[]}");
    assertThat(root.read("kv-empty/nothing")).isNull();
    HttpResponse<String> list = raw("LIST", "kv-empty/", "root", null);
    assertThat(list.statusCode()).isEqualTo(404);
    root.write("kv-empty/a/b", Map.of("x", "1"));
    root.write("kv-empty/c", Map.of("x", "1"));
    assertThat(root.list("kv-empty/")).containsExactly("a/", "c");
  }

  @Test
  void policiesAreStoredReadListedAndRejectedWhenMalformed() throws Exception {
    HttpResponse<String> put =
        raw(
            "PUT",
            "sys/policies/acl/reader",
            "root",
            "{\"policy\":\"path \\\"kv/*\\\" { capabilities = [\\\"read\\\"] }\"}");
    assertThat(put.statusCode()).isEqualTo(204);
    assertThat(root.opsForSys().getPolicyNames()).contains("reader", "default", "root");
    VaultResponse read = root.read("sys/policies/acl/reader");
    assertThat((String) read.getRequiredData().get("policy")).contains("kv/*");
    HttpResponse<String> bad =
        raw("PUT", "sys/policies/acl/broken", "root", "{\"policy\":\"path \\\"kv\\\" {\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("failed to parse policy");
    assertThat(raw("GET", "sys/policies/acl/broken", "root", null).statusCode()).isEqualTo(404);
    assertThat(raw("DELETE", "sys/policies/acl/default", "root", null).statusCode()).isEqualTo(400);
  }

  @Test
  void unsupportedMethodIs405() throws Exception {
    assertThat(raw("PATCH2", "sys/mounts", "root", null).statusCode()).isEqualTo(405);
    assertThat(raw("DELETE", "sys/mounts", "root", null).statusCode()).isEqualTo(405);
  }

  @Test
  void uiMountsDescribesTheMountOrRefuses() throws Exception {
    root.opsForSys().mount("kv-ui", VaultMount.create("kv"));
    VaultResponse ui = root.read("sys/internal/ui/mounts/kv-ui/some/secret");
    assertThat(ui.getRequiredData()).containsEntry("type", "kv").containsEntry("path", "kv-ui/");
    String token = createToken("{\"ttl\":\"5m\",\"policies\":[\"default\"]}");
    assertThat(raw("GET", "sys/internal/ui/mounts/kv-ui/some/secret", token, null).statusCode())
        .isEqualTo(403);
  }

  @Test
  void databaseLeasesRenewCappedAndDieWithTheirToken() throws Exception {
    enableDatabase("db-cascade", "readonly", "10s", "30s");
    String token = credsToken("db-cascade", "readonly", "5m");
    VaultTemplate app = template(token);

    VaultResponse creds = app.read("db-cascade/creds/readonly");
    String leaseId = creds.getLeaseId();
    assertThat(leaseId).startsWith("db-cascade/creds/readonly/");
    assertThat(creds.getLeaseDuration()).isEqualTo(10);
    String user = (String) creds.getRequiredData().get("username");
    String password = (String) creds.getRequiredData().get("password");
    try (Connection c = login(user, password)) {
      assertThat(c.isValid(2)).isTrue();
    }

    HttpResponse<String> renewed =
        raw(
            "PUT",
            "sys/leases/renew",
            token,
            "{\"lease_id\":\"" + leaseId + "\",\"increment\":\"1h\"}");
    assertThat(renewed.statusCode()).isEqualTo(200);
    JsonNode body = Json.MAPPER.readTree(renewed.body());
    assertThat(body.path("lease_id").asText()).isEqualTo(leaseId);
    assertThat(body.path("lease_duration").asLong()).isBetween(25L, 30L);
    assertThat(body.at("/warnings/0").asText())
        .startsWith("TTL of \"1h\" exceeded the effective max_ttl of \"");

    VaultResponse lookup = root.write("sys/leases/lookup", Map.of("lease_id", leaseId));
    assertThat(lookup.getRequiredData())
        .containsEntry("id", leaseId)
        .containsEntry("renewable", true);
    assertThat(root.list("sys/leases/lookup/db-cascade/creds/readonly/")).hasSize(1);

    assertThat(raw("POST", "auth/token/revoke-self", token, "").statusCode()).isEqualTo(204);
    // Revoked by the expiry timer right after, as Vault's RevokeByToken hands them to its timers.
    await().atMost(Duration.ofSeconds(10)).until(() -> !leaseExists(leaseId));
    HttpResponse<String> gone =
        raw("PUT", "sys/leases/lookup", "root", "{\"lease_id\":\"" + leaseId + "\"}");
    assertThat(gone.statusCode()).isEqualTo(400);
    assertThat(gone.body()).isEqualTo("{\"errors\":[\"invalid lease\"]}");
    assertThatThrownBy(() -> login(user, password).close()).isInstanceOf(SQLException.class);
    HttpResponse<String> renewGone =
        raw("PUT", "sys/leases/renew", "root", "{\"lease_id\":\"" + leaseId + "\"}");
    assertThat(renewGone.statusCode()).isEqualTo(400);
    assertThat(renewGone.body()).isEqualTo("{\"errors\":[\"lease not found\"]}");
  }

  @Test
  void renewalAnswersExactlyTheGrantedTtlEvenWhenTheDatabaseTakesItsTime() throws Exception {
    enableDatabase("db-exact", "slow-renew", "1h", "24h");
    root.write(
        "db-exact/roles/slow-renew",
        Map.of(
            "renew_statements",
            List.of(
                "SELECT pg_sleep(1.2); ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';")));
    VaultResponse creds = root.read("db-exact/creds/slow-renew");
    assertThat(creds.getLeaseDuration()).isEqualTo(3600);

    HttpResponse<String> renewed =
        raw(
            "PUT",
            "sys/leases/renew",
            "root",
            "{\"lease_id\":\"" + creds.getLeaseId() + "\",\"increment\":1800}");

    assertThat(renewed.statusCode()).as(renewed.body()).isEqualTo(200);
    JsonNode body = Json.MAPPER.readTree(renewed.body());
    assertThat(body.path("lease_duration").asLong()).isEqualTo(1800);
    assertThat(body.path("warnings").isNull()).isTrue();
  }

  @Test
  void leasesExpireOnTheirOwnAndTheRoleIsDropped() throws Exception {
    enableDatabase("db-expiry", "short", "2s", "10s");
    VaultResponse creds = root.read("db-expiry/creds/short");
    String user = (String) creds.getRequiredData().get("username");
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              HttpResponse<String> lookup =
                  raw(
                      "PUT",
                      "sys/leases/lookup",
                      "root",
                      "{\"lease_id\":\"" + creds.getLeaseId() + "\"}");
              assertThat(lookup.statusCode()).isEqualTo(400);
            });
    try (Connection c = stack.postgres().connect("postgres");
        var rs =
            c.createStatement()
                .executeQuery("SELECT count(*) FROM pg_roles WHERE rolname = '" + user + "'")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }
  }

  @Test
  void revokeIsIdempotentAndAsyncRevokeAnswers202() throws Exception {
    enableDatabase("db-revoke", "r", "1h", "2h");
    VaultResponse creds = root.read("db-revoke/creds/r");
    String id = creds.getLeaseId();
    assertThat(
            raw("PUT", "sys/leases/revoke", "root", "{\"lease_id\":\"" + id + "\"}").statusCode())
        .isEqualTo(204);
    assertThat(
            raw("PUT", "sys/leases/revoke", "root", "{\"lease_id\":\"" + id + "\"}").statusCode())
        .isEqualTo(204);
    VaultResponse second = root.read("db-revoke/creds/r");
    assertThat(
            raw(
                    "PUT",
                    "sys/leases/revoke",
                    "root",
                    "{\"lease_id\":\"" + second.getLeaseId() + "\",\"sync\":false}")
                .statusCode())
        .isEqualTo(202);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        raw(
                                "PUT",
                                "sys/leases/lookup",
                                "root",
                                "{\"lease_id\":\"" + second.getLeaseId() + "\"}")
                            .statusCode())
                    .isEqualTo(400));
    HttpResponse<String> empty = raw("LIST", "sys/leases/lookup/db-revoke/creds/r/", "root", null);
    assertThat(empty.statusCode()).isEqualTo(404);
    assertThat(empty.body()).isEqualTo("{\"errors\":[]}");
  }

  @Test
  void restartKeepsTokensMountsAndLeases() throws Exception {
    enableDatabase("db-restart", "r", "1h", "2h");
    String token = createToken("{\"ttl\":\"1h\",\"policies\":[\"default\"]}");
    VaultResponse creds = root.read("db-restart/creds/r");
    stack.stopVault();
    stack.startVault();
    assertThat(raw("GET", "auth/token/lookup-self", token, null).statusCode()).isEqualTo(200);
    assertThat(root.opsForSys().getMounts()).containsKey("db-restart/");
    VaultResponse lookup = root.write("sys/leases/lookup", Map.of("lease_id", creds.getLeaseId()));
    assertThat(lookup.getRequiredData()).containsEntry("id", creds.getLeaseId());
    HttpResponse<String> renewed =
        raw(
            "PUT",
            "sys/leases/renew",
            "root",
            "{\"lease_id\":\"" + creds.getLeaseId() + "\",\"increment\":600}");
    assertThat(renewed.statusCode()).isEqualTo(200);
  }

  @Test
  void prefixRevocationNeedsSudo() throws Exception {
    root.opsForSys()
        .createOrUpdatePolicy(
            "no-sudo",
            Policy.of(
                Rule.builder()
                    .path("sys/leases/revoke-prefix/*")
                    .capabilities(BuiltinCapabilities.UPDATE)
                    .build()));
    String token = createToken("{\"policies\":[\"no-sudo\"],\"ttl\":\"5m\"}");
    assertThat(raw("PUT", "sys/leases/revoke-prefix/kv", token, "").statusCode()).isEqualTo(403);
    assertThat(raw("PUT", "sys/leases/revoke-prefix/nothing-here", "root", "").statusCode())
        .isEqualTo(204);
  }

  @Test
  void readingAnAuthMountsTuningOrTheIrrevocableLeasesNeedsSudoToo() throws Exception {
    // Vault's system backend protects auth/* and leases for every operation, reads included;
    // before, a read there went through with read alone.
    root.opsForSys()
        .createOrUpdatePolicy(
            "reader-no-sudo",
            Policy.of(
                Rule.builder().path("sys/auth/*").capabilities(BuiltinCapabilities.READ).build(),
                Rule.builder().path("sys/leases").capabilities(BuiltinCapabilities.READ).build()));
    root.opsForSys()
        .createOrUpdatePolicy(
            "reader-sudo",
            Policy.of(
                Rule.builder()
                    .path("sys/auth/*")
                    .capabilities(BuiltinCapabilities.READ, BuiltinCapabilities.SUDO)
                    .build(),
                Rule.builder()
                    .path("sys/leases")
                    .capabilities(BuiltinCapabilities.READ, BuiltinCapabilities.SUDO)
                    .build()));
    String withoutSudo = createToken("{\"policies\":[\"reader-no-sudo\"],\"ttl\":\"5m\"}");
    String withSudo = createToken("{\"policies\":[\"reader-sudo\"],\"ttl\":\"5m\"}");

    assertThat(raw("GET", "sys/auth/token/tune", withoutSudo, null).statusCode()).isEqualTo(403);
    assertThat(raw("GET", "sys/leases?type=irrevocable", withoutSudo, null).statusCode())
        .isEqualTo(403);
    HttpResponse<String> tune = raw("GET", "sys/auth/token/tune", withSudo, null);
    assertThat(tune.statusCode()).as(tune.body()).isEqualTo(200);
    HttpResponse<String> irrevocable = raw("GET", "sys/leases?type=irrevocable", withSudo, null);
    assertThat(irrevocable.statusCode()).as(irrevocable.body()).isEqualTo(200);
  }

  @Test
  void listIsGovernedByTheRuleForThePathWithoutItsTrailingSlash() throws Exception {
    enableDatabase("db-list", "r", "1h", "2h");
    root.read("db-list/creds/r");
    root.opsForSys()
        .createOrUpdatePolicy(
            "lease-lister",
            Policy.of(
                Rule.builder()
                    .path("sys/leases/lookup/db-list/creds/r")
                    .capabilities(BuiltinCapabilities.LIST, BuiltinCapabilities.SUDO)
                    .build()));
    String token = createToken("{\"policies\":[\"lease-lister\"],\"ttl\":\"5m\"}");
    HttpResponse<String> list = raw("LIST", "sys/leases/lookup/db-list/creds/r", token, null);
    assertThat(list.statusCode()).as(list.body()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(list.body()).at("/data/keys")).hasSize(1);
  }

  @Test
  void failedRevocationKeepsTheLeaseAndAnswersVaultsError() throws Exception {
    enableDatabase("db-fail", "owner", "1h", "2h");
    VaultResponse creds = root.read("db-fail/creds/owner");
    String user = (String) creds.getRequiredData().get("username");
    // A role that owns a table cannot be dropped, so the default revocation fails.
    try (Connection c = stack.postgres().connect("postgres")) {
      c.createStatement().execute("CREATE TABLE \"owned_by_" + user + "\" (id int)");
      c.createStatement()
          .execute("ALTER TABLE \"owned_by_" + user + "\" OWNER TO \"" + user + "\"");
    }
    HttpResponse<String> r =
        raw("PUT", "sys/leases/revoke", "root", "{\"lease_id\":\"" + creds.getLeaseId() + "\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body())
        .startsWith("{\"errors\":[\"failed to revoke entry: resp: (*logical.Response)(nil) err: ");
    // As Vault's revokeCommon: the entry is left as it was, not expired early nor queued for
    // retries.
    Map<String, Object> lease =
        root.write("sys/leases/lookup", Map.of("lease_id", creds.getLeaseId())).getRequiredData();
    assertThat(lease).containsEntry("id", creds.getLeaseId());
    assertThat(((Number) lease.get("ttl")).longValue()).isGreaterThan(3500L);
    try (Connection c = stack.postgres().connect("postgres")) {
      c.createStatement().execute("DROP TABLE \"owned_by_" + user + "\"");
    }
    assertThat(
            raw("PUT", "sys/leases/revoke", "root", "{\"lease_id\":\"" + creds.getLeaseId() + "\"}")
                .statusCode())
        .isEqualTo(204);
  }

  @Test
  void expiringTokenTakesItsLeasesWithIt() throws Exception {
    enableDatabase("db-tokexp", "r", "1h", "2h");
    String token = credsToken("db-tokexp", "r", "2s");
    VaultResponse creds = template(token).read("db-tokexp/creds/r");
    assertThat(creds.getLeaseDuration()).isEqualTo(3600);
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () ->
                assertThat(
                        raw(
                                "PUT",
                                "sys/leases/lookup",
                                "root",
                                "{\"lease_id\":\"" + creds.getLeaseId() + "\"}")
                            .statusCode())
                    .isEqualTo(400));
  }

  @Test
  void leaseThatExpiredWhileVaultWasDownIsRevokedOnStart() throws Exception {
    enableDatabase("db-down", "r", "2s", "1h");
    VaultResponse creds = root.read("db-down/creds/r");
    String user = (String) creds.getRequiredData().get("username");
    stack.stopVault();
    try {
      await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
      assertThat(roleExists(user)).isTrue();
    } finally {
      stack.startVault();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(roleExists(user)).isFalse());
  }

  @Test
  void authMethodsAreEnabledListedAndDisabled() {
    root.opsForSys().authMount("k8s-list", VaultMount.create("kubernetes"));
    assertThat(root.opsForSys().getAuthMounts()).containsKeys("token/", "k8s-list/");
    assertThat(root.opsForSys().getAuthMounts().get("k8s-list/").getType()).isEqualTo("kubernetes");
    root.opsForSys().authUnmount("k8s-list");
    assertThat(root.opsForSys().getAuthMounts()).doesNotContainKey("k8s-list/");
  }

  static boolean roleExists(String user) throws SQLException {
    try (Connection c = stack.postgres().connect("postgres");
        var rs =
            c.createStatement()
                .executeQuery("SELECT count(*) FROM pg_roles WHERE rolname = '" + user + "'")) {
      rs.next();
      return rs.getInt(1) > 0;
    }
  }

  // ---- helpers ----

  static void enableDatabase(String mount, String role, String ttl, String maxTtl) {
    root.opsForSys().mount(mount, VaultMount.create("database"));
    var pg = stack.postgres();
    root.write(
        mount + "/config/pg",
        Map.of(
            "plugin_name", "postgresql-database-plugin",
            "connection_url",
                "postgresql://{{username}}:{{password}}@"
                    + pg.host()
                    + ":"
                    + pg.port()
                    + "/postgres?sslmode=disable",
            "username", pg.adminUser(),
            "password", pg.adminPassword(),
            "allowed_roles", List.of(role)));
    root.write(
        mount + "/roles/" + role,
        Map.of(
            "db_name",
            "pg",
            "creation_statements",
            List.of(
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"),
            "default_ttl",
            ttl,
            "max_ttl",
            maxTtl));
  }

  static Connection login(String user, String password) throws SQLException {
    return DriverManager.getConnection(stack.postgres().jdbcUrl("postgres"), user, password);
  }

  /**
   * A token whose only policy, {@code <mount>-creds}, reads {@code <mount>/creds/<role>}, living
   * {@code ttl}.
   */
  static String credsToken(String mount, String role, String ttl) throws Exception {
    root.opsForSys()
        .createOrUpdatePolicy(
            mount + "-creds",
            Policy.of(
                Rule.builder()
                    .path(mount + "/creds/" + role)
                    .capabilities(BuiltinCapabilities.READ)
                    .build()));
    return createToken("{\"policies\":[\"" + mount + "-creds\"],\"ttl\":\"" + ttl + "\"}");
  }

  static String createToken(String body) throws Exception {
    HttpResponse<String> r = raw("POST", "auth/token/create", "root", body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return Json.MAPPER.readTree(r.body()).at("/auth/client_token").asText();
  }

  static HttpResponse<String> raw(String method, String path, String token, String body)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(stack.vaultAddress() + "/v1/" + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("X-Vault-Token", token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}
