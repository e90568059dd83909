package io.credbroker.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Runs the real Helm engine (helm-java's native library) on {@code helm/credential-broker}.
 *
 * <p>Stateless; each call is one Helm command. The native library is loaded once per JVM.
 */
final class Chart {

  static final String RELEASE = "cb";
  static final String NAMESPACE = "credbroker";
  /** Full name of the release's namespaced objects: the release name plus the chart name. */
  static final String FULLNAME = "cb-credential-broker";

  private static final Path DIRECTORY =
      Path.of(System.getProperty("credbroker.chart.dir", "credential-broker")).toAbsolutePath();

  private Chart() {}

  static Path directory() {
    if (!Files.isRegularFile(DIRECTORY.resolve("Chart.yaml"))) {
      throw new IllegalStateException("no chart at " + DIRECTORY);
    }
    return DIRECTORY;
  }

  static LintResult lint(boolean strict) {
    var lint = new Helm(directory()).lint();
    return strict ? lint.strict().call() : lint.call();
  }

  /** Renders with the test values file {@code values/<name>} layered over the chart's values.yaml. */
  static RenderedChart render(String valuesFile) {
    return render(valuesFile, Map.of());
  }

  /** Renders with a test values file and {@code --set} overrides. */
  static RenderedChart render(String valuesFile, Map<String, Object> set) {
    return RenderedChart.parse(template(valuesFile, set).call());
  }

  /** The template command, not yet run, for tests that expect Helm to refuse the values. */
  static TemplateCommand template(String valuesFile, Map<String, Object> set) {
    TemplateCommand template =
        new Helm(directory()).template().withName(RELEASE).withNamespace(NAMESPACE).withValuesFile(values(valuesFile));
    set.forEach(template::set);
    return template;
  }

  /**
   * What {@code helm install --dry-run} prints without a cluster (client only): the release summary and the
   * rendered NOTES.txt, which {@code helm template} leaves out.
   */
  static String installOutput(String valuesFile) {
    return new Helm(directory())
        .install()
        .withName(RELEASE)
        .withNamespace(NAMESPACE)
        .dryRun()
        .clientOnly()
        .withValuesFile(values(valuesFile))
        .call()
        .getOutput();
  }

  static Path values(String name) {
    try {
      return Path.of(Objects.requireNonNull(Chart.class.getResource("/values/" + name), name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(name, e);
    }
  }
}
