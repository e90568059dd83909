package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What the readiness probe waits for. The chart sets the broker's readiness group itself rather
 * than relying on the jar's: a Vault outage must not take every replica out of the Service
 * (values.yaml, probes.readiness.include, says why).
 */
class ReadinessTest {

  @Test
  void readinessGroupWaitsForTheStateDatabaseButNotForVault() {
    JsonNode config = Chart.render("required.yaml").applicationConfig();

    assertThat(readinessGroup(config))
        .containsExactly("readinessState", "db")
        .doesNotContain("vault");
    assertThat(config.at("/management/endpoint/health/group").has("liveness"))
        .as("liveness stays the broker's own: livenessState only")
        .isFalse();
  }

  @Test
  void probeAsksTheReadinessGroup() {
    JsonNode container =
        Chart.render("required.yaml").single("Deployment").at("/spec/template/spec/containers/0");

    assertThat(container.at("/readinessProbe/httpGet/path").asText())
        .isEqualTo("/actuator/health/readiness");
    assertThat(container.at("/readinessProbe/httpGet/port").asText()).isEqualTo("management");
  }

  @Test
  void anOperatorMayPutVaultBackAndThePodsRoll() {
    RenderedChart before = Chart.render("required.yaml");
    RenderedChart after =
        Chart.render(
            "required.yaml",
            Map.of(
                "probes.readiness.include[0]",
                "readinessState",
                "probes.readiness.include[1]",
                "db",
                "probes.readiness.include[2]",
                "vault"));

    assertThat(readinessGroup(after.applicationConfig()))
        .containsExactly("readinessState", "db", "vault");
    assertThat(checksum(after)).isNotEqualTo(checksum(before));
  }

  @Test
  void extraConfigCannotLoseTheGroupByAccident() {
    JsonNode config =
        Chart.render(
                "required.yaml",
                Map.of("extraConfig.management.endpoint.health.show-details", "always"))
            .applicationConfig();

    assertThat(readinessGroup(config)).containsExactly("readinessState", "db");
    assertThat(config.at("/management/endpoint/health/show-details").asText()).isEqualTo("always");
  }

  @Test
  void schemaRefusesAReadinessGroupWithoutReadinessState() {
    assertThatThrownBy(() -> Chart.template("invalid-readiness.yaml", Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining("include");
  }

  private static List<String> readinessGroup(JsonNode config) {
    String include = config.at("/management/endpoint/health/group/readiness/include").asText();
    return Arrays.stream(include.split(",")).map(String::strip).toList();
  }

  private static String checksum(RenderedChart chart) {
    return chart
        .single("Deployment")
        .at("/spec/template/metadata/annotations/checksum~1config")
        .asText();
  }
}
