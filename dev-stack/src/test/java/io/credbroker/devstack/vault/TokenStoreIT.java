package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.Json;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
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
import org.springframework.vault.support.VaultResponse;

/**
 * The token store on the wire (token_store.go in hashicorp/vault): token roles, creation against a
 * role, orphan creation, the accessor paths, through Spring Vault's {@link VaultTemplate} and plain
 * HTTP.
 */
class TokenStoreIT {

  @TempDir static Path workDir;
  static DevStack stack;
  static VaultTemplate root;
  static VaultWire wire;

  @BeforeAll
  static void start() throws Exception {
    stack = DevStack.builder().workDir(workDir).start();
    root = template("root");
    wire = new VaultWire(stack.vaultAddress(), "root");
    wire.policy("issuer-a", "path \"kv/a\" { capabilities = [\"read\"] }");
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  static VaultTemplate template(String token) {
    return new VaultTemplate(
        VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication(token));
  }

  // ---- roles ----

  @Test
  void tokenRoleIsWrittenReadListedAndDeletedInVaultsShape() throws Exception {
    HttpResponse<String> written =
        wire.send(
            "POST",
            "auth/token/roles/shape",
            "root",
            """
        {"allowed_policies":"Issuer-B, issuer-a","disallowed_policies":["secret"],"orphan":true,
         "renewable":false,"path_suffix":"gen1","token_explicit_max_ttl":"1h","token_period":0,
         "token_no_default_policy":true,"token_type":"service"}""");
    assertThat(written.statusCode()).isEqualTo(204);

    JsonNode data = wire.ok("GET", "auth/token/roles/shape", "root", null).path("data");
    assertThat(data.toString())
        .isEqualTo(
            Json.MAPPER
                .readTree(
                    """
        {"allowed_entity_aliases":null,"allowed_policies":["issuer-a","issuer-b"],"allowed_policies_glob":[],
         "disallowed_policies":["secret"],"disallowed_policies_glob":[],"explicit_max_ttl":0,"name":"shape",
         "orphan":true,"path_suffix":"gen1","period":0,"renewable":false,"token_explicit_max_ttl":3600,
         "token_no_default_policy":true,"token_period":0,"token_type":"service"}""")
                .toString());
    assertThat(root.list("auth/token/roles")).contains("shape");

    assertThat(wire.send("DELETE", "auth/token/roles/shape", "root", null).statusCode())
        .isEqualTo(204);
    HttpResponse<String> gone = wire.send("GET", "auth/token/roles/shape", "root", null);
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(gone.body()).isEqualTo("{\"errors\":[]}");
    assertThat(root.read("auth/token/roles/shape")).isNull();
  }

  @Test
  void roleUpdateKeepsFieldsTheBodyLeavesOutAndWarnsAboutDeprecatedOnes() throws Exception {
    root.write("auth/token/roles/update", Map.of("orphan", true, "allowed_policies", List.of("a")));
    HttpResponse<String> updated =
        wire.send(
            "POST",
            "auth/token/roles/update",
            "root",
            "{\"token_explicit_max_ttl\":\"10m\",\"explicit_max_ttl\":\"5m\"}");
    assertThat(updated.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(updated.body()).at("/warnings/0").asText())
        .isEqualTo(
            "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value");
    VaultResponse read = root.read("auth/token/roles/update");
    assertThat(read.getRequiredData())
        .containsEntry("orphan", true)
        .containsEntry("allowed_policies", List.of("a"))
        .containsEntry("token_explicit_max_ttl", 600)
        .containsEntry("explicit_max_ttl", 0);
  }

  @Test
  void tokenRolesSurviveARestart() throws Exception {
    root.write(
        "auth/token/roles/durable", Map.of("allowed_policies", List.of("x"), "orphan", true));
    stack.stopVault();
    stack.startVault();
    assertThat(root.read("auth/token/roles/durable").getRequiredData())
        .containsEntry("allowed_policies", List.of("x"))
        .containsEntry("orphan", true);
  }

  @Test
  void unknownRoleCannotIssueTokens() throws Exception {
    HttpResponse<String> r = wire.send("POST", "auth/token/create/nosuchrole", "root", "{}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).isEqualTo("{\"errors\":[\"unknown role nosuchrole\"]}");
  }

  // ---- creation against a role ----

  @Test
  void roleTokenCarriesTheRolesAllowedPoliciesAndDefaultWhenNoneAreRequested() throws Exception {
    wire.policy(
        "role-allowed-caller",
        "path \"auth/token/create/allowed\" { capabilities = [\"update\"] }");
    root.write(
        "auth/token/roles/allowed",
        Map.of("allowed_policies", List.of("issuer-a", "issuer-missing")));
    String caller = wire.rootChild("10m", "role-allowed-caller");

    JsonNode body = wire.ok("POST", "auth/token/create/allowed", caller, "{\"ttl\":\"5m\"}");
    JsonNode auth = body.path("auth");
    // The caller holds none of these: the role grants them.
    assertThat(texts(auth.path("policies")))
        .containsExactly("default", "issuer-a", "issuer-missing");
    assertThat(texts(auth.path("token_policies")))
        .containsExactly("default", "issuer-a", "issuer-missing");
    assertThat(auth.path("lease_duration").asLong()).isBetween(299L, 300L);
    assertThat(auth.path("orphan").asBoolean()).isFalse();
    assertThat(texts(body.path("warnings")))
        .containsExactly("Policy \"issuer-missing\" does not exist");

    JsonNode lookup =
        wire.ok("GET", "auth/token/lookup-self", auth.path("client_token").asText(), null)
            .path("data");
    assertThat(lookup.path("path").asText()).isEqualTo("auth/token/create/allowed");
    assertThat(lookup.path("role").asText()).isEqualTo("allowed");
  }

  @Test
  void requestedPoliciesMustLieWithinTheRolesAllowedPoliciesAndOutsideItsDisallowedOnes()
      throws Exception {
    root.write(
        "auth/token/roles/narrow",
        Map.of(
            "allowed_policies",
            List.of("issuer-a", "secret"),
            "disallowed_policies",
            List.of("secret")));
    HttpResponse<String> outside =
        wire.send("POST", "auth/token/create/narrow", "root", "{\"policies\":[\"other\"]}");
    assertThat(outside.statusCode()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(outside.body()).at("/errors/0").asText())
        .isEqualTo(
            "token policies ([\"default\" \"other\"]) must be subset of the role's allowed policies"
                + " ([\"default\" \"issuer-a\" \"secret\"]) or glob policies ([])");
    HttpResponse<String> disallowed =
        wire.send("POST", "auth/token/create/narrow", "root", "{\"policies\":[\"secret\"]}");
    assertThat(disallowed.statusCode()).isEqualTo(400);
    assertThat(disallowed.body())
        .isEqualTo("{\"errors\":[\"token policy \\\"secret\\\" is disallowed by this role\"]}");
    JsonNode within =
        wire.createToken("root", "auth/token/create/narrow", "{\"policies\":[\"issuer-a\"]}");
    assertThat(texts(within.path("policies"))).containsExactly("default", "issuer-a");
  }

  @Test
  void roleWithoutDefaultPolicyIssuesTokensWithoutIt() throws Exception {
    root.write(
        "auth/token/roles/nodefault",
        Map.of("allowed_policies", List.of("issuer-a"), "token_no_default_policy", true));
    JsonNode auth = wire.createToken("root", "auth/token/create/nodefault", "{}");
    assertThat(texts(auth.path("policies"))).containsExactly("issuer-a");
  }

  @Test
  void orphanRoleNeedsNoSudoAndItsTokenOutlivesItsCreator() throws Exception {
    wire.policy(
        "orphan-role-caller", "path \"auth/token/create/orphans\" { capabilities = [\"update\"] }");
    root.write(
        "auth/token/roles/orphans",
        Map.of("allowed_policies", List.of("issuer-a"), "orphan", true));
    root.write("auth/token/roles/children", Map.of("allowed_policies", List.of("issuer-a")));
    wire.policy(
        "child-role-caller", "path \"auth/token/create/children\" { capabilities = [\"update\"] }");
    String caller = wire.rootChild("10m", "orphan-role-caller", "child-role-caller");

    JsonNode orphan =
        wire.createToken(caller, "auth/token/create/orphans", "{\"no_parent\":false}");
    assertThat(orphan.path("orphan").asBoolean()).isTrue();
    JsonNode child = wire.createToken(caller, "auth/token/create/children", "{\"no_parent\":true}");
    assertThat(child.path("orphan").asBoolean())
        .as("a role decides; no_parent is ignored")
        .isFalse();

    assertThat(wire.send("POST", "auth/token/revoke-self", caller, null).statusCode())
        .isEqualTo(204);
    assertThat(
            wire.send("GET", "auth/token/lookup-self", orphan.path("client_token").asText(), null)
                .statusCode())
        .isEqualTo(200);
    assertThat(
            wire.send("GET", "auth/token/lookup-self", child.path("client_token").asText(), null)
                .statusCode())
        .isEqualTo(403);
  }

  @Test
  void explicitMaxTtlIsTheLesserOfRoleAndRequestWithVaultsWarnings() throws Exception {
    root.write(
        "auth/token/roles/capped",
        Map.of("allowed_policies", List.of("issuer-a"), "token_explicit_max_ttl", "1h"));
    JsonNode body =
        wire.ok(
            "POST",
            "auth/token/create/capped",
            "root",
            "{\"ttl\":\"3h\",\"explicit_max_ttl\":\"2h\"}");
    assertThat(body.at("/auth/lease_duration").asLong()).isBetween(3599L, 3600L);
    assertThat(texts(body.path("warnings")))
        .containsExactly(
            "Explicit max TTL specified both during creation call and in role; using the lesser value of 3600 seconds",
            "TTL of \"3h\" exceeded the effective max_ttl of \"1h\"; TTL value is capped accordingly");
    // Vault's lookup shows the explicit max the request asked for (te.ExplicitMaxTTL).
    JsonNode lookup =
        wire.ok("GET", "auth/token/lookup-self", body.at("/auth/client_token").asText(), null);
    assertThat(lookup.at("/data/explicit_max_ttl").asLong()).isEqualTo(7200);
  }

  @Test
  void theRootTokenCannotBeRenewed() throws Exception {
    // Its lease entry has no expiry, which Vault's leaseEntry.renewable() refuses.
    HttpResponse<String> renew = wire.send("POST", "auth/token/renew-self", "root", "{}");
    assertThat(renew.statusCode()).isEqualTo(400);
    assertThat(renew.body()).isEqualTo("{\"errors\":[\"lease is not renewable\"]}");
  }

  @Test
  void nonRenewableRoleIssuesTokensThatRefuseRenewal() throws Exception {
    root.write(
        "auth/token/roles/fixed",
        Map.of("allowed_policies", List.of("issuer-a"), "renewable", false, "orphan", true));
    JsonNode auth =
        wire.createToken("root", "auth/token/create/fixed", "{\"ttl\":\"10m\",\"renewable\":true}");
    assertThat(auth.path("renewable").asBoolean()).isFalse();
    HttpResponse<String> renew =
        wire.send("POST", "auth/token/renew-self", auth.path("client_token").asText(), "{}");
    assertThat(renew.statusCode()).isEqualTo(400);
    assertThat(renew.body()).isEqualTo("{\"errors\":[\"lease is not renewable\"]}");
  }

  @Test
  void periodComesFromTheRoleWithoutSudoAndRenewalsGrantThePeriod() throws Exception {
    wire.policy(
        "periodic-caller",
        """
        path "auth/token/create/periodic" { capabilities = ["update"] }
        path "auth/token/create" { capabilities = ["update"] }
        """);
    root.write(
        "auth/token/roles/periodic",
        Map.of("allowed_policies", List.of("issuer-a"), "token_period", "1h"));
    String caller = wire.rootChild("10m", "periodic-caller");
    HttpResponse<String> direct =
        wire.send("POST", "auth/token/create", caller, "{\"period\":\"1h\"}");
    assertThat(direct.body())
        .isEqualTo("{\"errors\":[\"root or sudo privileges required to create periodic token\"]}");

    JsonNode auth = wire.createToken(caller, "auth/token/create/periodic", "{\"ttl\":\"5m\"}");
    assertThat(auth.path("lease_duration").asLong()).isBetween(3599L, 3600L);
    String token = auth.path("client_token").asText();
    // A periodic token renews to its period whatever the increment (CalculateTTL).
    JsonNode renewed = wire.ok("POST", "auth/token/renew-self", token, "{\"increment\":\"5h\"}");
    assertThat(renewed.at("/auth/lease_duration").asLong()).isBetween(3599L, 3600L);

    // Renewal reads the role again (authRenew); without it the token cannot be renewed.
    root.delete("auth/token/roles/periodic");
    HttpResponse<String> orphaned = wire.send("POST", "auth/token/renew-self", token, "{}");
    assertThat(orphaned.statusCode()).isEqualTo(500);
    assertThat(orphaned.body())
        .contains("original token role \\\"periodic\\\" could not be found, not renewing");
  }

  @Test
  void pathSuffixIsAppendedToTheTokenPath() throws Exception {
    root.write(
        "auth/token/roles/suffixed",
        Map.of("allowed_policies", List.of("issuer-a"), "path_suffix", "gen2"));
    String token =
        wire.createToken("root", "auth/token/create/suffixed", "{}").path("client_token").asText();
    assertThat(wire.ok("GET", "auth/token/lookup-self", token, null).at("/data/path").asText())
        .isEqualTo("auth/token/create/suffixed/gen2");
  }

  @Test
  void tokenStoreWritesNeedUpdateAndOnlyANewRoleNeedsCreate() throws Exception {
    // Vault's existence check: only token roles have one; every other token store write is an
    // update.
    root.write("auth/token/roles/acl-check", Map.of("allowed_policies", List.of("issuer-a")));
    wire.policy(
        "create-only",
        """
        path "auth/token/create/acl-check" { capabilities = ["create"] }
        path "auth/token/roles/*" { capabilities = ["create"] }
        """);
    String createOnly = wire.rootChild("10m", "create-only");
    assertThat(wire.send("POST", "auth/token/create/acl-check", createOnly, "{}").statusCode())
        .isEqualTo(403);
    assertThat(wire.send("POST", "auth/token/roles/acl-new", createOnly, "{}").statusCode())
        .isEqualTo(204);
    assertThat(wire.send("POST", "auth/token/roles/acl-new", createOnly, "{}").statusCode())
        .isEqualTo(403);

    wire.policy(
        "update-only",
        """
        path "auth/token/create/acl-check" { capabilities = ["update"] }
        path "auth/token/roles/*" { capabilities = ["update"] }
        """);
    String updateOnly = wire.rootChild("10m", "update-only");
    assertThat(wire.send("POST", "auth/token/create/acl-check", updateOnly, "{}").statusCode())
        .isEqualTo(200);
    assertThat(wire.send("POST", "auth/token/roles/acl-new", updateOnly, "{}").statusCode())
        .isEqualTo(204);
    assertThat(wire.send("POST", "auth/token/roles/acl-other", updateOnly, "{}").statusCode())
        .isEqualTo(403);
  }

  // ---- orphans and the parent's policies without a role ----

  @Test
  void createOrphanIsGovernedByTheAclAlone() throws Exception {
    // token_store.go: "This comes from create-orphan, which can be properly ACLd"; no sudo needed.
    wire.policy(
        "orphan-maker", "path \"auth/token/create-orphan\" { capabilities = [\"update\"] }");
    String maker = wire.rootChild("10m", "orphan-maker");
    JsonNode orphan = wire.createToken(maker, "auth/token/create-orphan", "{\"ttl\":\"5m\"}");
    assertThat(orphan.path("orphan").asBoolean()).isTrue();
    assertThat(texts(orphan.path("policies"))).containsExactly("default", "orphan-maker");

    assertThat(wire.send("POST", "auth/token/revoke-self", maker, null).statusCode())
        .isEqualTo(204);
    JsonNode lookup =
        wire.ok("GET", "auth/token/lookup-self", orphan.path("client_token").asText(), null);
    assertThat(lookup.at("/data/orphan").asBoolean()).isTrue();
    assertThat(lookup.at("/data/path").asText()).isEqualTo("auth/token/create-orphan");
  }

  @Test
  void noParentOnCreateNeedsSudoOnThatPath() throws Exception {
    wire.policy("no-sudo-creator", "path \"auth/token/create\" { capabilities = [\"update\"] }");
    wire.policy(
        "sudo-creator", "path \"auth/token/create\" { capabilities = [\"update\", \"sudo\"] }");
    String plain = wire.rootChild("10m", "no-sudo-creator");
    HttpResponse<String> refused =
        wire.send("POST", "auth/token/create", plain, "{\"no_parent\":true}");
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(refused.body())
        .isEqualTo("{\"errors\":[\"root or sudo privileges required to create orphan token\"]}");

    String sudo = wire.rootChild("10m", "sudo-creator");
    assertThat(
            wire.createToken(sudo, "auth/token/create", "{\"no_parent\":true}")
                .path("orphan")
                .asBoolean())
        .isTrue();
  }

  @Test
  void childPoliciesMustBeASubsetOfTheParentsWithoutSudo() throws Exception {
    wire.policy("subset-creator", "path \"auth/token/create\" { capabilities = [\"update\"] }");
    wire.policy("subset-app", "path \"kv/app\" { capabilities = [\"read\"] }");
    String parent = wire.rootChild("10m", "subset-creator", "subset-app");

    HttpResponse<String> wider =
        wire.send("POST", "auth/token/create", parent, "{\"policies\":[\"other\"]}");
    assertThat(wider.statusCode()).isEqualTo(400);
    assertThat(wider.body())
        .isEqualTo("{\"errors\":[\"child policies must be subset of parent\"]}");
    assertThat(
            texts(
                wire.createToken(parent, "auth/token/create", "{\"policies\":[\"subset-app\"]}")
                    .path("policies")))
        .containsExactly("default", "subset-app");
    assertThat(texts(wire.createToken(parent, "auth/token/create", "{}").path("policies")))
        .containsExactly("default", "subset-app", "subset-creator");

    // A parent without "default" may not hand it out, and inheriting does not add it.
    String bare =
        wire.createToken(
                "root",
                "auth/token/create",
                "{\"policies\":[\"subset-creator\"],\"no_default_policy\":true}")
            .path("client_token")
            .asText();
    assertThat(wire.send("POST", "auth/token/create", bare, "{\"policies\":[\"default\"]}").body())
        .contains("child policies must be subset of parent");
    assertThat(texts(wire.createToken(bare, "auth/token/create", "{}").path("policies")))
        .containsExactly("subset-creator");
  }

  @Test
  void displayNameIsSanitizedAsVaultDoes() throws Exception {
    JsonNode auth =
        wire.createToken("root", "auth/token/create", "{\"display_name\":\"My App_1.x\"}");
    assertThat(
            wire.ok("GET", "auth/token/lookup-self", auth.path("client_token").asText(), null)
                .at("/data/display_name")
                .asText())
        .isEqualTo("token-My-App-1-x");
  }

  // ---- accessors ----

  @Test
  void listingAccessorsNeedsSudoAndAnswersKeys() throws Exception {
    wire.policy("accessor-lister", "path \"auth/token/accessors\" { capabilities = [\"list\"] }");
    wire.policy(
        "accessor-sudo", "path \"auth/token/accessors\" { capabilities = [\"list\", \"sudo\"] }");
    String listed =
        wire.createToken("root", "auth/token/create", "{\"ttl\":\"10m\"}")
            .path("accessor")
            .asText();

    String noSudo = wire.rootChild("10m", "accessor-lister");
    assertThat(wire.send("LIST", "auth/token/accessors", noSudo, null).statusCode()).isEqualTo(403);
    String sudo = wire.rootChild("10m", "accessor-sudo");
    JsonNode keys = wire.ok("LIST", "auth/token/accessors", sudo, null).path("data").path("keys");
    assertThat(texts(keys)).contains(listed);
    assertThat(template(sudo).list("auth/token/accessors")).contains(listed);
  }

  @Test
  void lookupAccessorAnswersLikeLookupWithoutTheTokenId() throws Exception {
    root.write(
        "auth/token/roles/looked-up",
        Map.of("allowed_policies", List.of("issuer-a"), "orphan", true));
    JsonNode auth =
        wire.createToken(
            "root",
            "auth/token/create/looked-up",
            "{\"ttl\":\"10m\",\"meta\":{\"replica\":\"r1\"},\"display_name\":\"issuing\"}");
    JsonNode data =
        wire.ok(
                "POST",
                "auth/token/lookup-accessor",
                "root",
                "{\"accessor\":\"" + auth.path("accessor").asText() + "\"}")
            .path("data");
    assertThat(data.path("id").asText()).isEmpty();
    assertThat(data.path("accessor").asText()).isEqualTo(auth.path("accessor").asText());
    assertThat(data.path("path").asText()).isEqualTo("auth/token/create/looked-up");
    assertThat(data.path("role").asText()).isEqualTo("looked-up");
    assertThat(data.path("orphan").asBoolean()).isTrue();
    assertThat(data.path("meta")).isEqualTo(Json.MAPPER.readTree("{\"replica\":\"r1\"}"));
    assertThat(texts(data.path("policies"))).containsExactly("default", "issuer-a");
    assertThat(data.path("display_name").asText()).isEqualTo("token-issuing");
    assertThat(data.path("creation_ttl").asLong()).isEqualTo(600);
    assertThat(data.path("ttl").asLong()).isBetween(598L, 600L);
    assertThat(data.path("expire_time").asText()).isNotBlank();
    assertThat(data.path("type").asText()).isEqualTo("service");
  }

  @Test
  void unknownOrMissingAccessorsAnswerAsVaultDoes() throws Exception {
    HttpResponse<String> lookup =
        wire.send("POST", "auth/token/lookup-accessor", "root", "{\"accessor\":\"nope\"}");
    assertThat(lookup.statusCode()).isEqualTo(400);
    assertThat(lookup.body())
        .isEqualTo("{\"errors\":[\"1 error occurred:\\n\\t* invalid accessor\\n\\n\"]}");
    HttpResponse<String> missing = wire.send("POST", "auth/token/lookup-accessor", "root", "{}");
    assertThat(missing.body())
        .isEqualTo("{\"errors\":[\"1 error occurred:\\n\\t* missing accessor\\n\\n\"]}");

    HttpResponse<String> revoke =
        wire.send("POST", "auth/token/revoke-accessor", "root", "{\"accessor\":\"nope\"}");
    assertThat(revoke.statusCode()).isEqualTo(200);
    JsonNode body = Json.MAPPER.readTree(revoke.body());
    assertThat(texts(body.path("warnings"))).containsExactly("No token found with this accessor");
    assertThat(body.path("data").isNull()).isTrue();
  }

  @Test
  void revokeAccessorRevokesTheTokenAndItsChildrenButNotItsOrphans() throws Exception {
    wire.policy(
        "tree-parent",
        """
        path "auth/token/create" { capabilities = ["update"] }
        path "auth/token/create-orphan" { capabilities = ["update"] }
        """);
    JsonNode parent =
        wire.createToken(
            "root", "auth/token/create", "{\"policies\":[\"tree-parent\"],\"ttl\":\"10m\"}");
    String parentId = parent.path("client_token").asText();
    String child =
        wire.createToken(parentId, "auth/token/create", "{}").path("client_token").asText();
    String orphan =
        wire.createToken(parentId, "auth/token/create-orphan", "{}").path("client_token").asText();

    assertThat(
            wire.send(
                    "POST",
                    "auth/token/revoke-accessor",
                    "root",
                    "{\"accessor\":\"" + parent.path("accessor").asText() + "\"}")
                .statusCode())
        .isEqualTo(204);
    assertThat(wire.send("GET", "auth/token/lookup-self", parentId, null).statusCode())
        .isEqualTo(403);
    assertThat(wire.send("GET", "auth/token/lookup-self", child, null).statusCode()).isEqualTo(403);
    assertThat(wire.send("GET", "auth/token/lookup-self", orphan, null).statusCode())
        .isEqualTo(200);
  }

  @Test
  void renewAccessorRenewsWithoutShowingTheToken() throws Exception {
    JsonNode auth = wire.createToken("root", "auth/token/create", "{\"ttl\":\"10m\"}");
    JsonNode renewed =
        wire.ok(
                "POST",
                "auth/token/renew-accessor",
                "root",
                "{\"accessor\":\"" + auth.path("accessor").asText() + "\",\"increment\":\"20m\"}")
            .path("auth");
    assertThat(renewed.path("client_token").asText()).isEmpty();
    assertThat(renewed.path("accessor").asText()).isEqualTo(auth.path("accessor").asText());
    assertThat(renewed.path("lease_duration").asLong()).isBetween(1199L, 1200L);
  }

  @Test
  void lookupAndRenewOfUnknownTokensAnswerAsVaultDoes() throws Exception {
    HttpResponse<String> lookup =
        wire.send("POST", "auth/token/lookup", "root", "{\"token\":\"hvs.nosuchtoken\"}");
    assertThat(lookup.statusCode()).isEqualTo(403);
    assertThat(lookup.body()).isEqualTo("{\"errors\":[\"bad token\"]}");
    HttpResponse<String> renew =
        wire.send("POST", "auth/token/renew", "root", "{\"token\":\"hvs.nosuchtoken\"}");
    assertThat(renew.statusCode()).isEqualTo(400);
    assertThat(renew.body()).isEqualTo("{\"errors\":[\"token not found\"]}");
    assertThatThrownBy(() -> root.write("auth/token/renew", Map.of()))
        .isInstanceOf(VaultException.class)
        .hasMessageContaining("missing token ID");
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
