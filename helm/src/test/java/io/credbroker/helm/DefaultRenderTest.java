package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chart rendered with its defaults plus only the values it requires (Vault address, state
 * database).
 */
class DefaultRenderTest {

  private static RenderedChart chart;

  @BeforeAll
  static void render() {
    chart = Chart.render("required.yaml");
  }

  @Test
  void rendersTheBrokerObjectsAndTheTestHookAndNoOptionalOnes() {
    assertThat(chart.kinds())
        .containsExactlyInAnyOrder(
            "Deployment",
            "Service",
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "PodDisruptionBudget",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "Pod");
    assertThat(chart.hooks()).containsExactly(chart.single("Pod"));
  }

  @Test
  void namespacedObjectsCarryTheReleaseNamespaceAndFullName() {
    for (String kind :
        List.of("Deployment", "Service", "ServiceAccount", "ConfigMap", "PodDisruptionBudget")) {
      JsonNode object = chart.get(kind, Chart.FULLNAME);
      assertThat(object.at("/metadata/namespace").asText()).as(kind).isEqualTo(Chart.NAMESPACE);
      assertThat(object.at("/metadata/labels/app.kubernetes.io~1instance").asText())
          .as(kind)
          .isEqualTo(Chart.RELEASE);
    }
  }

  @Test
  void deploymentRunsThreeReplicasWithARollingUpdateThatKeepsCapacity() {
    JsonNode spec = deployment().path("spec");

    assertThat(spec.path("replicas").asInt()).isEqualTo(3);
    assertThat(spec.at("/strategy/type").asText()).isEqualTo("RollingUpdate");
    assertThat(spec.at("/strategy/rollingUpdate/maxUnavailable").asInt()).isZero();
    assertThat(spec.at("/strategy/rollingUpdate/maxSurge").asInt()).isEqualTo(1);
    assertThat(spec.at("/selector/matchLabels"))
        .isEqualTo(chart.get("Service", Chart.FULLNAME).at("/spec/selector"));
  }

  @Test
  void podsPreferDifferentNodesAndSpreadOverZones() {
    JsonNode podSpec = deployment().at("/spec/template/spec");

    JsonNode preferred =
        podSpec.at("/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0");
    assertThat(preferred.at("/podAffinityTerm/topologyKey").asText())
        .isEqualTo("kubernetes.io/hostname");
    assertThat(
            preferred
                .at("/podAffinityTerm/labelSelector/matchLabels/app.kubernetes.io~1instance")
                .asText())
        .isEqualTo(Chart.RELEASE);
    assertThat(
            podSpec
                .at("/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution")
                .isMissingNode())
        .isTrue();
    JsonNode spread = podSpec.at("/topologySpreadConstraints/0");
    assertThat(spread.path("topologyKey").asText()).isEqualTo("topology.kubernetes.io/zone");
    assertThat(spread.path("whenUnsatisfiable").asText()).isEqualTo("ScheduleAnyway");
  }

