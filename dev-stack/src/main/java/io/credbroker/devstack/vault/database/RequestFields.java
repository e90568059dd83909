package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.vault.VaultException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Reads a request body the way Vault's framework reads its typed fields (weak typing: a string
 * where a list is expected is a one-element list, {@code "true"} is a bool), answering a field that
 * cannot be converted with Vault's 400 text. Stateless apart from the body it wraps.
 */
final class RequestFields {

  private final JsonNode body;

  RequestFields(JsonNode body) {
    this.body = body;
  }

  boolean has(String field) {
    JsonNode v = body.get(field);
    return v != null && !v.isNull();
  }

  String string(String field, String defaultValue) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return defaultValue;
    }
    if (v.isValueNode()) {
      return v.asText();
    }
    throw conversion(
        field, v, "'' expected type 'string', got unconvertible type '" + kind(v) + "'");
  }

  /** Vault's {@code TypeStringSlice}: a JSON array, or one string as a one-element list. */
  List<String> stringSlice(String field) {
    JsonNode v = body.get(field);
    List<String> out = new ArrayList<>();
    if (v == null || v.isNull()) {
      return out;
    }
    if (v.isArray()) {
      for (JsonNode item : v) {
        if (!item.isValueNode()) {
          throw conversion(
              field,
              v,
              "'[0]' expected type 'string', got unconvertible type '" + kind(item) + "'");
        }
        out.add(item.asText());
      }
      return out;
    }
    if (v.isValueNode()) {
      String s = v.asText();
      if (!s.isEmpty()) {
        out.add(s);
      }
      return out;
    }
    throw conversion(
        field, v, "'' expected type '[]string', got unconvertible type '" + kind(v) + "'");
  }

  /** Vault's {@code TypeCommaStringSlice}: an array, or a comma-separated string; trimmed. */
  List<String> commaStringSlice(String field) {
    List<String> out = new ArrayList<>();
    for (String item : stringSlice(field)) {
      for (String piece : item.split(",", -1)) {
        out.add(piece.trim());
      }
    }
    return out;
  }

  boolean bool(String field, boolean defaultValue) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return defaultValue;
    }
    if (v.isBoolean()) {
      return v.booleanValue();
    }
    if (v.isNumber()) {
      return v.asDouble() != 0;
    }
    if (v.isTextual()) {
      return switch (v.asText()) {
        case "1", "t", "T", "true", "TRUE", "True" -> true;
        case "", "0", "f", "F", "false", "FALSE", "False" -> false;
        default ->
            throw conversion(
                field,
                v,
                "cannot parse '' as bool: strconv.ParseBool: parsing \""
                    + v.asText()
                    + "\": invalid syntax");
      };
    }
    throw conversion(field, v, "'' expected type 'bool', got unconvertible type '" + kind(v) + "'");
  }

  /** Vault's {@code TypeDurationSecond}: seconds as a number or string, or a Go duration. */
  Duration durationSeconds(String field) {
    JsonNode v = body.get(field);
    try {
      return GoDurations.parseSeconds(v);
    } catch (GoDurations.InvalidDurationException e) {
      throw conversion(field, v, e.getMessage());
    }
  }

  /** Body fields outside {@code known}, sorted, for Vault's "ignored parameters" warning. */
  @Nullable String ignoredWarning(Set<String> known) {
    Set<String> ignored = new TreeSet<>();
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (!known.contains(name)) {
        ignored.add(name);
      }
    }
    if (ignored.isEmpty()) {
      return null;
    }
    return "Endpoint ignored these unrecognized parameters: [" + String.join(" ", ignored) + "]";
  }

  private static VaultException conversion(String field, @Nullable JsonNode raw, String reason) {
    String shown = raw == null ? "<nil>" : raw.isTextual() ? raw.asText() : raw.toString();
    return VaultException.badRequest(
        "error converting input " + shown + " for field \"" + field + "\": " + reason);
  }

  private static String kind(JsonNode v) {
    if (v.isArray()) {
      return "slice";
    }
    if (v.isObject()) {
      return "map";
    }
    if (v.isBoolean()) {
      return "bool";
    }
    if (v.isNumber()) {
      return "float64";
    }
    return "string";
  }
}
