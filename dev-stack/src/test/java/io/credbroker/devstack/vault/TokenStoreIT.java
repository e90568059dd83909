package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.Json;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;

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
