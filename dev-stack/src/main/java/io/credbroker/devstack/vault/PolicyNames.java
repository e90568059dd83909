package io.credbroker.devstack.vault;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * The list helpers Vault applies to policy names: {@code policyutil.SanitizePolicies}, {@code
 * strutil.RemoveDuplicates}, {@code strutil.StrListContainsGlob} (ryanuber/go-glob matching) and
 * Go's {@code %q} rendering of a string list for error texts. Stateless.
 */
final class PolicyNames {

  private PolicyNames() {}

  /**
   * Trimmed, lower-cased, without blanks and duplicates, sorted; just {@code root} when root is
   * present; {@code default} added when asked and absent.
   */
  static List<String> sanitize(Collection<String> policies, boolean addDefault) {
    List<String> cleaned = new ArrayList<>();
    boolean defaultFound = false;
    for (String p : policies) {
      String name = p.strip().toLowerCase(Locale.ROOT);
      if (name.isEmpty()) {
        continue;
      }
      if (name.equals("root")) {
        return List.of("root");
      }
      defaultFound |= name.equals("default");
      cleaned.add(name);
    }
    if (addDefault && !defaultFound) {
      cleaned.add("default");
    }
    return removeDuplicates(cleaned, false);
  }

  /** Trimmed, without blanks and duplicates, sorted; lower-cased when asked. */
  static List<String> removeDuplicates(Collection<String> items, boolean lowercase) {
    TreeSet<String> set = new TreeSet<>();
    for (String item : items) {
      String s = item.strip();
      if (!s.isEmpty()) {
        set.add(lowercase ? s.toLowerCase(Locale.ROOT) : s);
      }
    }
    return List.copyOf(set);
  }

  /** Whether any pattern in {@code patterns} glob-matches {@code value} ({@code *} is any run). */
  static boolean containsGlob(Collection<String> patterns, String value) {
    for (String pattern : patterns) {
      if (glob(pattern, value)) {
        return true;
      }
    }
    return false;
  }

  static boolean glob(String pattern, String subject) {
    if (pattern.isEmpty()) {
      return subject.isEmpty();
    }
    if (pattern.equals("*")) {
      return true;
    }
    String[] parts = pattern.split("\\*", -1);
    if (parts.length == 1) {
      return subject.equals(pattern);
    }
    boolean leadingGlob = pattern.startsWith("*");
    boolean trailingGlob = pattern.endsWith("*");
    String rest = subject;
    int end = parts.length - 1;
    for (int i = 0; i < end; i++) {
      int idx = rest.indexOf(parts[i]);
      if (i == 0 ? !leadingGlob && idx != 0 : idx < 0) {
        return false;
      }
      rest = rest.substring(idx + parts[i].length());
    }
    return trailingGlob || rest.endsWith(parts[end]);
  }

  /** Go's {@code fmt.Sprintf("%q", []string{...})}: {@code ["a" "b"]}. */
  static String goQuoted(List<String> items) {
    List<String> quoted = new ArrayList<>();
    for (String s : items) {
      quoted.add(goQuoted(s));
    }
    return "[" + String.join(" ", quoted) + "]";
  }

  /** Go's {@code %q} of one string. */
  static String goQuoted(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
