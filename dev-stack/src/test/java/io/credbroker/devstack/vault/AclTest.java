package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class AclTest {

  @Test
  void parsesPathBlocksWithCommentsAndLegacyPolicy() {
    Policy p =
        Policy.parse(
            "app",
            """
        # read creds
        path "database/creds/app" {
          capabilities = ["read"]   // only read
        }
        /* legacy form */
        path "secret/*" { policy = "write" }
        path "sys/leases/renew" {
          capabilities = ["update"],
          min_wrapping_ttl = "1s"
        }
        """);
    assertThat(p.rules())
        .extracting(Policy.Rule::pattern)
        .containsExactly("database/creds/app", "secret/*", "sys/leases/renew");
    assertThat(p.rules().get(1).capabilities())
        .containsExactlyInAnyOrder("create", "read", "update", "delete", "list");
  }

  @Test
  void parsesTheJsonFormSpringVaultSends() {
    Policy p =
        Policy.parse("json", "{\"path\":{\"kv/app/*\":{\"capabilities\":[\"read\",\"list\"]}}}");
    assertThat(p.rules())
        .containsExactly(new Policy.Rule("kv/app/*", java.util.Set.of("read", "list")));
  }

  @Test
  void rejectsUnknownCapabilitiesAndBrokenSyntax() {
    assertThatThrownBy(() -> Policy.parse("x", "path \"a\" { capabilities = [\"fly\"] }"))
        .isInstanceOfSatisfying(
            VaultException.class,
            e ->
                assertThat(e.errors().get(0))
                    .startsWith("failed to parse policy: ")
                    .contains("invalid capability \"fly\""));
    assertThatThrownBy(() -> Policy.parse("x", "path \"a\" { capabilities = [\"read\"]"))
        .isInstanceOf(VaultException.class);
    assertThatThrownBy(() -> Policy.parse("x", "paths \"a\" {}"))
        .isInstanceOf(VaultException.class);
  }

  @Test
  void exactPathBeatsGlobAndDenyWins() {
    Acl acl =
        Acl.of(
            List.of(
                Policy.parse(
                    "a",
                    "path \"secret/*\" { capabilities = [\"read\", \"list\"] }\n"
                        + "path \"secret/admin\" { capabilities = [\"deny\"] }"),
                Policy.parse("b", "path \"secret/shared\" { capabilities = [\"update\"] }")));
    assertThat(acl.allows("secret/app", "read")).isTrue();
    assertThat(acl.allows("secret/admin", "read")).isFalse();
    // The exact rule for secret/shared replaces the glob for that path, as in Vault.
    assertThat(acl.allows("secret/shared", "update")).isTrue();
    assertThat(acl.allows("secret/shared", "read")).isFalse();
    assertThat(acl.allows("other/x", "read")).isFalse();
  }

  @Test
  void plusMatchesExactlyOneSegment() {
    assertThat(Acl.matches("database/+/app", "database/creds/app")).isTrue();
    assertThat(Acl.matches("database/+/app", "database/creds/x/app")).isFalse();
    assertThat(Acl.matches("database/+/app", "database//app")).isFalse();
    assertThat(Acl.matches("database/+/*", "database/creds/app/x")).isTrue();
    assertThat(Acl.matches("secret/*", "secret/")).isTrue();
    assertThat(Acl.matches("secret/*", "secre")).isFalse();
  }

  @Test
  void morePreciseWildcardWins() {
    Acl acl =
        Acl.of(
            List.of(
                Policy.parse(
                    "p",
                    """
        path "database/*" { capabilities = ["read"] }
        path "database/creds/*" { capabilities = ["deny"] }
        path "database/creds/+" { capabilities = ["update"] }
        """)));
    assertThat(acl.capabilities("database/config/x")).containsExactly("read");
    assertThat(acl.capabilities("database/creds/app")).containsExactly("update");
    assertThat(acl.capabilities("database/creds/app/extra")).containsExactly("deny");
  }

  @Test
  void rootPolicyAllowsEverything() {
    Acl acl = Acl.of(List.of(new Policy("root", List.of())));
    assertThat(acl.allows("anything/at/all", "sudo")).isTrue();
  }

  @Test
  void defaultPolicyLetsATokenManageItself() {
    Acl acl = Acl.of(List.of(Policy.parse("default", Policies.DEFAULT_POLICY)));
    assertThat(acl.allows("auth/token/lookup-self", "read")).isTrue();
    assertThat(acl.allows("auth/token/renew-self", "update")).isTrue();
    assertThat(acl.allows("auth/token/revoke-self", "update")).isTrue();
    assertThat(acl.allows("sys/leases/renew", "update")).isTrue();
    assertThat(acl.allows("sys/mounts", "read")).isFalse();
  }

  @Test
  void listOfAPathWithTrailingSlashIsGovernedByTheRuleWithoutIt() {
    // vault/acl.go AllowOperation: for LIST, the exact rule without the slash, then wildcard
    // rules for the path without the slash, then wildcard rules for the path as sent.
    Acl acl =
        Acl.of(
            List.of(
                Policy.parse(
                    "p",
                    """
        path "auth/token/accessors" { capabilities = ["list", "sudo"] }
        path "kv/app*" { capabilities = ["read"] }
        path "kv/app/*" { capabilities = ["list"] }
        """)));
    assertThat(acl.listCapabilities("auth/token/accessors/")).containsExactly("list", "sudo");
    assertThat(acl.capabilities("auth/token/accessors/")).containsExactly("deny");
    // "kv/app" matches kv/app* first, before kv/app/* gets a say on "kv/app/".
    assertThat(acl.listCapabilities("kv/app/")).containsExactly("read");
    assertThat(acl.listCapabilities("kv/app/x/")).containsExactly("list");
  }
}
