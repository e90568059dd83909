package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The broker's application.yaml as the ConfigMap carries it: it must parse, and hold exactly the
 * property names the broker binds ({@code credbroker.*} in broker-service's {@code
 * BrokerProperties}, Spring Cloud Vault's {@code spring.cloud.vault.*}).
 */
class ApplicationConfigTest {

  private static JsonNode config;

  @BeforeAll
  static void render() {
    config = Chart.render("bindings.yaml").applicationConfig();
  }

  @Test
  void bindingsFromValuesBecomeTheBrokersBindingList() {
    JsonNode bindings = config.at("/credbroker/bindings");

    assertThat(bindings).hasSize(2);
    JsonNode db1 = bindings.get(0);
    assertThat(db1.path("database-role").asText()).isEqualTo("db1");
    assertThat(db1.path("vault-mount").asText()).isEqualTo("database");
    assertThat(db1.path("vault-role").asText()).isEqualTo("db1-app");
    assertThat(texts(db1.path("namespaces"))).containsExactly("payments", "billing");
    assertThat(texts(db1.path("service-accounts"))).containsExactly("api");
    assertThat(db1.at("/connection/host").asText()).isEqualTo("db1.postgres.svc");
    assertThat(db1.at("/connection/port").asInt()).isEqualTo(5433);
    assertThat(db1.at("/connection/database").asText()).isEqualTo("db1");
    assertThat(db1.at("/connection/sslmode").asText()).isEqualTo("verify-full");
  }

  @Test
  void bindingWithoutMountPortOrSslmodeGetsTheDefaultMountAndPortAndVerifiesTheDatabase() {
    JsonNode reporting = config.at("/credbroker/bindings/1");

    assertThat(reporting.path("database-role").asText()).isEqualTo("reporting");
    assertThat(reporting.path("vault-mount").asText()).isEqualTo("database");
    assertThat(reporting.at("/connection/port").asInt()).isEqualTo(5432);
    assertThat(reporting.at("/connection/sslmode").asText())
        .as("checks the certificate and host name")
        .isEqualTo("verify-full");
    assertThat(texts(reporting.path("service-accounts"))).containsExactly("dashboards", "exporter");
  }

  @Test
  void kubernetesSettingsUseTheBrokersPropertyNames() {
    JsonNode kubernetes = config.at("/credbroker/kubernetes");

    assertThat(kubernetes.path("audience").asText()).isEqualTo("credbroker-prod");
    assertThat(kubernetes.path("cache-max-ttl").asText()).isEqualTo("2m");
    assertThat(kubernetes.path("allow-unbound-tokens").isBoolean()).isTrue();
    assertThat(kubernetes.path("allow-unbound-tokens").asBoolean()).isFalse();
    assertThat(kubernetes.path("max-concurrent-requests").asInt()).isEqualTo(256);
    // In a pod the broker uses the in-cluster configuration; a kubeconfig path would point nowhere.
    assertThat(kubernetes.has("kubeconfig")).isFalse();
    assertThat(config.at("/credbroker/grpc/port").asInt()).isEqualTo(9090);
    assertThat(config.at("/server/port").asInt()).isEqualTo(8443);
    assertThat(config.at("/management/server/port").asInt()).isEqualTo(8080);
  }

  @Test
  void brokerLogsInToVaultWithItsServiceAccount() {
    JsonNode vault = config.at("/spring/cloud/vault");

    assertThat(vault.path("uri").asText()).isEqualTo("https://vault.vault.svc:8200");
    assertThat(vault.path("authentication").asText()).isEqualTo("KUBERNETES");
    assertThat(vault.at("/kubernetes/role").asText()).isEqualTo("broker");
    assertThat(vault.at("/kubernetes/kubernetes-path").asText()).isEqualTo("k8s-prod");
    assertThat(vault.at("/kubernetes/service-account-token-file").asText())
        .isEqualTo("/var/run/secrets/kubernetes.io/serviceaccount/token");
    assertThat(vault.path("namespace").asText()).isEqualTo("platform");
    assertThat(vault.has("token")).as("no Vault token in a ConfigMap").isFalse();
  }

  @Test
  void vaultTimeoutsAreWrittenAsTheMillisecondsSpringCloudVaultExpects() {
    JsonNode vault = config.at("/spring/cloud/vault");

    assertThat(vault.path("connection-timeout").isInt()).isTrue();
    assertThat(vault.path("connection-timeout").asInt()).isEqualTo(1500);
    assertThat(vault.path("read-timeout").asInt()).isEqualTo(60_000);
  }

  @Test
  void vaultCaSecretIsMountedAndUsedAsPemTrustStore() {
    JsonNode ssl = config.at("/spring/cloud/vault/ssl");
    RenderedChart chart = Chart.render("bindings.yaml");
    JsonNode podSpec = chart.single("Deployment").at("/spec/template/spec");

    assertThat(ssl.path("trust-store").asText())
        .isEqualTo("file:/etc/credential-broker-vault-ca/ca.crt");
    assertThat(ssl.path("trust-store-type").asText()).isEqualTo("PEM");
    assertThat(podSpec.findValuesAsText("secretName")).contains("vault-ca");
    assertThat(podSpec.findValuesAsText("mountPath")).contains("/etc/credential-broker-vault-ca");
  }

  @Test
  void extraConfigIsMergedWithoutDroppingGeneratedProperties() {
    assertThat(config.at("/resilience4j/bulkhead/instances/vault/max-concurrent-calls").asInt())
        .isEqualTo(512);
    assertThat(config.at("/credbroker/bindings")).hasSize(2);
  }

  @Test
  void configHoldsNoDatabasePassword() {
    assertThat(config.at("/spring/datasource").has("password")).isFalse();
    assertThat(config.at("/spring/datasource/hikari/maximum-pool-size").asInt()).isEqualTo(10);
  }

  @Test
  void shutdownSettingsLetStreamsDrainWithinThePodsGracePeriod() {
    assertThat(config.at("/spring/grpc/server/shutdown-grace-period").asText()).isEqualTo("20s");
    assertThat(config.at("/spring/lifecycle/timeout-per-shutdown-phase").asText()).isEqualTo("25s");
  }
}
