package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How the PostgreSQL plugin turns a role's statement arrays into the queries it executes: each
 * element is tried as base64, then as a JSON array of queries, and otherwise split naively on
 * {@code ;}; an element with the word {@code END} outside quotes (a {@code DO $$ ... END $$} block)
 * runs whole where the plugin allows that. Placeholders are plain string replacements, without SQL
 * escaping, exactly like the plugin. Stateless.
 */
final class SqlStatements {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern END_WORD = Pattern.compile("\\bEND\\b");
  private static final Pattern DOUBLE_QUOTED = Pattern.compile("(\".*?\")");
  private static final Pattern SINGLE_QUOTED = Pattern.compile("('.*?')");

  private SqlStatements() {}

  /**
   * The queries of one statement-array element: base64 is decoded first, a JSON array yields its
   * trimmed elements, anything else is split on {@code separator}, trimmed, empty pieces dropped.
   */
  static List<String> parseArbitrary(String element, String separator) {
    String jsonOrSlice = element;
    try {
      jsonOrSlice =
          new String(Base64.getDecoder().decode(strictBase64(element)), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException notBase64) {
      // Not base64: use the element as written.
    }
    try {
      List<String> items = JSON.readValue(jsonOrSlice, new TypeReference<List<String>>() {});
      List<String> trimmed = new ArrayList<>();
      if (items == null) {
        // JSON null decodes to an empty slice in Go.
        return trimmed;
      }
      for (String item : items) {
        trimmed.add(item == null ? "" : item.trim());
      }
      return trimmed;
    } catch (Exception notJson) {
      List<String> pieces = new ArrayList<>();
      String in = jsonOrSlice.trim();
      if (in.isEmpty()) {
        return pieces;
      }
      for (String piece : in.split(Pattern.quote(separator), -1)) {
        String p = piece.trim();
        if (!p.isEmpty()) {
          pieces.add(p);
        }
      }
      return pieces;
    }
  }

  /**
   * Go's StdEncoding accepts only the standard alphabet with padding (line breaks ignored);
   * anything else is not base64 and the element is used as written.
   */
  private static String strictBase64(String s) {
    String compact = s.replace("\r", "").replace("\n", "");
    if (compact.isEmpty()
        || compact.length() % 4 != 0
        || !compact.matches("[A-Za-z0-9+/]*={0,2}")) {
      throw new IllegalArgumentException("not base64");
    }
    return compact;
  }

  /**
   * Whether an element holds a multi-statement block that must not be split: the word {@code END}
   * after quoted phrases are removed. Like the plugin, only the last quoted phrase found is
   * actually removed (it restarts from the original text for each one), which this reproduces so
   * the stand-in splits exactly where Vault does.
   */
  static boolean containsMultilineStatement(String element) {
    List<String> literals = new ArrayList<>();
    for (Pattern p : List.of(DOUBLE_QUOTED, SINGLE_QUOTED)) {
      Matcher m = p.matcher(element);
      while (m.find()) {
        literals.add(m.group());
      }
    }
    String without = element;
    for (String literal : literals) {
      without = element.replace(literal, "");
    }
    return END_WORD.matcher(without).find();
  }

  /**
   * The queries to run for a statement array. With {@code allowMultiline}, an element containing
   * {@code END} outside quotes is one query (creation and custom revocation); otherwise every
   * element is split (renewal and root rotation).
   */
  static List<String> queries(List<String> elements, boolean allowMultiline) {
    List<String> queries = new ArrayList<>();
    for (String element : elements) {
      if (allowMultiline && containsMultilineStatement(element)) {
        queries.add(element);
        continue;
      }
      for (String query : parseArbitrary(element, ";")) {
        String q = query.trim();
        if (!q.isEmpty()) {
          queries.add(q);
        }
      }
    }
    return queries;
  }

  /** Replaces each {@code {{key}}} with its value; no escaping, as Vault's QueryHelper. */
  static String substitute(String query, Map<String, String> values) {
    String out = query;
    for (Map.Entry<String, String> e : values.entrySet()) {
      out = out.replace("{{" + e.getKey() + "}}", e.getValue());
    }
    return out;
  }

  /** {@code {{expiration}}} in the plugin's layout, in the stand-in's local time zone. */
  static String expiration(Instant at) {
    return GoTimeLayout.format(at.atZone(ZoneId.systemDefault()), GoTimeLayout.EXPIRATION);
  }
}
