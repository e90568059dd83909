package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code labelSelector} query parameter: equality ({@code a=b}, {@code a==b}, {@code a!=b}),
 * set ({@code a in (x,y)}, {@code a notin (x)}) and existence ({@code a}, {@code !a}) terms,
 * comma-separated and all required. Immutable.
 */
final class LabelSelector {

  private static final Pattern SET_TERM =
      Pattern.compile("\\s*([^\\s!=()]+)\\s+(in|notin)\\s+\\(([^)]*)\\)\\s*");
  private static final Pattern EQ_TERM =
      Pattern.compile("\\s*([^\\s!=()]+)\\s*(==|=|!=)\\s*([^\\s!=(),]*)\\s*");
  private static final Pattern EXISTS_TERM = Pattern.compile("\\s*(!?)([^\\s!=(),]+)\\s*");

  private final Predicate<JsonNode> predicate;

  private LabelSelector(Predicate<JsonNode> predicate) {
    this.predicate = predicate;
  }

  /**
   * Parses a selector.
   *
   * @throws ApiException 400 when the selector does not parse, as the real server answers
   */
  static LabelSelector parse(String selector) {
    Predicate<JsonNode> all = labels -> true;
    for (String term : splitTerms(selector)) {
      if (term.isBlank()) {
        continue;
      }
      all = all.and(term(term, selector));
    }
    return new LabelSelector(all);
  }

  boolean matches(JsonNode labels) {
    return predicate.test(labels);
  }

  private static Predicate<JsonNode> term(String term, String selector) {
    Matcher set = SET_TERM.matcher(term);
    if (set.matches()) {
      String key = set.group(1);
      Set<String> values = Set.copyOf(List.of(set.group(3).replace(" ", "").split(",")));
      boolean in = set.group(2).equals("in");
      return labels -> {
        JsonNode v = labels.get(key);
        boolean member = v != null && values.contains(v.asText());
        return in ? member : !member;
      };
    }
    Matcher eq = EQ_TERM.matcher(term);
    if (eq.matches()) {
      String key = eq.group(1);
      String value = eq.group(3);
      boolean equal = !eq.group(2).equals("!=");
      return labels -> {
        JsonNode v = labels.get(key);
        boolean same = v != null && v.asText().equals(value);
        return equal ? same : !same;
      };
    }
    Matcher exists = EXISTS_TERM.matcher(term);
    if (exists.matches()) {
      String key = exists.group(2);
      boolean negated = !exists.group(1).isEmpty();
      return labels -> labels.has(key) != negated;
    }
    throw ApiException.badRequest(
        "unable to parse requirement: invalid label selector: " + selector);
  }

  private static List<String> splitTerms(String selector) {
    List<String> terms = new ArrayList<>();
    int depth = 0;
    StringBuilder current = new StringBuilder();
    for (char c : selector.toCharArray()) {
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth--;
      }
      if (c == ',' && depth == 0) {
        terms.add(current.toString());
        current.setLength(0);
      } else {
        current.append(c);
      }
    }
    terms.add(current.toString());
    return terms;
  }
}
