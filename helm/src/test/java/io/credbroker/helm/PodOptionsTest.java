package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The options of the broker's Deployment, pods and Services that are not broker settings
 * (annotations, labels, scheduling, extra volumes and environment), all set at once in {@code
 * pod-options.yaml}: each lands where Kubernetes reads it, next to what the chart renders itself
 * rather than instead of it.
 */
class PodOptionsTest {

  private static RenderedChart chart;
  private static JsonNode deployment;
  private static JsonNode podSpec;
  private static JsonNode container;

  @BeforeAll
  static void render() {
    chart = Chart.render("pod-options.yaml");
    deployment = chart.get("Deployment", Chart.FULLNAME);
    podSpec = deployment.at("/spec/template/spec");
    container = podSpec.at("/containers/0");
  }

  @Test
  void deploymentAnnotationsAreOnTheDeploymentAndPodAnnotationsOnItsPods() {
    assertThat(deployment.at("/metadata/annotations/reloader.example~1auto").asText())
        .isEqualTo("true");
    assertThat(deployment.at("/spec/template/metadata/annotations").has("reloader.example/auto"))
        .isFalse();
    JsonNode podAnnotations = deployment.at("/spec/template/metadata/annotations");
    assertThat(podAnnotations.path("prometheus.io/scrape").asText()).isEqualTo("false");
    assertThat(podAnnotations.has("checksum/config"))
        .as("the chart's own annotations stay")
        .isTrue();
  }

  @Test
  void podLabelsAreAddedWithoutTouchingTheSelector() {
    assertThat(deployment.at("/spec/template/metadata/labels/team").asText()).isEqualTo("platform");
    assertThat(deployment.at("/spec/selector/matchLabels").has("team")).isFalse();
    assertThat(chart.get("Service", Chart.FULLNAME).at("/spec/selector").has("team")).isFalse();
  }

  @Test
  void serviceAndServiceAccountCarryTheirAnnotations() {
    assertThat(
            chart
                .get("Service", Chart.FULLNAME)
                .at("/metadata/annotations/networking.example~1internal")
                .asText())
        .isEqualTo("true");
    assertThat(
            chart
                .get("ServiceAccount", Chart.FULLNAME)
                .at("/metadata/annotations/iam.example~1role")
                .asText())
        .isEqualTo("credential-broker");
  }

  @Test
  void schedulingOptionsReachThePodSpec() {
    assertThat(podSpec.path("priorityClassName").asText()).isEqualTo("platform-critical");
    assertThat(podSpec.at("/nodeSelector/kubernetes.io~1os").asText()).isEqualTo("linux");
    assertThat(podSpec.at("/tolerations/0/key").asText()).isEqualTo("dedicated");
    assertThat(podSpec.at("/tolerations/0/effect").asText()).isEqualTo("NoSchedule");
    assertThat(podSpec.at("/imagePullSecrets").findValuesAsText("name"))
        .containsExactly("registry-pull");
  }

  @Test
  void spreadConstraintsReplaceTheDefaultAndGetTheBrokersSelectorUnlessTheyHaveOne() {
    JsonNode constraints = podSpec.path("topologySpreadConstraints");

    assertThat(constraints).hasSize(2);
    JsonNode hosts = constraints.get(0);
    assertThat(hosts.path("topologyKey").asText()).isEqualTo("kubernetes.io/hostname");
    assertThat(hosts.path("whenUnsatisfiable").asText()).isEqualTo("DoNotSchedule");
    assertThat(hosts.at("/labelSelector/matchLabels"))
        .isEqualTo(deployment.at("/spec/selector/matchLabels"));
    JsonNode zones = constraints.get(1);
    assertThat(zones.path("maxSkew").asInt()).isEqualTo(2);
    assertThat(zones.at("/labelSelector/matchLabels/app.kubernetes.io~1part-of").asText())
        .isEqualTo("credential-broker");
    assertThat(zones.at("/labelSelector/matchLabels").size()).isEqualTo(1);
  }

  @Test
  void noSpreadConstraintIsRenderedWhenTheListIsEmpty() {
    JsonNode spec =
        Chart.render("no-topology-spread.yaml").single("Deployment").at("/spec/template/spec");

    assertThat(spec.has("topologySpreadConstraints")).isFalse();
    assertThat(spec.at("/affinity/podAntiAffinity").isObject())
        .as("replicas still prefer different nodes")
        .isTrue();
  }

  @Test
  void extraVolumesAreMountedNextToTheChartsOwn() {
    assertThat(names(podSpec.path("volumes")))
        .containsExactly("config", "tmp", "tls", "logback", "heap-dumps");
    assertThat(volume("logback").at("/configMap/name").asText()).isEqualTo("broker-logback");
    assertThat(volume("heap-dumps").at("/emptyDir/sizeLimit").asText()).isEqualTo("2Gi");
    JsonNode mounts = container.path("volumeMounts");
    assertThat(mounts.findValuesAsText("mountPath"))
        .containsExactly(
            "/etc/credential-broker",
            "/tmp",
            "/etc/credbroker/tls",
            "/etc/credential-broker-logback",
            "/var/dumps");
    assertThat(mounts.get(3).path("readOnly").asBoolean()).isTrue();
  }

  @Test
  void extraEnvFollowsTheChartsOwnVariablesAndEnvFromIsAdded() {
    List<String> names = names(container.path("env"));

    assertThat(names)
        .startsWith("SPRING_CONFIG_ADDITIONAL_LOCATION")
        .endsWith("LOGGING_LEVEL_IO_CREDBROKER");
    assertThat(names).contains("SPRING_DATASOURCE_PASSWORD", "JAVA_TOOL_OPTIONS");
    assertThat(container.at("/envFrom/0/configMapRef/name").asText()).isEqualTo("broker-extra-env");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"deploymentAnnotations", "mountPath", "whenUnsatisfiable"})
  void schemaRejectsMalformedOptions(String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template("invalid-pod-options.yaml", Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining(expectedInMessage);
  }

  private static JsonNode volume(String name) {
    return StreamSupport.stream(podSpec.path("volumes").spliterator(), false)
        .filter(v -> v.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  /** The names of a list's items (not the names nested in them, such as a secretKeyRef's). */
  private static List<String> names(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false)
        .map(item -> item.path("name").asText())
        .toList();
  }
}
