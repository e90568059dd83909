package io.credbroker.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * Runs the real Helm engine (helm-java's native library) on {@code helm/credential-broker}.
 *
 * <p>Lint runs on the chart itself. Rendering runs on a copy that differs in two places only,
 * because helm-java 0.0.15 cannot do what {@code helm template} does there:
 *
 * <ul>
 *   <li>Chart.yaml has no {@code kubeVersion}: helm-java has no {@code --kube-version}, and its
 *       engine, built without Helm's release link flags, reports Kubernetes v1.20.0, which the
 *       chart's range refuses ({@link ChartMetadataTest} shows that refusal on the chart itself).
 *   <li>Hook annotation keys {@value #HOOK_KEY} are renamed to {@value #RENAMED_HOOK_KEY}:
 *       helm-java prints only the release manifest, never hooks, so a hook would not be rendered at
 *       all. Under the renamed key Helm renders it like any object, and {@link RenderedChart} names
 *       the keys back, so tests read the real ones.
 * </ul>
 *
 * <p>Stateless apart from the copy, which is made once per JVM. The native library is loaded once
 * per JVM.
 */
final class Chart {

  static final String RELEASE = "cb";
  static final String NAMESPACE = "credbroker";

  /** Full name of the release's namespaced objects: the release name plus the chart name. */
  static final String FULLNAME = "cb-credential-broker";

  static final String HOOK_KEY = "helm.sh/hook";
  static final String RENAMED_HOOK_KEY = "credbroker.test/hook";

  private static final Path SOURCE =
      Path.of(System.getProperty("credbroker.chart.dir", "credential-broker")).toAbsolutePath();

  private Chart() {}

  /** The chart itself, as it is packaged and installed. */
  static Path source() {
    if (!Files.isRegularFile(SOURCE.resolve("Chart.yaml"))) {
      throw new IllegalStateException("no chart at " + SOURCE);
    }
    return SOURCE;
  }

  /** The copy every render uses (see the class comment). */
  static Path directory() {
    return RenderCopy.DIRECTORY;
  }

  static LintResult lint(boolean strict) {
    return lint(source(), strict);
  }

  /**
   * Lints the chart with a test values file layered over values.yaml. helm-java's lint takes no
   * values file, so this lints a copy of the chart whose values.yaml is the two merged as Helm
   * merges them (maps key by key, lists and scalars replaced, null removes a key).
   */
  static LintResult lint(String valuesFile, boolean strict) {
    Path source = source();
    Path copy =
        Path.of(System.getProperty("credbroker.chart.render.dir", "target/chart-under-test"))
            .toAbsolutePath()
            .resolveSibling("chart-lint")
            .resolve(valuesFile.replaceAll("\\.yaml$", ""))
            .resolve(source.getFileName());
    try {
      copyTree(source, copy, (relative, text) -> text);
      ObjectNode values =
          (ObjectNode) RenderedChart.YAML.readTree(source.resolve("values.yaml").toFile());
      merge(values, (ObjectNode) RenderedChart.YAML.readTree(values(valuesFile).toFile()));
      RenderedChart.YAML.writeValue(copy.resolve("values.yaml").toFile(), values);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make a lint copy of the chart at " + copy, e);
    }
    return lint(copy, strict);
  }

  private static LintResult lint(Path directory, boolean strict) {
    var lint = new Helm(directory).lint();
    return strict ? lint.strict().call() : lint.call();
  }

  private static void merge(ObjectNode into, ObjectNode from) {
    from.fields()
        .forEachRemaining(
            field -> {
              JsonNode value = field.getValue();
              if (value.isNull()) {
                into.remove(field.getKey());
              } else if (value.isObject()
                  && into.get(field.getKey()) instanceof ObjectNode existing) {
                merge(existing, (ObjectNode) value);
              } else {
                into.set(field.getKey(), value);
              }
            });
  }

  /**
   * Replaces {@code to} with a copy of {@code from}, each text file passed through {@code rewrite}.
   */
  private static void copyTree(Path from, Path to, BiFunction<Path, String, String> rewrite)
      throws IOException {
    if (Files.exists(to)) {
      try (Stream<Path> old = Files.walk(to)) {
        for (Path path : old.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(path);
        }
      }
    }
    List<Path> files;
    try (Stream<Path> walk = Files.walk(from)) {
      files = walk.toList();
    }
    for (Path file : files) {
      Path relative = from.relativize(file);
      Path target = to.resolve(relative.toString());
      if (Files.isDirectory(file)) {
        Files.createDirectories(target);
      } else {
        Files.writeString(
            target,
            rewrite.apply(relative, Files.readString(file, StandardCharsets.UTF_8)),
            StandardCharsets.UTF_8);
      }
    }
  }

  /**
   * Renders with the test values file {@code values/<name>} layered over the chart's values.yaml.
   */
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
        new Helm(directory())
            .template()
            .withName(RELEASE)
            .withNamespace(NAMESPACE)
            .withValuesFile(values(valuesFile));
    set.forEach(template::set);
    return template;
  }

  /**
   * What {@code helm install --dry-run} prints without a cluster (client only): the release summary
   * and the rendered NOTES.txt, which {@code helm template} leaves out.
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
      return Path.of(
          Objects.requireNonNull(Chart.class.getResource("/values/" + name), name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(name, e);
    }
  }

  /** A file of the chart as the render copy holds it. */
  static String forRendering(Path relative, String text) {
    if (relative.equals(Path.of("Chart.yaml"))) {
      return text.replaceAll("(?m)^kubeVersion:.*\\R", "");
    }
    if (relative.startsWith("templates")) {
      return text.replace(HOOK_KEY, RENAMED_HOOK_KEY);
    }
    return text;
  }

  /** Makes the render copy on first use, replacing what an earlier run left. */
  private static final class RenderCopy {

    static final Path DIRECTORY = create();

    private static Path create() {
      Path source = source();
      Path copy =
          Path.of(System.getProperty("credbroker.chart.render.dir", "target/chart-under-test"))
              .toAbsolutePath()
              .resolve(source.getFileName());
      try {
        copyTree(source, copy, Chart::forRendering);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot copy the chart to " + copy, e);
      }
      return copy;
    }
  }
}
