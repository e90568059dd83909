package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chart as a subchart of another: Helm hands it the parent's {@code global} values and checks
 * them against the chart's schema, which must accept keys only other subcharts read; the image
 * registry and pull secrets the parent shares are used.
 */
class SubchartTest {

  @TempDir static Path workspace;

  private static RenderedChart chart;

  @BeforeAll
  static void render() throws IOException, URISyntaxException {
    Path parent = workspace.resolve("platform");
    Path fixture =
        Path.of(Objects.requireNonNull(SubchartTest.class.getResource("/parent-chart")).toURI());
    copy(fixture, parent);
    copy(Chart.directory(), parent.resolve("charts").resolve("credential-broker"));
    chart =
        RenderedChart.parse(
            new Helm(parent)
                .template()
                .withName(Chart.RELEASE)
                .withNamespace(Chart.NAMESPACE)
                .call());
  }

  @Test
  void parentsGlobalsAreAcceptedAndTheBrokerIsRenderedUnderItsUsualNames() {
    JsonNode deployment = chart.get("Deployment", Chart.FULLNAME);

    assertThat(deployment.at("/metadata/namespace").asText()).isEqualTo(Chart.NAMESPACE);
    assertThat(chart.get("ConfigMap", Chart.FULLNAME).at("/data/application.yaml").asText())
        .contains("https://vault.vault.svc:8200");
  }

  @Test
  void globalImageRegistryReplacesTheImagesRegistry() {
    assertThat(
            chart
                .get("Deployment", Chart.FULLNAME)
                .at("/spec/template/spec/containers/0/image")
                .asText())
        .isEqualTo("mirror.example:5000/credential-broker:0.1.0");
  }

  @Test
  void globalPullSecretsComeFirstAndEachSecretIsNamedOnce() {
    JsonNode secrets =
        chart.get("Deployment", Chart.FULLNAME).at("/spec/template/spec/imagePullSecrets");

    assertThat(secrets.findValuesAsText("name"))
        .containsExactly("mirror-pull", "shared-pull", "broker-pull");
  }

  @Test
  void globalIsAcceptedWhenTheChartIsInstalledOnItsOwn() {
    RenderedChart own =
        Chart.render(
            "required.yaml", Map.of("global.storageClass", "fast", "global.imageRegistry", ""));

    assertThat(own.single("Deployment").at("/spec/template/spec/containers/0/image").asText())
        .isEqualTo("credential-broker:0.1.0");
    assertThat(own.single("Deployment").at("/spec/template/spec").has("imagePullSecrets"))
        .isFalse();
  }

  private static void copy(Path from, Path to) throws IOException {
    List<Path> paths;
    try (Stream<Path> walk = Files.walk(from)) {
      paths = walk.toList();
    }
    for (Path path : paths) {
      Path target = to.resolve(from.relativize(path).toString());
      if (Files.isDirectory(path)) {
        Files.createDirectories(target);
      } else {
        Files.copy(path, target);
      }
    }
  }
}
