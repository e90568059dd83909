package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Chart.yaml: the Kubernetes versions the chart admits and what it says about itself. */
class ChartMetadataTest {

  @Test
  void chartRequiresKubernetes125OrLaterIncludingProviderPreReleaseVersions() throws IOException {
    assertThat(chartYaml(Chart.source()).path("kubeVersion").asText()).isEqualTo(">=1.25.0-0");
  }

  @Test
  void helmRefusesToInstallTheChartOnAnOlderCluster() {
    // helm-java's engine reports Kubernetes v1.20.0 (see Chart): the chart itself, not the render
    // copy, is refused.
    assertThatThrownBy(
            () ->
                new Helm(Chart.source())
                    .template()
                    .withName(Chart.RELEASE)
                    .withNamespace(Chart.NAMESPACE)
                    .withValuesFile(Chart.values("required.yaml"))
                    .call())
        .hasMessageContaining(
            "chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.20.0");
  }

  @Test
  void chartNamesItsMaintainersAndKeywordsAndNoAddressItDoesNotHave() throws IOException {
    JsonNode chart = chartYaml(Chart.source());

    assertThat(chart.at("/maintainers/0/name").asText()).isEqualTo("credential-broker maintainers");
    assertThat(texts(chart.path("keywords"))).contains("vault", "postgresql", "credentials");
    assertThat(chart.at("/annotations/artifacthub.io~1category").asText()).isEqualTo("security");
    assertThat(chart.has("home")).as("the project has no public home page yet").isFalse();
    assertThat(chart.has("sources")).as("the project has no public repository yet").isFalse();
  }

  @Test
  void renderCopyDiffersFromTheChartOnlyInKubeVersionAndHookAnnotationKeys() throws IOException {
    Path source = Chart.source();
    Path copy = Chart.directory();

    ObjectNode expected = (ObjectNode) chartYaml(source);
    expected.remove("kubeVersion");
    assertThat(chartYaml(copy)).isEqualTo(expected);
    List<Path> files;
    try (Stream<Path> walk = Files.walk(source)) {
      files = walk.filter(Files::isRegularFile).map(source::relativize).toList();
    }
    for (Path file : files) {
      String original = Files.readString(source.resolve(file));
      String copied = Files.readString(copy.resolve(file.toString()));
      if (file.startsWith("templates")) {
        assertThat(copied)
            .as(file.toString())
            .isEqualTo(original.replace(Chart.HOOK_KEY, Chart.RENAMED_HOOK_KEY));
      } else if (!file.equals(Path.of("Chart.yaml"))) {
        assertThat(copied).as(file.toString()).isEqualTo(original);
      }
    }
  }

  private static JsonNode chartYaml(Path directory) throws IOException {
    return RenderedChart.YAML.readTree(directory.resolve("Chart.yaml").toFile());
  }
}
