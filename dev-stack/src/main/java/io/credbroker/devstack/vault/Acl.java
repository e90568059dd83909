package io.credbroker.devstack.vault;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The capabilities a set of policies grants on a path, decided like Vault's ACL: rules for the same
 * pattern from several policies are merged (and {@code deny} wins), an exact pattern beats any
 * wildcard, and among wildcard patterns the most specific one applies ({@code +} segment wildcards
 * and a trailing {@code *} glob). Immutable and thread-safe.
 */
final class Acl {

  private final boolean root;
  private final Map<String, Set<String>> rules;

  private Acl(boolean root, Map<String, Set<String>> rules) {
    this.root = root;
    this.rules = rules;
  }

  static Acl of(Collection<Policy> policies) {
    boolean root = false;
    Map<String, Set<String>> merged = new LinkedHashMap<>();
    for (Policy p : policies) {
      if (p.name().equals("root")) {
        root = true;
      }
      for (Policy.Rule r : p.rules()) {
        merged.computeIfAbsent(r.pattern(), k -> new LinkedHashSet<>()).addAll(r.capabilities());
      }
    }
    merged.replaceAll((k, v) -> v.contains("deny") ? Set.of("deny") : Set.copyOf(v));
    return new Acl(root, merged);
  }

  boolean isRoot() {
    return root;
  }

  /** True when the capability is granted on the path (root: always). */
  boolean allows(String path, String capability) {
    if (root) {
      return true;
    }
    Set<String> caps = capabilities(path);
    return !caps.contains("deny") && caps.contains(capability);
  }

  /** The capabilities on a path, sorted; {@code ["root"]} for root, {@code ["deny"]} for none. */
  Set<String> capabilities(String path) {
    if (root) {
      return Set.of("root");
    }
    Set<String> caps = exact(path);
    if (caps == null) {
      caps = nonExact(path);
    }
    return caps == null ? Set.of("deny") : caps;
  }

  /**
   * The capabilities that decide a {@code LIST} of a path ending in {@code /}: Vault's {@code
   * AllowOperation} also tries the path without its trailing slash, exactly and then against
   * wildcard rules, before the wildcard rules for the path as sent. So a rule on {@code
   * auth/token/accessors} governs {@code LIST auth/token/accessors/}.
   */
  Set<String> listCapabilities(String path) {
    if (root || !path.endsWith("/")) {
      return capabilities(path);
    }
    String trimmed = path.substring(0, path.length() - 1);
    Set<String> caps = exact(path);
    if (caps == null) {
      caps = exact(trimmed);
    }
    if (caps == null) {
      caps = nonExact(trimmed);
    }
    if (caps == null) {
      caps = nonExact(path);
    }
    return caps == null ? Set.of("deny") : caps;
  }

  private @Nullable Set<String> exact(String path) {
    Set<String> caps = rules.get(path);
    return caps == null ? null : new TreeSet<>(caps);
  }

  private @Nullable Set<String> nonExact(String path) {
    String best = null;
    for (String pattern : rules.keySet()) {
      if ((pattern.contains("+") || pattern.endsWith("*")) && matches(pattern, path)) {
        if (best == null || morePrecise(pattern, best)) {
          best = pattern;
        }
      }
    }
    return best == null ? null : new TreeSet<>(rules.get(best));
  }

  /**
   * Whether {@code pattern} covers {@code path}: {@code +} is one segment, a final {@code *} any
   * suffix.
   */
  static boolean matches(String pattern, String path) {
    boolean glob = pattern.endsWith("*");
    String body = glob ? pattern.substring(0, pattern.length() - 1) : pattern;
    if (!body.contains("+")) {
      return glob ? path.startsWith(body) : path.equals(body);
    }
    int pi = 0;
    int si = 0;
    while (pi < body.length()) {
      char c = body.charAt(pi);
      if (c == '+') {
        int end = path.indexOf('/', si);
        if (end < 0) {
          end = path.length();
        }
        if (end == si) {
          return false;
        }
        si = end;
        pi++;
      } else {
        if (si >= path.length() || path.charAt(si) != c) {
          return false;
        }
        si++;
        pi++;
      }
    }
    return glob || si == path.length();
  }

  /**
   * Vault's priority between two matching wildcard patterns (vault/acl.go): the first wildcard
   * further to the right wins; then a pattern not ending in {@code *} wins; then fewer {@code +};
   * then the longer pattern; then the lexically larger one.
   */
  static boolean morePrecise(String a, String b) {
    int wa = firstWildcard(a);
    int wb = firstWildcard(b);
    if (wa != wb) {
      return wa > wb;
    }
    boolean ga = a.endsWith("*");
    boolean gb = b.endsWith("*");
    if (ga != gb) {
      return !ga;
    }
    long pa = a.chars().filter(ch -> ch == '+').count();
    long pb = b.chars().filter(ch -> ch == '+').count();
    if (pa != pb) {
      return pa < pb;
    }
    if (a.length() != b.length()) {
      return a.length() > b.length();
    }
    return a.compareTo(b) > 0;
  }

  private static int firstWildcard(String p) {
    int plus = p.indexOf('+');
    int star = p.endsWith("*") ? p.length() - 1 : -1;
    List<Integer> found = new ArrayList<>();
    if (plus >= 0) {
      found.add(plus);
    }
    if (star >= 0) {
      found.add(star);
    }
    return found.isEmpty() ? p.length() : found.stream().min(Integer::compare).orElseThrow();
  }
}
