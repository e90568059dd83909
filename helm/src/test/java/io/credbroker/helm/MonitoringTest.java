package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The alerts (PrometheusRule) and the Grafana dashboard (ConfigMap): off by default, one value
 * away, and exactly the rule file and dashboard that the broker's OperationsIT checks against a
 * running broker.
 */
class MonitoringTest {

  private static final Path RULES = Chart.source().resolve("files/prometheus-rules.yaml");
  private static final Path DASHBOARD = Chart.source().resolve("files/grafana-dashboard.json");
  private static final Path RUNBOOK = Chart.source().resolve("../../docs/runbook.md").normalize();
  private static final String DASHBOARD_CONFIGMAP = Chart.FULLNAME + "-dashboard";

  @Test
  void neitherAlertsNorDashboardAreRenderedByDefault() {
    RenderedChart chart = Chart.render("required.yaml");

    assertThat(chart.ofKind("PrometheusRule")).isEmpty();
    assertThat(chart.find("ConfigMap", DASHBOARD_CONFIGMAP)).isEmpty();
  }

  @Test
  void prometheusRuleShipsEveryAlertOfTheRuleFileUnchanged() throws IOException {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of("prometheusRule.enabled", true, "prometheusRule.labels.release", "kps"));
    JsonNode rule = chart.get("PrometheusRule", Chart.FULLNAME);
    JsonNode file = RenderedChart.YAML.readTree(RULES.toFile());

    assertThat(rule.path("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    assertThat(rule.at("/metadata/namespace").asText()).isEqualTo(Chart.NAMESPACE);
    assertThat(rule.at("/metadata/labels/release").asText()).isEqualTo("kps");
    assertThat(rule.at("/metadata/labels/app.kubernetes.io~1name").asText())
        .isEqualTo("credential-broker");
    List<JsonNode> rendered = rules(rule.at("/spec"));
    List<JsonNode> original = rules(file);
    assertThat(rendered).hasSameSizeAs(original).hasSizeGreaterThanOrEqualTo(10);
    for (int i = 0; i < original.size(); i++) {
      JsonNode want = original.get(i);
      JsonNode got = rendered.get(i);
      assertThat(got.path("alert")).isEqualTo(want.path("alert"));
      assertThat(got.path("expr")).isEqualTo(want.path("expr"));
      assertThat(got.path("for")).isEqualTo(want.path("for"));
      assertThat(got.path("labels")).isEqualTo(want.path("labels"));
      assertThat(got.at("/annotations/summary")).isEqualTo(want.at("/annotations/summary"));
      // Prometheus' own templates reach Prometheus untouched by Helm.
      assertThat(got.at("/annotations/description")).isEqualTo(want.at("/annotations/description"));
    }
    assertThat(texts(rendered, "alert")).containsAll(AlertRulesTest.PROMISED_ALERTS);
  }

  @Test
  void everyAlertLinksToItsRunbookSectionOnTheBrokerUnlessARunbookUrlIsGiven() throws IOException {
    List<JsonNode> served =
        rules(
            Chart.render("required.yaml", Map.of("prometheusRule.enabled", true))
                .get("PrometheusRule", Chart.FULLNAME)
                .at("/spec"));
    List<JsonNode> hosted =
        rules(
            Chart.render(
                    "required.yaml",
                    Map.of(
                        "prometheusRule.enabled",
                        true,
                        "prometheusRule.runbookUrl",
                        "https://docs.example/runbook"))
                .get("PrometheusRule", Chart.FULLNAME)
                .at("/spec"));
    Set<String> anchors = runbookAnchors();

    for (int i = 0; i < served.size(); i++) {
      String anchor = "alert-" + served.get(i).path("alert").asText().toLowerCase(Locale.ROOT);
      assertThat(served.get(i).at("/annotations/runbook_url").asText())
          .isEqualTo(
              "https://" + Chart.FULLNAME + "." + Chart.NAMESPACE + ".svc:8443/runbook#" + anchor);
      assertThat(hosted.get(i).at("/annotations/runbook_url").asText())
          .isEqualTo("https://docs.example/runbook#" + anchor);
      assertThat(anchors).as("a section of docs/runbook.md for %s", anchor).contains(anchor);
    }
  }

  @Test
  void ruleLabelsReachEveryAlertWithoutReplacingItsSeverity() {
    List<JsonNode> rendered =
        rules(
            Chart.render(
                    "required.yaml",
                    Map.of(
                        "prometheusRule.enabled", true,
                        "prometheusRule.ruleLabels.team", "databases",
                        "prometheusRule.ruleLabels.severity", "page"))
                .get("PrometheusRule", Chart.FULLNAME)
                .at("/spec"));

    assertThat(rendered)
        .allSatisfy(
            alert -> {
              assertThat(alert.at("/labels/team").asText()).isEqualTo("databases");
              assertThat(alert.at("/labels/severity").asText()).isIn("warning", "critical");
            });
  }

  @Test
  void dashboardConfigMapCarriesTheSidecarLabelAndTheDashboard() throws IOException {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of(
                "grafanaDashboard.enabled",
                true,
                "grafanaDashboard.annotations.grafana_folder",
                "Databases"));
    JsonNode configMap = chart.get("ConfigMap", DASHBOARD_CONFIGMAP);

    assertThat(configMap.at("/metadata/namespace").asText()).isEqualTo(Chart.NAMESPACE);
    assertThat(configMap.at("/metadata/labels/grafana_dashboard").asText()).isEqualTo("1");
    assertThat(configMap.at("/metadata/annotations/grafana_folder").asText())
        .isEqualTo("Databases");
    JsonNode dashboard =
        new ObjectMapper().readTree(configMap.at("/data/credential-broker.json").asText());
    assertThat(dashboard).isEqualTo(new ObjectMapper().readTree(DASHBOARD.toFile()));
    assertThat(dashboard.path("uid").asText()).isEqualTo("credential-broker");
    assertThat(dashboard.path("panels").findValuesAsText("expr")).hasSizeGreaterThanOrEqualTo(15);
  }

