package io.credbroker.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * The objects one {@code helm template} run produced, parsed from its multi-document YAML.
 *
 * <p>Immutable; safe to share between the tests of a class.
 */
final class RenderedChart {

  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private final List<JsonNode> objects;

  private RenderedChart(List<JsonNode> objects) {
    this.objects = List.copyOf(objects);
  }

  /**
   * Parses Helm's output; empty documents (templates whose condition was false) are dropped. Hook
   * annotations, renamed in the copy Helm rendered (see {@link Chart}), get their real keys back.
   */
  static RenderedChart parse(String manifests) {
    List<JsonNode> objects = new ArrayList<>();
    try (MappingIterator<JsonNode> documents =
        YAML.readerFor(JsonNode.class).readValues(manifests)) {
      while (documents.hasNextValue()) {
        JsonNode document = documents.nextValue();
        if (document != null && document.isObject() && document.has("kind")) {
          restoreHookAnnotations(document);
          objects.add(document);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Helm rendered YAML that does not parse", e);
    }
    return new RenderedChart(objects);
  }

  List<JsonNode> objects() {
    return objects;
  }

  List<String> kinds() {
    return objects.stream().map(o -> o.path("kind").asText()).toList();
  }

  List<JsonNode> ofKind(String kind) {
    return objects.stream().filter(o -> kind.equals(o.path("kind").asText())).toList();
  }

  Optional<JsonNode> find(String kind, String name) {
    return ofKind(kind).stream()
        .filter(o -> name.equals(o.at("/metadata/name").asText()))
        .findFirst();
  }

  JsonNode get(String kind, String name) {
    return find(kind, name)
        .orElseThrow(
            () ->
                new NoSuchElementException("no " + kind + " named " + name + " among " + names()));
  }

  /** The one object of this kind; fails when there is none or more than one. */
  JsonNode single(String kind) {
    List<JsonNode> found = ofKind(kind);
    if (found.size() != 1) {
      throw new NoSuchElementException(
          "expected one " + kind + " but found " + found.size() + " among " + names());
    }
    return found.get(0);
  }

  /** The broker's application.yaml from the ConfigMap, parsed. */
  JsonNode applicationConfig() {
    String text = single("ConfigMap").at("/data/application.yaml").asText();
    try {
      return YAML.readTree(text);
    } catch (IOException e) {
      throw new UncheckedIOException("the ConfigMap's application.yaml does not parse", e);
    }
  }

  /**
   * Hooks of the chart: objects Helm creates around an install or upgrade instead of with the
   * release.
   */
  List<JsonNode> hooks() {
    return objects.stream().filter(o -> o.at("/metadata/annotations").has(Chart.HOOK_KEY)).toList();
  }

  private static void restoreHookAnnotations(JsonNode object) {
    if (!(object.at("/metadata/annotations") instanceof ObjectNode annotations)) {
      return;
    }
    List<String> renamed = new ArrayList<>();
    annotations
        .fieldNames()
        .forEachRemaining(
            key -> {
              if (key.startsWith(Chart.RENAMED_HOOK_KEY)) {
                renamed.add(key);
              }
            });
    for (String key : renamed) {
      annotations.set(
          Chart.HOOK_KEY + key.substring(Chart.RENAMED_HOOK_KEY.length()), annotations.remove(key));
    }
  }

  private List<String> names() {
    return objects.stream()
        .map(o -> o.path("kind").asText() + "/" + o.at("/metadata/name").asText())
        .toList();
  }
}
