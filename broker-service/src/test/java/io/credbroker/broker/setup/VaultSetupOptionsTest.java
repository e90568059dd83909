package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.setup.VaultSetupOptions.BrokerAccess;
import io.credbroker.broker.setup.VaultSetupOptions.KubernetesAuth;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VaultSetupOptionsTest {

  static VaultSetupOptions options() {
    return options(Duration.ofHours(1), Duration.ofHours(24));
  }

  static VaultSetupOptions options(Duration ttl, Duration maxTtl) {
    return new VaultSetupOptions(
        URI.create("http://127.0.0.1:8200"),
        Secret.of("s.root-token-value"),
        "database",
        "db1",
        "db1",
        "db1",
        "admin_db1",
        "db1_grp",
        "127.0.0.1",
        5432,
        "sslmode=disable",
        "scram-sha-256",
        ttl,
        maxTtl,
        new BrokerAccess("credential-broker", kubernetesAuth("https://127.0.0.1:6443")));
  }

  @Test
  void connectionUrlLeavesCredentialsToVaultTemplates() {
    assertThat(options().connectionUrl())
        .isEqualTo("postgresql://{{username}}:{{password}}@127.0.0.1:5432/db1?sslmode=disable");
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://kubernetes.default.svc", "http://10.96.0.1:443"})
  void plainHttpKubernetesHostOnAnotherMachineIsRefused(String host) {
    assertThatThrownBy(() -> kubernetesAuth(host))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("refusing the Kubernetes host " + host)
        .hasMessageContaining("clear text");
  }

  @ParameterizedTest
  @ValueSource(strings = {"https://kubernetes.default.svc", "http://127.0.0.1:8001"})
  void tlsKubernetesHostsAndPlainHttpOnVaultsMachineAreAccepted(String host) {
    assertThat(kubernetesAuth(host).kubernetesHost()).isEqualTo(URI.create(host));
  }

  private static KubernetesAuth kubernetesAuth(String host) {
    return new KubernetesAuth(
        "kubernetes",
        URI.create(host),
        null,
        "credential-broker",
        "credential-broker",
        "credbroker",
        null,
        Duration.ofHours(1),
        Duration.ofHours(24));
  }

  @Test
  void aRefusedAddressIsNamedWithoutItsUserInfo() {
    assertThatThrownBy(() -> withAddress("http://admin:s3cret-pw@vault.example:8200/v1"))
        .hasMessageContaining("refusing the Vault address http://vault.example:8200:")
        .hasMessageNotContaining("s3cret-pw");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://vault.example:8200",
        "http://10.0.0.5:8200",
        "http://128.0.0.1:8200",
        "http://[fd00::5]:8200",
        // Only localhost is looked up: this name resolves to 127.0.0.1 through DNS that others
        // control, so it is not taken as loopback.
        "http://127.0.0.1.nip.io:8200",
        "http://localhost.example:8200"
      })
  void plainHttpToAnotherHostIsRefusedBecauseTokenAndPasswordWouldTravelInClearText(
      String address) {
    assertThatThrownBy(() -> withAddress(address))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("refusing the Vault address " + address)
        .hasMessageContaining(
            "the Vault token and the PostgreSQL admin password would cross the network in clear"
                + " text")
        .hasMessageContaining("use https");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://127.0.0.1:8200",
        "http://127.20.30.40:8200",
        "http://[::1]:8200",
        "http://localhost:8200",
        "http://LocalHost:8200"
      })
  void plainHttpToALoopbackAddressIsAccepted(String address) {
    assertThat(withAddress(address).vaultAddress()).isEqualTo(URI.create(address));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"https://vault.example:8200", "https://10.0.0.5:8200", "https://[fd00::5]:8200"})
  void httpsIsAcceptedForAnyHost(String address) {
    assertThat(withAddress(address).vaultAddress()).isEqualTo(URI.create(address));
  }

  private static VaultSetupOptions withAddress(String address) {
    return VaultSetupOptions.defaults(
        URI.create(address), Secret.of("s.root-token-value"), "db1", "127.0.0.1", 5432);
  }

  @Test
  void tokenNeverPrints() {
    assertThat(options().toString()).doesNotContain("root-token-value").contains(Secret.MASK);
    assertThat(Secret.of("abc").toString()).isEqualTo(Secret.MASK);
  }

  @Test
  void defaultTtlLongerThanMaxTtlIsRefused() {
    assertThatThrownBy(() -> options(Duration.ofHours(2), Duration.ofHours(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not exceed the max TTL");
    assertThatThrownBy(() -> options(Duration.ofMillis(1500), Duration.ofHours(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("whole number of seconds");
  }

  @Test
  void brokerPolicyCreatesIssuingTokensAndUpdatesLeasesButReadsNoCredentials() {
    String policy = VaultSetup.brokerPolicy("credential-broker-issuer", "database");
    assertThat(policy)
        .contains(
            "path \"auth/token/create/credential-broker-issuer\" {\n  capabilities = [\"update\"]",
            "path \"sys/leases/renew\" {\n  capabilities = [\"update\"]",
            "path \"sys/leases/revoke\"",
            "path \"sys/leases/lookup\"");
    assertThat(policy)
        .doesNotContain("delete", "path \"database/creds/", "\"create\"", "database/config");
  }

  @Test
  void brokerPolicyListsOnlyItsMountsCredentialLeasesWithSudoAndReadsTtlLimits() {
    String policy = VaultSetup.brokerPolicy("credential-broker-issuer", "database");
    assertThat(policy)
        .contains(
            "path \"sys/leases/lookup/database/creds/*\" {\n  capabilities = [\"list\", \"sudo\"]",
            "path \"database/roles/*\" {\n  capabilities = [\"read\"]",
            "path \"sys/mounts/database/tune\" {\n  capabilities = [\"read\"]");
    // sudo on that one path only: Vault's sudo is per path, and listing leases is all it is for.
    assertThat(policy.split("\"sudo\"", -1)).hasSize(2);
  }

  @Test
  void issuingPolicyReadsCredentialsOnly() {
    String policy = VaultSetup.issuingPolicy("database");
    assertThat(policy).contains("path \"database/creds/*\" {\n  capabilities = [\"read\"]");
    assertThat(policy).doesNotContain("sys/", "auth/", "update", "sudo");
  }

  @Test
  void issuingTokenRoleMakesOrphansThatCannotBeRenewedAndDieAtAFixedTime() {
    var role = VaultSetup.desiredIssuingTokenRole(options().broker());
    assertThat(role)
        .containsEntry("allowed_policies", java.util.List.of("credential-broker-issuer"))
        .containsEntry("orphan", true)
        .containsEntry("renewable", false)
        .containsEntry("token_explicit_max_ttl", 48 * 3600L)
        .containsEntry("token_no_default_policy", true);
  }

  @Test
  void issuingTokenShorterThanTwoCredentialTtlsIsRefused() {
    VaultSetupOptions o = options();
    assertThatThrownBy(() -> o.withBroker(o.broker().withIssuingTokenTtl(Duration.ofMinutes(90))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(
            "issuing token TTL (PT1H30M) must be at least twice the credential TTL (PT1H)");
    assertThat(
            o.withBroker(o.broker().withIssuingTokenTtl(Duration.ofHours(2)))
                .broker()
                .issuingTokenTtl())
        .isEqualTo(Duration.ofHours(2));
  }

  @Test
  void issuingTokenShorterThanTwoMaxTtlsIsAllowedWithAWarning() {
    VaultSetupOptions o = options();
    assertThat(o.warnings()).isEmpty();
    assertThat(o.withBroker(o.broker().withIssuingTokenTtl(Duration.ofHours(24))).warnings())
        .singleElement()
        .asString()
        .contains("credentials will be rotated before their Vault token dies");
  }

  @Test
  void brokerRoleBindsServiceAccountNamespaceAndPolicy() {
    var role = VaultSetup.desiredBrokerRole(options().broker().kubernetes(), "credential-broker");
    assertThat(role)
        .containsEntry("bound_service_account_names", java.util.List.of("credential-broker"))
        .containsEntry("bound_service_account_namespaces", java.util.List.of("credbroker"))
        .containsEntry("token_policies", java.util.List.of("credential-broker"))
        .containsEntry("token_ttl", 3600L)
        .doesNotContainKey("audience");
  }
}
