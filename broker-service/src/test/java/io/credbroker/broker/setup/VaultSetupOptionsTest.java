package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.setup.VaultSetupOptions.BrokerAccess;
import io.credbroker.broker.setup.VaultSetupOptions.KubernetesAuth;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class VaultSetupOptionsTest {

  static VaultSetupOptions options() {
    return options(Duration.ofHours(1), Duration.ofHours(24));
  }

  static VaultSetupOptions options(Duration ttl, Duration maxTtl) {
    return new VaultSetupOptions(URI.create("http://127.0.0.1:8200"), Secret.of("s.root-token-value"), "database", "db1", "db1",
        "db1", "admin_db1", "db1_grp", "127.0.0.1", 5432, "sslmode=disable", "scram-sha-256", ttl, maxTtl,
        new BrokerAccess("credential-broker", new KubernetesAuth("kubernetes", URI.create("https://127.0.0.1:6443"), null,
            "credential-broker", "credential-broker", "credbroker", null, Duration.ofHours(1), Duration.ofHours(24))));
  }

  @Test
  void connectionUrlLeavesCredentialsToVaultTemplates() {
    assertThat(options().connectionUrl()).isEqualTo("postgresql://{{username}}:{{password}}@127.0.0.1:5432/db1?sslmode=disable");
  }

  @Test
  void tokenNeverPrints() {
    assertThat(options().toString()).doesNotContain("root-token-value").contains(Secret.MASK);
    assertThat(Secret.of("abc").toString()).isEqualTo(Secret.MASK);
  }

  @Test
  void defaultTtlLongerThanMaxTtlIsRefused() {
    assertThatThrownBy(() -> options(Duration.ofHours(2), Duration.ofHours(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not exceed the max TTL");
    assertThatThrownBy(() -> options(Duration.ofMillis(1500), Duration.ofHours(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole number of seconds");
  }

  @Test
  void brokerPolicyAllowsCredsReadAndLeaseUpdatesOnly() {
    String policy = VaultSetup.brokerPolicy("database");
    assertThat(policy).contains("path \"database/creds/*\" {\n  capabilities = [\"read\"]",
        "path \"sys/leases/renew\" {\n  capabilities = [\"update\"]", "path \"sys/leases/revoke\"", "path \"sys/leases/lookup\"");
    assertThat(policy).doesNotContain("sudo", "create", "delete");
  }

  @Test
  void brokerRoleBindsServiceAccountNamespaceAndPolicy() {
    var role = VaultSetup.desiredBrokerRole(options().broker().kubernetes(), "credential-broker");
    assertThat(role).containsEntry("bound_service_account_names", java.util.List.of("credential-broker"))
        .containsEntry("bound_service_account_namespaces", java.util.List.of("credbroker"))
        .containsEntry("token_policies", java.util.List.of("credential-broker"))
        .containsEntry("token_ttl", 3600L)
        .doesNotContainKey("audience");
  }
}