  @Test
  void dashboardLabelsAndNamespaceAreConfigurable() {
    RenderedChart chart =
        Chart.render(
            "required.yaml",
            Map.of(
                "grafanaDashboard.enabled", true,
                "grafanaDashboard.labels.grafana_dashboard", "credbroker",
                "grafanaDashboard.namespace", "monitoring"));
    JsonNode configMap = chart.get("ConfigMap", DASHBOARD_CONFIGMAP);

    assertThat(configMap.at("/metadata/labels/grafana_dashboard").asText()).isEqualTo("credbroker");
    assertThat(configMap.at("/metadata/namespace").asText()).isEqualTo("monitoring");
  }

  @Test
  void schemaRefusesAMisspelledMonitoringKey() {
    assertThatThrownBy(
            () -> Chart.template("required.yaml", Map.of("prometheusRule.enable", true)).call())
        .hasMessageContaining("schema")
        .hasMessageContaining("enable");
    assertThatThrownBy(
            () ->
                Chart.template("required.yaml", Map.of("prometheusRule.runbookUrl", "docs")).call())
        .hasMessageContaining("schema")
        .hasMessageContaining("runbookUrl");
  }

  private static List<JsonNode> rules(JsonNode spec) {
    List<JsonNode> rules = new ArrayList<>();
    spec.path("groups").forEach(group -> group.path("rules").forEach(rules::add));
    return rules;
  }

  private static List<String> texts(List<JsonNode> nodes, String field) {
    return nodes.stream().map(n -> n.path(field).asText()).toList();
  }

  /** The anchors GitHub derives from the runbook's headings (lower case, spaces to dashes). */
  private static Set<String> runbookAnchors() throws IOException {
    Set<String> anchors = new HashSet<>();
    for (String line : Files.readAllLines(RUNBOOK)) {
      if (line.startsWith("#")) {
        String heading = line.replaceFirst("^#+\\s*", "").trim().toLowerCase(Locale.ROOT);
        anchors.add(heading.replaceAll("[^a-z0-9 _-]", "").replace(' ', '-'));
      }
    }
    return anchors;
  }
}
