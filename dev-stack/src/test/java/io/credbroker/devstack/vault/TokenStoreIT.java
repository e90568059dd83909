package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.Json;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultResponse;

/**
 * The token store on the wire (token_store.go in hashicorp/vault) through Spring Vault's {@link
 * VaultTemplate} and plain HTTP.
 */
class TokenStoreIT {

  @TempDir static Path workDir;
  static DevStack stack;
  static VaultTemplate root;
  static VaultWire wire;

  @BeforeAll
  static void start() {
    stack = DevStack.builder().workDir(workDir).start();
    root = template("root");
    wire = new VaultWire(stack.vaultAddress(), "root");
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  static VaultTemplate template(String token) {
    return new VaultTemplate(VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication(token));
  }

  // ---- roles ----

  @Test
  void tokenRoleIsWrittenReadListedAndDeletedInVaultsShape() throws Exception {
    HttpResponse<String> written = wire.send("POST", "auth/token/roles/shape", "root", """
        {"allowed_policies":"Issuer-B, issuer-a","disallowed_policies":["secret"],"orphan":true,
         "renewable":false,"path_suffix":"gen1","token_explicit_max_ttl":"1h","token_period":0,
         "token_no_default_policy":true,"token_type":"service"}""");
    assertThat(written.statusCode()).isEqualTo(204);

    JsonNode data = wire.ok("GET", "auth/token/roles/shape", "root", null).path("data");
    assertThat(data.toString()).isEqualTo(Json.MAPPER.readTree("""
        {"allowed_entity_aliases":null,"allowed_policies":["issuer-a","issuer-b"],"allowed_policies_glob":[],
         "disallowed_policies":["secret"],"disallowed_policies_glob":[],"explicit_max_ttl":0,"name":"shape",
         "orphan":true,"path_suffix":"gen1","period":0,"renewable":false,"token_explicit_max_ttl":3600,
         "token_no_default_policy":true,"token_period":0,"token_type":"service"}""").toString());
    assertThat(root.list("auth/token/roles")).contains("shape");

    assertThat(wire.send("DELETE", "auth/token/roles/shape", "root", null).statusCode()).isEqualTo(204);
    HttpResponse<String> gone = wire.send("GET", "auth/token/roles/shape", "root", null);
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(gone.body()).isEqualTo("{\"errors\":[]}");
    assertThat(root.read("auth/token/roles/shape")).isNull();
  }

  @Test
  void roleUpdateKeepsFieldsTheBodyLeavesOutAndWarnsAboutDeprecatedOnes() throws Exception {
    root.write("auth/token/roles/update", Map.of("orphan", true, "allowed_policies", List.of("a")));
    HttpResponse<String> updated = wire.send("POST", "auth/token/roles/update", "root",
        "{\"token_explicit_max_ttl\":\"10m\",\"explicit_max_ttl\":\"5m\"}");
    assertThat(updated.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(updated.body()).at("/warnings/0").asText()).isEqualTo(
        "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value");
    VaultResponse read = root.read("auth/token/roles/update");
    assertThat(read.getRequiredData()).containsEntry("orphan", true).containsEntry("allowed_policies", List.of("a"))
        .containsEntry("token_explicit_max_ttl", 600).containsEntry("explicit_max_ttl", 0);
  }

  @Test
  void tokenRolesSurviveARestart() throws Exception {
    root.write("auth/token/roles/durable", Map.of("allowed_policies", List.of("x"), "orphan", true));
    stack.stopVault();
    stack.startVault();
    assertThat(root.read("auth/token/roles/durable").getRequiredData())
        .containsEntry("allowed_policies", List.of("x")).containsEntry("orphan", true);
  }

  // ---- orphans and the parent's policies without a role ----

  @Test
  void createOrphanIsGovernedByTheAclAlone() throws Exception {
    // token_store.go: "This comes from create-orphan, which can be properly ACLd"; no sudo needed.
    wire.policy("orphan-maker", "path \"auth/token/create-orphan\" { capabilities = [\"update\"] }");
    String maker = wire.rootChild("10m", "orphan-maker");
    JsonNode orphan = wire.createToken(maker, "auth/token/create-orphan", "{\"ttl\":\"5m\"}");
    assertThat(orphan.path("orphan").asBoolean()).isTrue();
    assertThat(texts(orphan.path("policies"))).containsExactly("default", "orphan-maker");

    assertThat(wire.send("POST", "auth/token/revoke-self", maker, null).statusCode()).isEqualTo(204);
    JsonNode lookup = wire.ok("GET", "auth/token/lookup-self", orphan.path("client_token").asText(), null);
    assertThat(lookup.at("/data/orphan").asBoolean()).isTrue();
    assertThat(lookup.at("/data/path").asText()).isEqualTo("auth/token/create-orphan");
  }
  @Test
  void noParentOnCreateNeedsSudoOnThatPath() throws Exception {
    wire.policy("no-sudo-creator", "path \"auth/token/create\" { capabilities = [\"update\"] }");
    wire.policy("sudo-creator", "path \"auth/token/create\" { capabilities = [\"update\", \"sudo\"] }");
    String plain = wire.rootChild("10m", "no-sudo-creator");
    HttpResponse<String> refused = wire.send("POST", "auth/token/create", plain, "{\"no_parent\":true}");
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(refused.body()).isEqualTo("{\"errors\":[\"root or sudo privileges required to create orphan token\"]}");

    String sudo = wire.rootChild("10m", "sudo-creator");
    assertThat(wire.createToken(sudo, "auth/token/create", "{\"no_parent\":true}").path("orphan").asBoolean()).isTrue();
  }
  @Test
  void childPoliciesMustBeASubsetOfTheParentsWithoutSudo() throws Exception {
    wire.policy("subset-creator", "path \"auth/token/create\" { capabilities = [\"update\"] }");
    wire.policy("subset-app", "path \"kv/app\" { capabilities = [\"read\"] }");
    String parent = wire.rootChild("10m", "subset-creator", "subset-app");

    HttpResponse<String> wider = wire.send("POST", "auth/token/create", parent, "{\"policies\":[\"other\"]}");
    assertThat(wider.statusCode()).isEqualTo(400);
    assertThat(wider.body()).isEqualTo("{\"errors\":[\"child policies must be subset of parent\"]}");
    assertThat(texts(wire.createToken(parent, "auth/token/create", "{\"policies\":[\"subset-app\"]}")
        .path("policies"))).containsExactly("default", "subset-app");
    assertThat(texts(wire.createToken(parent, "auth/token/create", "{}").path("policies")))
        .containsExactly("default", "subset-app", "subset-creator");

    // A parent without "default" may not hand it out, and inheriting does not add it.
    String bare = wire.createToken("root", "auth/token/create",
        "{\"policies\":[\"subset-creator\"],\"no_default_policy\":true}").path("client_token").asText();
    assertThat(wire.send("POST", "auth/token/create", bare, "{\"policies\":[\"default\"]}").body())
        .contains("child policies must be subset of parent");
    assertThat(texts(wire.createToken(bare, "auth/token/create", "{}").path("policies")))
        .containsExactly("subset-creator");
  }
  private static List<String> texts(JsonNode array) {
    java.util.ArrayList<String> out = new java.util.ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
