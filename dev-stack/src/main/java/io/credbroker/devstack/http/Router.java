package io.credbroker.devstack.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Maps method and path to a handler. Patterns are literal segments plus {@code {name}} (one
 * segment) and a final {@code {name*}} (the rest of the path, slashes included). Routes are tried
 * in the order they were added. Built once, then read-only: safe to share across threads.
 */
public final class Router {

  private final List<Route> routes = new ArrayList<>();

  /** Adds a route; {@code method} "*" matches any method. */
  public Router route(String method, String pattern, Handler handler) {
    routes.add(new Route(method, compile(pattern), handler));
    return this;
  }

  /** Finds the route for a request, telling a wrong method apart from an unknown path. */
  public Match match(String method, String path) {
    Set<String> allowed = new LinkedHashSet<>();
    for (Route route : routes) {
      Matcher m = route.pattern.regex.matcher(path);
      if (!m.matches()) {
        continue;
      }
      if (route.method.equals("*") || route.method.equalsIgnoreCase(method)) {
        Map<String, String> params = new LinkedHashMap<>();
        for (String name : route.pattern.names) {
          params.put(name, m.group(name));
        }
        return new Match(route.handler, params, Set.of());
      }
      allowed.add(route.method);
    }
    return new Match(null, Map.of(), allowed);
  }

  /**
   * The outcome of {@link #match}: a handler with its path parameters, or none, with the methods
   * the path would have accepted (empty when the path is unknown).
   */
  public record Match(
      @Nullable Handler handler, Map<String, String> pathParams, Set<String> allowedMethods) {
    public boolean found() {
      return handler != null;
    }
  }

  private record Route(String method, CompiledPattern pattern, Handler handler) {}

  private record CompiledPattern(Pattern regex, List<String> names) {}

  private static CompiledPattern compile(String pattern) {
    StringBuilder regex = new StringBuilder();
    List<String> names = new ArrayList<>();
    Matcher m = Pattern.compile("\\{([a-zA-Z][a-zA-Z0-9]*)(\\*?)}").matcher(pattern);
    int last = 0;
    while (m.find()) {
      regex.append(Pattern.quote(pattern.substring(last, m.start())));
      names.add(m.group(1));
      regex
          .append("(?<")
          .append(m.group(1))
          .append(">")
          .append(m.group(2).isEmpty() ? "[^/]+" : ".+")
          .append(")");
      last = m.end();
    }
    regex.append(Pattern.quote(pattern.substring(last)));
    return new CompiledPattern(Pattern.compile(regex.toString()), List.copyOf(names));
  }
}
