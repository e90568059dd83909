package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The {@code fieldSelector} query parameter: comma-separated {@code field=value}, {@code
 * field==value} and {@code field!=value} terms over the fields the real server indexes for each
 * kind (kubectl's delete-and-wait lists with {@code metadata.name=<name>}). Immutable.
 */
final class FieldSelector {

  private static final Set<String> COMMON = Set.of("metadata.name", "metadata.namespace");
  private static final Map<ResourceKind, Set<String>> EXTRA =
      Map.of(
          ResourceKind.NAMESPACE, Set.of("status.phase"),
          ResourceKind.SERVICE_ACCOUNT, Set.of(),
          ResourceKind.POD,
              Set.of(
                  "spec.nodeName",
                  "spec.serviceAccountName",
                  "spec.restartPolicy",
                  "spec.schedulerName",
                  "status.phase",
                  "status.podIP",
                  "status.nominatedNodeName"));

  private final Predicate<JsonNode> predicate;

  private FieldSelector(Predicate<JsonNode> predicate) {
    this.predicate = predicate;
  }

  /**
   * @throws ApiException 400 for a term that does not parse or a field that is not indexed
   */
  static FieldSelector parse(ResourceKind kind, String selector) {
    Predicate<JsonNode> all = object -> true;
    for (String raw : selector.split(",")) {
      String term = raw.trim();
      if (term.isEmpty()) {
        continue;
      }
      String operator = term.contains("!=") ? "!=" : term.contains("==") ? "==" : "=";
      int at = term.indexOf(operator);
      if (at <= 0) {
        throw ApiException.badRequest(
            "invalid selector: '" + selector + "'; can't understand '" + term + "'");
      }
      String field = term.substring(0, at).trim();
      String value = term.substring(at + operator.length()).trim();
      if (!COMMON.contains(field) && !EXTRA.get(kind).contains(field)) {
        throw ApiException.badRequest("field label not supported: " + field);
      }
      boolean equal = !operator.equals("!=");
      String pointer = "/" + field.replace('.', '/');
      all = all.and(object -> object.at(pointer).asText("").equals(value) == equal);
    }
    return new FieldSelector(all);
  }

  boolean matches(JsonNode object) {
    return predicate.test(object);
  }
}
