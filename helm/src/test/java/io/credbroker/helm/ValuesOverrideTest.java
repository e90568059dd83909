package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ValuesOverrideTest {

  @Test
  void replicaCountChangesTheDeployment() {
    RenderedChart chart = Chart.render("required.yaml", Map.of("replicaCount", 5));

    assertThat(chart.single("Deployment").at("/spec/replicas").asInt()).isEqualTo(5);
  }

  @Test
  void existingSecretReplacesTheChartsSecretAndItsChecksum() {
    RenderedChart chart = Chart.render("bindings.yaml");
    JsonNode deployment = chart.single("Deployment");

    assertThat(chart.ofKind("Secret")).isEmpty();
    assertThat(deployment.at("/spec/template/metadata/annotations").has("checksum/secret"))
        .isFalse();
    assertThat(deployment.at("/spec/template/spec/containers/0/env").findValuesAsText("name"))
        .contains("broker-state-db")
        .doesNotContain(Chart.FULLNAME + "-database");
  }

  @Test
  void existingSecretKeysAreConfigurable() {
    RenderedChart chart =
        Chart.render("bindings.yaml", Map.of("database.secretKeys.password", "pgpass"));

    JsonNode env = chart.single("Deployment").at("/spec/template/spec/containers/0/env");
    assertThat(env.findValuesAsText("key")).contains("pgpass").doesNotContain("password");
  }

  @Test
  void serviceMonitorScrapesThePrometheusEndpointWhenEnabled() {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of("serviceMonitor.enabled", true, "serviceMonitor.labels.release", "kps"));
    JsonNode monitor = chart.get("ServiceMonitor", Chart.FULLNAME);

    assertThat(monitor.path("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    assertThat(monitor.at("/metadata/labels/release").asText()).isEqualTo("kps");
    assertThat(monitor.at("/spec/endpoints/0/port").asText()).isEqualTo("management");
    assertThat(monitor.at("/spec/endpoints/0/scheme").asText()).isEqualTo("http");
    assertThat(monitor.at("/spec/endpoints/0/path").asText()).isEqualTo("/actuator/prometheus");
    assertThat(monitor.at("/spec/selector/matchLabels"))
        .isEqualTo(chart.get("Service", Chart.FULLNAME).at("/spec/selector"));
  }

  @Test
  void networkPolicyAdmitsOnlyTheBrokersPortsWhenEnabled() {
    RenderedChart chart = Chart.render("required.yaml", Map.of("networkPolicy.enabled", true));
    JsonNode policy = chart.get("NetworkPolicy", Chart.FULLNAME);

    assertThat(texts(policy.at("/spec/policyTypes"))).containsExactly("Ingress");
    assertThat(policy.at("/spec/podSelector/matchLabels"))
        .isEqualTo(chart.single("Deployment").at("/spec/selector/matchLabels"));
    assertThat(policy.at("/spec/ingress").findValuesAsText("port"))
        .containsExactlyInAnyOrder("grpc", "admin", "management");
    assertThat(policy.at("/spec/ingress/0/from/0/namespaceSelector").isObject()).isTrue();
  }

  @Test
  void networkPolicyRestrictsEgressOnlyWhenRulesAreGiven() {
    RenderedChart chart = Chart.render("egress.yaml");
    JsonNode policy = chart.get("NetworkPolicy", Chart.FULLNAME);

    assertThat(texts(policy.at("/spec/policyTypes"))).containsExactly("Ingress", "Egress");
    assertThat(policy.at("/spec/egress/0/ports/0/port").asInt()).isEqualTo(53);
  }

  @Test
  void headlessServiceIsAddedForClientSideBalancing() {
    RenderedChart chart = Chart.render("required.yaml", Map.of("headlessService.enabled", true));
    JsonNode headless = chart.get("Service", Chart.FULLNAME + "-headless");

    assertThat(headless.at("/spec/clusterIP").asText()).isEqualTo("None");
    assertThat(headless.at("/spec/ports/0/appProtocol").asText())
        .as("gRPC over TLS")
        .isEqualTo("https");
    assertThat(chart.ofKind("Service")).hasSize(2);
  }

  @Test
  void explicitAffinityReplacesTheDefaultAntiAffinity() {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of(
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key",
                "pool",
                "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
                "Exists"));
    JsonNode affinity = chart.single("Deployment").at("/spec/template/spec/affinity");

    assertThat(affinity.has("podAntiAffinity")).isFalse();
    assertThat(affinity.findValuesAsText("key")).containsExactly("pool");
  }

  @Test
  void configChangeChangesTheChecksumSoPodsRoll() {
    String before = configChecksum(Chart.render("required.yaml"));
    String after =
        configChecksum(Chart.render("required.yaml", Map.of("kubernetes.audience", "another")));

    assertThat(after).isNotEqualTo(before);
  }

  @Test
  void disabledRbacAndServiceAccountRenderNoneAndUseTheNamedAccount() {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of(
                "rbac.create",
                false,
                "serviceAccount.create",
                false,
                "serviceAccount.name",
                "broker"));

    assertThat(chart.kinds()).doesNotContain("ClusterRole", "ClusterRoleBinding", "ServiceAccount");
    assertThat(chart.single("Deployment").at("/spec/template/spec/serviceAccountName").asText())
        .isEqualTo("broker");
  }

  @Test
  void withoutThePodWatchTheBrokerMayGetPodsButNotListOrWatchTheCluster() {
    RenderedChart chart =
        Chart.render("required.yaml", Map.of("kubernetes.podWatch.enabled", false));
    JsonNode role = chart.get("ClusterRole", Chart.FULLNAME + "-pod-reader");

    assertThat(chart.applicationConfig().at("/credbroker/kubernetes/pod-watch/enabled").asBoolean())
        .isFalse();
    assertThat(role.path("rules")).hasSize(1);
    assertThat(texts(role.at("/rules/0/resources"))).containsExactly("pods");
    assertThat(texts(role.at("/rules/0/verbs")))
        .as(
            "the revocation of a pod that has not asked yet looks it up by name; nothing lists pods")
        .containsExactly("get");
  }

  @Test
  void revokerSubjectsGetAClusterWideBinding() {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of(
                "rbac.revoker.clusterWideSubjects[0].kind", "Group",
                "rbac.revoker.clusterWideSubjects[0].name", "ops/sre",
                "rbac.revoker.clusterWideSubjects[0].apiGroup", "rbac.authorization.k8s.io"));
    JsonNode binding = chart.get("ClusterRoleBinding", Chart.RELEASE + "-revoker");

    assertThat(binding.at("/roleRef/name").asText()).isEqualTo(Chart.RELEASE + "-revoker");
    assertThat(binding.at("/subjects/0/name").asText()).isEqualTo("ops/sre");
  }

  @Test
  void minAvailableReplacesMaxUnavailableInTheDisruptionBudget() {
    RenderedChart chart =
        Chart.render("required.yaml", Map.of("podDisruptionBudget.minAvailable", 2));
    JsonNode spec = chart.single("PodDisruptionBudget").path("spec");

    assertThat(spec.path("minAvailable").asInt()).isEqualTo(2);
    assertThat(spec.has("maxUnavailable")).isFalse();
  }

  @Test
  void disablingProbesAndPreStopRemovesThem() {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of("probes.startup.enabled", false, "shutdown.preStopSleepSeconds", 0));
    JsonNode container = chart.single("Deployment").at("/spec/template/spec/containers/0");

    assertThat(container.has("startupProbe")).isFalse();
    assertThat(container.has("lifecycle")).isFalse();
    assertThat(container.has("livenessProbe")).isTrue();
  }

  private static String configChecksum(RenderedChart chart) {
    return chart
        .single("Deployment")
        .at("/spec/template/metadata/annotations/checksum~1config")
        .asText();
  }

  @Test
  void imageTagDefaultsToTheAppVersionAndCanBeOverridden() {
    assertThat(image(Chart.render("required.yaml"))).isEqualTo("credential-broker:0.1.0");
    assertThat(
            image(
                Chart.render(
                    "required.yaml",
                    Map.of("image.repository", "registry.example/cb", "image.tag", "1.2.3"))))
        .isEqualTo("registry.example/cb:1.2.3");
  }

  @Test
  void imageRegistryIsPrefixedAndADigestPinsTheImageInsteadOfTheTag() {
    String digest = "sha256:" + "0123456789abcdef".repeat(4);

    assertThat(
            image(Chart.render("required.yaml", Map.of("image.registry", "registry.example:5000"))))
        .isEqualTo("registry.example:5000/credential-broker:0.1.0");
    assertThat(
            image(
                Chart.render(
                    "required.yaml",
                    Map.of(
                        "image.registry",
                        "registry.example",
                        "image.tag",
                        "1.2.3",
                        "image.digest",
                        digest))))
        .isEqualTo("registry.example/credential-broker@" + digest);
  }

  private static String image(RenderedChart chart) {
    List<String> images = chart.single("Deployment").findValuesAsText("image");
    assertThat(images).hasSize(1);
    return images.get(0);
  }
}
