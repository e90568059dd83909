package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.DevStack;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
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
 * What the broker relies on when every credential is created with its own issuing token (an orphan,
 * non-renewable token with a fixed TTL from a token role): the lease belongs to the issuing token
 * and dies with it, any token the ACL allows can renew and revoke it, and the broker's own login
 * token can go away without taking it along.
 */
class IssuingTokenIT {

  @TempDir static Path workDir;
  static DevStack stack;
  static VaultTemplate root;
  static VaultWire wire;

  @BeforeAll
  static void start() throws Exception {
    stack = DevStack.builder().workDir(workDir).start();
    root =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication("root"));
    wire = new VaultWire(stack.vaultAddress(), "root");
    VaultWire.enableDatabase(root, stack.postgres(), "db-issue", "app", "1h", "2h");
    wire.policy("issue-creds", "path \"db-issue/creds/app\" { capabilities = [\"read\"] }");
    // The broker: it may mint issuing tokens and manage any lease, but cannot read creds itself.
    wire.policy(
        "broker",
        """
        path "auth/token/create/issuer" { capabilities = ["update"] }
        path "auth/token/create/issuer-short" { capabilities = ["update"] }
        path "sys/leases/renew" { capabilities = ["update"] }
        path "sys/leases/revoke" { capabilities = ["update"] }
        """);
    root.write(
        "auth/token/roles/issuer",
        Map.of(
            "allowed_policies",
            List.of("issue-creds"),
            "orphan",
            true,
            "renewable",
            false,
            "token_explicit_max_ttl",
            "1h"));
    root.write(
        "auth/token/roles/issuer-short",
        Map.of(
            "allowed_policies",
            List.of("issue-creds"),
            "orphan",
            true,
            "renewable",
            false,
            "token_explicit_max_ttl",
            "3s"));
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  /** A broker login stand-in: a token with the broker policy only. */
  static String brokerToken(String ttl) throws Exception {
    return wire.rootChild(ttl, "broker");
  }

  static String issuingToken(String broker, String role, String ttl) throws Exception {
    JsonNode auth =
        wire.createToken(broker, "auth/token/create/" + role, "{\"ttl\":\"" + ttl + "\"}");
    assertThat(auth.path("orphan").asBoolean()).isTrue();
    assertThat(auth.path("renewable").asBoolean()).isFalse();
    return auth.path("client_token").asText();
  }

  static VaultResponse creds(String token) {
    return new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication(token))
        .read("db-issue/creds/app");
  }

  static String user(VaultResponse creds) {
    return (String) creds.getRequiredData().get("username");
  }

  @Test
  void leaseCreatedByOneTokenIsRenewedAndRevokedByAnotherThatTheAclAllows() throws Exception {
    // Vault checks no ownership here: logical_system.go handleRenew and handleRevoke hand the
    // lease id straight to ExpirationManager.Renew and Revoke (expiration.go), which never look
    // at the calling token; only the ACL on sys/leases/renew and sys/leases/revoke applies.
    String broker = brokerToken("10m");
    VaultResponse creds = creds(issuingToken(broker, "issuer", "10m"));
    String leaseId = creds.getLeaseId();
    String otherBroker = brokerToken("10m");

    HttpResponse<String> renewed =
        wire.send(
            "PUT",
            "sys/leases/renew",
            otherBroker,
            "{\"lease_id\":\"" + leaseId + "\",\"increment\":\"30m\"}");
    assertThat(renewed.statusCode()).as(renewed.body()).isEqualTo(200);
    assertThat(renewed.body()).contains("\"lease_duration\":1800");

    String noAcl = wire.rootChild("10m", "issue-creds");
    assertThat(
            wire.send("PUT", "sys/leases/revoke", noAcl, "{\"lease_id\":\"" + leaseId + "\"}")
                .statusCode())
        .isEqualTo(403);

    assertThat(
            wire.send("PUT", "sys/leases/revoke", otherBroker, "{\"lease_id\":\"" + leaseId + "\"}")
                .statusCode())
        .isEqualTo(204);
    assertThat(wire.leaseExists(leaseId)).isFalse();
    assertThat(VaultWire.roleExists(stack.postgres(), user(creds))).isFalse();
  }

  @Test
  void issuingTokenReachingItsTtlRevokesItsLeasesAndNoOthers() throws Exception {
    String broker = brokerToken("10m");
    VaultResponse dying = creds(issuingToken(broker, "issuer-short", "1h"));
    VaultResponse living = creds(issuingToken(broker, "issuer", "10m"));
    assertThat(VaultWire.roleExists(stack.postgres(), user(dying))).isTrue();

    // The role's 3 s explicit max TTL wins over the requested hour.
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(wire.leaseExists(dying.getLeaseId())).isFalse();
              assertThat(VaultWire.roleExists(stack.postgres(), user(dying))).isFalse();
            });
    assertThat(wire.leaseExists(living.getLeaseId())).isTrue();
    assertThat(VaultWire.roleExists(stack.postgres(), user(living))).isTrue();
  }

  @Test
  void revokingTheCreatorOfAnOrphanIssuingTokenLeavesItsLeasesAlone() throws Exception {
    String broker = brokerToken("10m");
    String issuing = issuingToken(broker, "issuer", "10m");
    VaultResponse creds = creds(issuing);

    assertThat(wire.send("POST", "auth/token/revoke-self", broker, null).statusCode())
        .isEqualTo(204);
    assertThat(wire.send("GET", "auth/token/lookup-self", broker, null).statusCode())
        .isEqualTo(403);
    assertThat(wire.send("GET", "auth/token/lookup-self", issuing, null).statusCode())
        .isEqualTo(200);
    assertThat(wire.leaseExists(creds.getLeaseId())).isTrue();
    assertThat(VaultWire.roleExists(stack.postgres(), user(creds))).isTrue();
    // A later broker token takes over the renewals.
    assertThat(
            wire.send(
                    "PUT",
                    "sys/leases/renew",
                    brokerToken("10m"),
                    "{\"lease_id\":\"" + creds.getLeaseId() + "\"}")
                .statusCode())
        .isEqualTo(200);
  }

  @Test
  void expiringCreatorOfAnOrphanIssuingTokenLeavesItsLeasesAlone() throws Exception {
    String broker = brokerToken("2s");
    String issuing = issuingToken(broker, "issuer", "10m");
    VaultResponse creds = creds(issuing);

    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () ->
                assertThat(wire.send("GET", "auth/token/lookup-self", broker, null).statusCode())
                    .isEqualTo(403));
    // One more expiry pass has run since the broker token expired.
    await().pollDelay(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(wire.send("GET", "auth/token/lookup-self", issuing, null).statusCode())
        .isEqualTo(200);
    assertThat(wire.leaseExists(creds.getLeaseId())).isTrue();
    assertThat(VaultWire.roleExists(stack.postgres(), user(creds))).isTrue();
  }
}
