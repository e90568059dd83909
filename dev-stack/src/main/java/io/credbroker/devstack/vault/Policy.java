package io.credbroker.devstack.vault;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * An ACL policy parsed from the HCL subset Vault operators write: {@code path "<pattern>" {
 * capabilities = [...] }} blocks (and the legacy {@code policy = "read|write|deny|sudo"}), with
 * {@code #}, {@code //} and {@code /* *}{@code /} comments. Immutable.
 */
record Policy(String name, List<Rule> rules) {

  static final Set<String> CAPABILITIES =
      Set.of("create", "read", "update", "delete", "list", "sudo", "deny", "patch", "subscribe");

  /** One {@code path} block: a pattern and its capabilities. */
  record Rule(String pattern, Set<String> capabilities) {}

  /**
   * Parses HCL policy text.
   *
   * @throws VaultException 400 {@code failed to parse policy: ...} on any syntax or capability
   *     error
   */
  static Policy parse(String name, String text) {
    if (text.strip().startsWith("{")) {
      return parseJson(name, text);
    }
    Lexer lx = new Lexer(stripComments(text));
    Map<String, Set<String>> rules = new LinkedHashMap<>();
    while (lx.skipWs()) {
      String keyword = lx.ident();
      if (!keyword.equals("path")) {
        // Other top-level stanzas (e.g. "name") are not part of ACLs; refuse them loudly.
        throw fail("unexpected keyword \"" + keyword + "\"");
      }
      String pattern = lx.string();
      lx.expect('{');
      Set<String> caps = new LinkedHashSet<>();
      while (true) {
        lx.skipWs();
        if (lx.peek() == '}') {
          lx.next();
          break;
        }
        String key = lx.ident();
        lx.expect('=');
        switch (key) {
          case "capabilities" -> {
            for (String c : lx.stringList()) {
              String cap = c.toLowerCase(Locale.ROOT);
              if (!CAPABILITIES.contains(cap)) {
                throw fail("path \"" + pattern + "\": invalid capability \"" + c + "\"");
              }
              caps.add(cap);
            }
          }
          case "policy" -> caps.addAll(legacy(lx.string(), pattern));
          default -> lx.skipValue();
        }
        lx.skipWs();
        if (lx.peek() == ',') {
          lx.next();
        }
      }
      rules.merge(
          pattern,
          caps,
          (a, b) -> {
            Set<String> merged = new LinkedHashSet<>(a);
            merged.addAll(b);
            return merged;
          });
    }
    List<Rule> list = new ArrayList<>();
    rules.forEach((p, c) -> list.add(new Rule(p, Set.copyOf(c))));
    return new Policy(name, List.copyOf(list));
  }

  /**
   * The JSON form of the same language (HCL's JSON syntax), which clients such as Spring Vault
   * send: {@code {"path": {"<pattern>": {"capabilities": [...]}}}}, or {@code "path"} as an array
   * of such objects.
   */
  private static Policy parseJson(String name, String text) {
    com.fasterxml.jackson.databind.JsonNode root;
    try {
      root = io.credbroker.devstack.http.Json.MAPPER.readTree(text);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw fail(e.getOriginalMessage());
    }
    Map<String, Set<String>> rules = new LinkedHashMap<>();
    com.fasterxml.jackson.databind.JsonNode paths = root.path("path");
    List<com.fasterxml.jackson.databind.JsonNode> blocks = new ArrayList<>();
    if (paths.isArray()) {
      paths.forEach(blocks::add);
    } else if (paths.isObject()) {
      blocks.add(paths);
    } else if (!root.isEmpty()) {
      throw fail("expected a \"path\" object");
    }
    for (com.fasterxml.jackson.databind.JsonNode block : blocks) {
      block
          .fields()
          .forEachRemaining(
              e -> {
                Set<String> caps = rules.computeIfAbsent(e.getKey(), k -> new LinkedHashSet<>());
                for (com.fasterxml.jackson.databind.JsonNode c :
                    e.getValue().path("capabilities")) {
                  String cap = c.asText().toLowerCase(Locale.ROOT);
                  if (!CAPABILITIES.contains(cap)) {
                    throw fail(
                        "path \"" + e.getKey() + "\": invalid capability \"" + c.asText() + "\"");
                  }
                  caps.add(cap);
                }
                if (e.getValue().has("policy")) {
                  caps.addAll(legacy(e.getValue().path("policy").asText(), e.getKey()));
                }
              });
    }
    List<Rule> list = new ArrayList<>();
    rules.forEach((p, c) -> list.add(new Rule(p, Set.copyOf(c))));
    return new Policy(name, List.copyOf(list));
  }

  private static Set<String> legacy(String policy, String pattern) {
    return switch (policy) {
      case "deny" -> Set.of("deny");
      case "read" -> Set.of("read", "list");
      case "write" -> Set.of("create", "read", "update", "delete", "list");
      case "sudo" -> Set.of("create", "read", "update", "delete", "list", "sudo");
      default -> throw fail("path \"" + pattern + "\": invalid policy \"" + policy + "\"");
    };
  }

  static VaultException fail(String message) {
    return VaultException.badRequest("failed to parse policy: " + message);
  }

  private static String stripComments(String text) {
    StringBuilder out = new StringBuilder();
    boolean inString = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (inString) {
        out.append(c);
        if (c == '\\' && i + 1 < text.length()) {
          out.append(text.charAt(++i));
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
        out.append(c);
      } else if (c == '#' || (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '/')) {
        while (i < text.length() && text.charAt(i) != '\n') {
          i++;
        }
        out.append('\n');
      } else if (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '*') {
        int end = text.indexOf("*/", i + 2);
        if (end < 0) {
          throw fail("unterminated comment");
        }
        i = end + 1;
        out.append(' ');
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** A tiny cursor over the comment-free text. */
  private static final class Lexer {
    private final String s;
    private int pos;

    Lexer(String s) {
      this.s = s;
    }

    /** Skips whitespace; false at the end of input. */
    boolean skipWs() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
      return pos < s.length();
    }

    char peek() {
      if (!skipWs()) {
        throw fail("unexpected end of input");
      }
      return s.charAt(pos);
    }

    char next() {
      char c = peek();
      pos++;
      return c;
    }

    void expect(char c) {
      char got = next();
      if (got != c) {
        throw fail("expected '" + c + "' but found '" + got + "' at offset " + (pos - 1));
      }
    }

    String ident() {
      skipWs();
      int start = pos;
      while (pos < s.length()
          && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '_')) {
        pos++;
      }
      if (start == pos) {
        throw fail("expected a key at offset " + pos);
      }
      return s.substring(start, pos);
    }

    String string() {
      expect('"');
      StringBuilder sb = new StringBuilder();
      while (pos < s.length()) {
        char c = s.charAt(pos++);
        if (c == '\\' && pos < s.length()) {
          sb.append(s.charAt(pos++));
        } else if (c == '"') {
          return sb.toString();
        } else {
          sb.append(c);
        }
      }
      throw fail("unterminated string");
    }

    List<String> stringList() {
      expect('[');
      List<String> values = new ArrayList<>();
      while (true) {
        if (peek() == ']') {
          next();
          return values;
        }
        values.add(string());
        if (peek() == ',') {
          next();
        }
      }
    }

    void skipValue() {
      char c = peek();
      if (c == '"') {
        string();
      } else if (c == '[') {
        int depth = 0;
        do {
          char d = s.charAt(pos++);
          if (d == '[') {
            depth++;
          } else if (d == ']') {
            depth--;
          } else if (d == '"') {
            pos--;
            string();
          }
        } while (depth > 0 && pos < s.length());
      } else if (c == '{') {
        int depth = 0;
        do {
          char d = s.charAt(pos++);
          if (d == '{') {
            depth++;
          } else if (d == '}') {
            depth--;
          }
        } while (depth > 0 && pos < s.length());
      } else {
        while (pos < s.length() && !Character.isWhitespace(s.charAt(pos)) && s.charAt(pos) != '}') {
          pos++;
        }
      }
    }
  }
}
