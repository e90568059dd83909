package io.credbroker.broker.setup;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Compares what setup wants to write to a Vault path with what Vault returns on read. Pure
 * functions: Vault echoes values in its own shapes (TTLs as seconds, lists possibly as comma
 * strings), which are normalised before comparing.
 */
final class VaultDiff {

  private VaultDiff() {}

  /** How one field is compared. */
  enum Kind {
    /** Strings, compared after trimming; numbers and booleans by value. */
    SCALAR,
    /** Ordered lists (statements). */
    LIST,
    /** Lists whose order is irrelevant (bound names, policies). */
    SET,
    /** The actual set must contain every desired element; others may stay (allowed_roles). */
    SUPERSET
  }

  /** A field to compare; {@code optional} fields that Vault does not echo count as equal. */
  record Field(String name, Kind kind, boolean optional) {
    static Field required(String name, Kind kind) {
      return new Field(name, kind, false);
    }

    static Field optional(String name, Kind kind) {
      return new Field(name, kind, true);
    }
  }

  /** The names of the fields whose actual value differs from the desired one, in field order. */
  static List<String> differences(
      Map<String, ?> desired, Map<String, ?> actual, List<Field> fields) {
    List<String> differing = new ArrayList<>();
    for (Field field : fields) {
      if (!desired.containsKey(field.name())) {
        continue;
      }
      Object want = desired.get(field.name());
      Object have = actual.get(field.name());
      if (have == null) {
        if (!field.optional()) {
          differing.add(field.name());
        }
        continue;
      }
      if (!equal(field.kind(), want, have)) {
        differing.add(field.name());
      }
    }
    return differing;
  }

  private static boolean equal(Kind kind, @Nullable Object want, Object have) {
    return switch (kind) {
      case SCALAR -> scalar(want).equals(scalar(have));
      case LIST -> list(want).equals(list(have));
      case SET -> new HashSet<>(list(want)).equals(new HashSet<>(list(have)));
      case SUPERSET -> new HashSet<>(list(have)).containsAll(list(want));
    };
  }

  private static String scalar(@Nullable Object value) {
    if (value instanceof Number n) {
      return Long.toString(n.longValue());
    }
    return Objects.toString(value, "").strip();
  }

  /** A list value; Vault also accepts and sometimes returns comma-separated strings. */
  static List<String> list(@Nullable Object value) {
    if (value == null) {
      return List.of();
    }
    if (value instanceof Collection<?> c) {
      return c.stream().map(VaultDiff::scalar).toList();
    }
    String s = scalar(value);
    if (s.isEmpty()) {
      return List.of();
    }
    return List.of(s.split("\\s*,\\s*"));
  }

  /**
   * Desired elements plus any extra actual ones, for a {@link Kind#SUPERSET} field that must be
   * rewritten.
   */
  static List<String> union(List<String> desired, @Nullable Object actual) {
    Set<String> all = new java.util.LinkedHashSet<>(list(actual));
    all.addAll(desired);
    return List.copyOf(all);
  }
}
