package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.portsByName;
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
 * The broker's three ports: the gRPC API and the REST admin API for callers, and the actuator on a
 * management port of its own, plain HTTP, for probes and Prometheus. Each port value, all away from
 * their defaults in {@code ports.yaml}, must reach the broker's configuration, the container, the
 * probes, the Service, the ServiceMonitor and the NetworkPolicy alike.
 */
class PortsTest {

  private static RenderedChart chart;
  private static JsonNode container;

  @BeforeAll
  static void render() {
    chart = Chart.render("ports.yaml");
    container = chart.single("Deployment").at("/spec/template/spec/containers/0");
  }

  @Test
  void eachPortIsTheOneTheBrokerListensOn() {
    JsonNode config = chart.applicationConfig();

    assertThat(config.at("/credbroker/grpc/port").asInt()).isEqualTo(7443);
    assertThat(config.at("/server/port").asInt()).isEqualTo(9443);
    assertThat(config.at("/management/server/port").asInt()).isEqualTo(9080);
  }

  @Test
  void containerNamesEachPort() {
    assertThat(portsByName(container.path("ports"), "containerPort"))
        .isEqualTo(Map.of("grpc", 7443, "admin", 9443, "management", 9080));
  }

  @Test
  void everyProbeAsksTheManagementPortOverPlainHttp() {
    for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
      JsonNode get = container.path(probe).path("httpGet");
      assertThat(get.path("port").asText()).as(probe).isEqualTo("management");
      assertThat(get.path("scheme").asText()).as(probe).isEqualTo("HTTP");
    }
  }

  @Test
  void serviceExposesTheManagementPortOnlyForTheServiceMonitor() {
    JsonNode ports = chart.get("Service", Chart.FULLNAME).at("/spec/ports");
    JsonNode withoutMonitor =
        Chart.render("ports.yaml", Map.of("serviceMonitor.enabled", false))
            .get("Service", Chart.FULLNAME)
            .at("/spec/ports");

    assertThat(portsByName(ports, "port"))
        .isEqualTo(Map.of("grpc", 7443, "admin", 9443, "management", 9080));
    assertThat(portsByName(withoutMonitor, "port")).isEqualTo(Map.of("grpc", 7443, "admin", 9443));
    for (JsonNode port : ports) {
      assertThat(port.path("targetPort").asText())
          .as("targets the container port by name")
          .isEqualTo(port.path("name").asText());
    }
  }

  @Test
  void serviceMonitorScrapesTheManagementPortOverPlainHttp() {
    JsonNode endpoint = chart.single("ServiceMonitor").at("/spec/endpoints/0");

    assertThat(endpoint.path("port").asText()).isEqualTo("management");
    assertThat(endpoint.path("scheme").asText()).isEqualTo("http");
    assertThat(endpoint.path("path").asText()).isEqualTo("/actuator/prometheus");
  }

  @Test
  void networkPolicyAdmitsEachPortFromItsOwnPeers() {
    JsonNode ingress = chart.single("NetworkPolicy").at("/spec/ingress");

    assertThat(ingress).hasSize(3);
    assertThat(peerNamespaceLabel(ingress, "grpc", "credbroker.io/clients")).isEqualTo("true");
    assertThat(peerNamespaceLabel(ingress, "admin", "kubernetes.io/metadata.name"))
        .isEqualTo("ops");
    assertThat(peerNamespaceLabel(ingress, "management", "kubernetes.io/metadata.name"))
        .isEqualTo("monitoring");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "Additional property http is not allowed",
        "Additional property httpFrom is not allowed"
      })
  void theFormerSharedHttpPortIsRefusedRatherThanIgnored(String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template("invalid-ports.yaml", Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining(expectedInMessage);
  }

  @Test
  void twoAPIsOnOnePortAreRefusedWithAllThreePorts() {
    assertThatThrownBy(
            () -> Chart.template("required.yaml", Map.of("ports.management", 8443)).call())
        .hasMessageContaining(
            "ports.grpc (9090), ports.admin (8443) and ports.management (8443) must be three different ports");
  }

  private static JsonNode rule(JsonNode ingress, String port) {
    return StreamSupport.stream(ingress.spliterator(), false)
        .filter(r -> r.at("/ports/0/port").asText().equals(port))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("no ingress rule for port " + port + " in " + ingress));
  }

  /**
   * The label of the one namespace peer of a port (the gRPC port also admits the `helm test` Pod).
   */
  private static String peerNamespaceLabel(JsonNode ingress, String port, String label) {
    List<JsonNode> namespaces =
        StreamSupport.stream(rule(ingress, port).path("from").spliterator(), false)
            .filter(peer -> peer.has("namespaceSelector"))
            .toList();
    assertThat(namespaces).as("namespace peers of %s", port).hasSize(1);
    return namespaces.get(0).at("/namespaceSelector/matchLabels").path(label).asText();
  }
}
