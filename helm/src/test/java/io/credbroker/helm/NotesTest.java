package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * NOTES.txt, shown after install: it must tell a pod owner how to present a token the broker
 * accepts.
 */
class NotesTest {

  @Test
  void notesShowAProjectedTokenVolumeWithTheConfiguredAudience() throws IOException {
    String notes = Chart.installOutput("bindings.yaml");

    JsonNode podSpec =
        RenderedChart.YAML
            .readTree(indentedBlockAfter(notes, "Add a projected volume to the pod:"))
            .path("spec");
    JsonNode token = podSpec.at("/volumes/0/projected/sources/0/serviceAccountToken");
    assertThat(token.path("audience").asText()).isEqualTo("credbroker-prod");
    assertThat(token.path("path").asText()).isEqualTo("token");
    assertThat(podSpec.at("/containers/0/volumeMounts/0/mountPath").asText())
        .as("the directory the client SDK reads its token from by default")
        .isEqualTo("/var/run/secrets/credbroker");
    assertThat(podSpec.at("/containers/0/volumeMounts/0/name").asText())
        .isEqualTo(podSpec.at("/volumes/0/name").asText());
  }

  @Test
  void notesNameTheServiceAddressBindingsAndAdminRoles() {
    String notes = Chart.installOutput("bindings.yaml");

    assertThat(notes)
        .contains(Chart.FULLNAME + "." + Chart.NAMESPACE + ".svc:9090")
        .contains("db1  (Vault database/creds/db1-app)")
        .contains("--clusterrole=" + Chart.RELEASE + "-revoker")
        .doesNotContain("WARNING");
  }

  @Test
  void notesNameTheVaultRolesTheSetupCommandMustWriteWhenTheChartDoesNotRunIt() {
    String notes = Chart.installOutput("bindings.yaml");

    assertThat(notes)
        .contains("Kubernetes auth role \"broker\" at auth/k8s-prod")
        .contains("token role \"credential-broker-issuer\"")
        .contains("setup.enabled");
  }

  @Test
  void notesSayTheSetupJobRanWhenItIsEnabled() {
    String notes = Chart.installOutput("setup.yaml");

    assertThat(notes)
        .contains("the setup Job " + Chart.FULLNAME + "-setup set up Vault and the target")
        .contains("database db1. It runs again before every upgrade.")
        .doesNotContain("setup.enabled");
  }

  @Test
  void notesWarnWhenNoBindingIsConfigured() {
    assertThat(Chart.installOutput("required.yaml"))
        .contains("WARNING: no bindings are configured");
  }

  /**
   * The lines indented by at least five spaces that follow the marker line, up to the first blank
   * line.
   */
  private static String indentedBlockAfter(String text, String marker) {
    List<String> lines = text.lines().toList();
    int start = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(marker)) {
        start = i + 1;
        break;
      }
    }
    assertThat(start).as("marker %s in %s", marker, text).isPositive();
    while (start < lines.size() && lines.get(start).isBlank()) {
      start++;
    }
    StringBuilder block = new StringBuilder();
    for (int i = start; i < lines.size() && !lines.get(i).isBlank(); i++) {
      block.append(lines.get(i)).append('\n');
    }
    return block.toString();
  }
}