  @Test
  void containerRunsNonRootOnAReadOnlyRootWithoutCapabilities() {
    JsonNode podSpec = deployment().at("/spec/template/spec");
    JsonNode container = broker();

    assertThat(podSpec.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(podSpec.at("/securityContext/seccompProfile/type").asText())
        .isEqualTo("RuntimeDefault");
    assertThat(container.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(container.at("/securityContext/allowPrivilegeEscalation").asBoolean()).isFalse();
    assertThat(texts(container.at("/securityContext/capabilities/drop"))).containsExactly("ALL");
    assertThat(mountPaths(container)).contains("/tmp", "/etc/credential-broker");
    assertThat(container.at("/resources/requests/memory").asText()).isEqualTo("512Mi");
    assertThat(container.at("/resources/limits/memory").asText()).isEqualTo("1Gi");
  }

  @Test
  void containerExposesGrpcAdminAndManagementAndProbesTheActuatorHealthGroupsOnTheManagementPort() {
    JsonNode container = broker();

    assertThat(portsByName(container.path("ports"), "containerPort"))
        .isEqualTo(Map.of("grpc", 9090, "admin", 8443, "management", 8080));
    assertThat(container.at("/livenessProbe/httpGet/path").asText())
        .isEqualTo("/actuator/health/liveness");
    assertThat(container.at("/livenessProbe/httpGet/port").asText()).isEqualTo("management");
    assertThat(container.at("/readinessProbe/httpGet/path").asText())
        .isEqualTo("/actuator/health/readiness");
    assertThat(container.at("/startupProbe/httpGet/path").asText())
        .isEqualTo("/actuator/health/liveness");
    assertThat(
            container.at("/startupProbe/failureThreshold").asInt()
                * container.at("/startupProbe/periodSeconds").asInt())
        .as("seconds a replica may take to start")
        .isGreaterThanOrEqualTo(120);
  }

  @Test
  void podStopsServingNewStreamsBeforeTheBrokerIsToldToStop() {
    JsonNode podSpec = deployment().at("/spec/template/spec");
    JsonNode preStop = broker().at("/lifecycle/preStop");

    // helm template assumes Kubernetes 1.20, so the hook is the exec form; from 1.30 on it is the
    // sleep action.
    assertThat(texts(preStop.at("/exec/command"))).containsExactly("sleep", "10");
    assertThat(podSpec.path("terminationGracePeriodSeconds").asInt())
        .as("grace covers the preStop pause and the gRPC drain")
        .isGreaterThan(10 + 20);
  }

  @Test
  void stateDatabaseComesFromTheChartsSecretAndConfigFromTheConfigMap() {
    JsonNode container = broker();
    String secretName = Chart.FULLNAME + "-database";

    assertThat(chart.get("Secret", secretName).path("data").has("password")).isTrue();
    for (String variable :
        List.of(
            "SPRING_DATASOURCE_URL", "SPRING_DATASOURCE_USERNAME", "SPRING_DATASOURCE_PASSWORD")) {
      assertThat(env(container, variable).at("/valueFrom/secretKeyRef/name").asText())
          .as(variable)
          .isEqualTo(secretName);
    }
    assertThat(env(container, "SPRING_CONFIG_ADDITIONAL_LOCATION").path("value").asText())
        .isEqualTo("file:/etc/credential-broker/");
    JsonNode configVolume = volume("config");
    assertThat(configVolume.at("/configMap/name").asText()).isEqualTo(Chart.FULLNAME);
  }

  @Test
  void podTemplateCarriesChecksumsOfConfigAndSecret() {
    JsonNode annotations = deployment().at("/spec/template/metadata/annotations");

    assertThat(annotations.path("checksum/config").asText()).matches("[0-9a-f]{64}");
    assertThat(annotations.path("checksum/secret").asText()).matches("[0-9a-f]{64}");
  }

  @Test
  void serviceExposesGrpcAndTheAdminApiButNotTheManagementPort() {
    JsonNode ports = chart.get("Service", Chart.FULLNAME).at("/spec/ports");

    assertThat(portsByName(ports, "port")).isEqualTo(Map.of("grpc", 9090, "admin", 8443));
    JsonNode grpc =
        StreamSupport.stream(ports.spliterator(), false)
            .filter(p -> p.path("name").asText().equals("grpc"))
            .findFirst()
            .orElseThrow();
    assertThat(grpc.path("appProtocol").asText()).as("gRPC over TLS").isEqualTo("https");
    assertThat(grpc.path("targetPort").asText()).isEqualTo("grpc");
  }

  @Test
  void brokerServiceAccountIsBoundToAuthDelegator() {
    JsonNode binding = chart.get("ClusterRoleBinding", Chart.FULLNAME + "-auth-delegator");

    assertThat(binding.at("/roleRef/kind").asText()).isEqualTo("ClusterRole");
    assertThat(binding.at("/roleRef/name").asText()).isEqualTo("system:auth-delegator");
    assertThat(binding.at("/subjects/0/kind").asText()).isEqualTo("ServiceAccount");
    assertThat(binding.at("/subjects/0/name").asText())
        .isEqualTo(deployment().at("/spec/template/spec/serviceAccountName").asText())
        .isEqualTo(Chart.FULLNAME);
    assertThat(binding.at("/subjects/0/namespace").asText()).isEqualTo(Chart.NAMESPACE);
  }

  @Test
  void brokerServiceAccountMayGetListAndWatchPodsAndNothingElse() {
    JsonNode role = chart.get("ClusterRole", Chart.FULLNAME + "-pod-reader");
    JsonNode binding = chart.get("ClusterRoleBinding", Chart.FULLNAME + "-pod-reader");

    assertThat(role.path("rules")).hasSize(1);
    assertThat(texts(role.at("/rules/0/apiGroups"))).containsExactly("");
    assertThat(texts(role.at("/rules/0/resources"))).containsExactly("pods");
    assertThat(texts(role.at("/rules/0/verbs"))).containsExactlyInAnyOrder("get", "list", "watch");
    assertThat(binding.at("/roleRef/name").asText()).isEqualTo(Chart.FULLNAME + "-pod-reader");
    assertThat(binding.at("/subjects/0/name").asText())
        .isEqualTo(deployment().at("/spec/template/spec/serviceAccountName").asText());
    assertThat(binding.at("/subjects/0/namespace").asText()).isEqualTo(Chart.NAMESPACE);
  }

  @Test
  void viewerRoleMayOnlyReadCredentialsAndIsAggregatedIntoTheBuiltInRoles() {
    JsonNode viewer = chart.get("ClusterRole", Chart.RELEASE + "-viewer");

    assertThat(viewer.path("rules")).hasSize(1);
    assertThat(texts(viewer.at("/rules/0/apiGroups"))).containsExactly("credbroker.io");
    assertThat(texts(viewer.at("/rules/0/resources"))).containsExactly("credentials");
    assertThat(texts(viewer.at("/rules/0/verbs"))).containsExactlyInAnyOrder("get", "list");
    JsonNode labels = viewer.at("/metadata/labels");
    for (String role : List.of("view", "edit", "admin")) {
      assertThat(labels.path("rbac.authorization.k8s.io/aggregate-to-" + role).asText())
          .as(role)
          .isEqualTo("true");
    }
  }

  @Test
  void revokerRoleMayRevokeCredentialsAndIsAggregatedIntoAdminOnly() {
    JsonNode revoker = chart.get("ClusterRole", Chart.RELEASE + "-revoker");

    assertThat(revoker.path("rules")).hasSize(1);
    assertThat(texts(revoker.at("/rules/0/apiGroups"))).containsExactly("credbroker.io");
    assertThat(texts(revoker.at("/rules/0/resources"))).containsExactly("credentials");
    assertThat(texts(revoker.at("/rules/0/verbs")))
        .containsExactlyInAnyOrder("get", "list", "revoke", "unblock");
    JsonNode labels = revoker.at("/metadata/labels");
    assertThat(labels.path("rbac.authorization.k8s.io/aggregate-to-admin").asText())
        .isEqualTo("true");
    assertThat(labels.has("rbac.authorization.k8s.io/aggregate-to-view")).isFalse();
    assertThat(labels.has("rbac.authorization.k8s.io/aggregate-to-edit")).isFalse();
  }

  @Test
  void disruptionBudgetLetsOneReplicaGoAtATime() {
    JsonNode budget = chart.get("PodDisruptionBudget", Chart.FULLNAME);

    assertThat(budget.at("/spec/maxUnavailable").asInt()).isEqualTo(1);
    assertThat(budget.at("/spec/minAvailable").isMissingNode()).isTrue();
    // Kubernetes' default (IfHealthyBudget): unready replicas that keep leases alive through a
    // state-database outage are not all evicted by one drain (see values.yaml).
    assertThat(budget.at("/spec/unhealthyPodEvictionPolicy").isMissingNode()).isTrue();
    assertThat(budget.at("/spec/selector/matchLabels"))
        .isEqualTo(deployment().at("/spec/selector/matchLabels"));
  }

  private static JsonNode deployment() {
    return chart.get("Deployment", Chart.FULLNAME);
  }

  private static JsonNode broker() {
    JsonNode containers = deployment().at("/spec/template/spec/containers");
    assertThat(containers).hasSize(1);
    return containers.get(0);
  }

  private static JsonNode env(JsonNode container, String name) {
    return StreamSupport.stream(container.path("env").spliterator(), false)
        .filter(e -> e.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no env " + name));
  }

  private static JsonNode volume(String name) {
    return StreamSupport.stream(deployment().at("/spec/template/spec/volumes").spliterator(), false)
        .filter(v -> v.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  private static List<String> mountPaths(JsonNode container) {
    return StreamSupport.stream(container.path("volumeMounts").spliterator(), false)
        .map(m -> m.path("mountPath").asText())
        .toList();
  }

  static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(n -> texts.add(n.asText()));
    return texts;
  }

  static Map<String, Integer> portsByName(JsonNode ports, String field) {
    return StreamSupport.stream(ports.spliterator(), false)
        .collect(
            java.util.stream.Collectors.toMap(
                p -> p.path("name").asText(), p -> p.path(field).asInt()));
  }
}
