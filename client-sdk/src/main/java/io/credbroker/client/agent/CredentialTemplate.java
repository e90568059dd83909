package io.credbroker.client.agent;

import io.credbroker.client.Credential;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A file's text with placeholders for the credential: {@code {{ username | pgpass }}} is the user
 * name escaped for a {@code .pgpass} line. Every placeholder names a {@linkplain #FIELDS field} and
 * optionally an {@link Escaping} ({@code raw} when none is given); both are checked when the
 * template is parsed, so a typo fails at start-up, not at the first rotation. No loops, no
 * conditions: what a configuration file needs is a handful of values, each escaped for its place.
 *
 * <p>Immutable and thread-safe.
 */
final class CredentialTemplate {

  /**
   * The fields a placeholder may name. Times are ISO-8601 in UTC, empty when the broker did not
   * send them.
   */
  static final Map<String, Function<Credential, String>> FIELDS =
      Map.ofEntries(
          Map.entry("username", Credential::username),
          Map.entry("password", Credential::password),
          Map.entry("host", Credential::host),
          Map.entry(
              "port",
              credential -> credential.port() == 0 ? "" : Integer.toString(credential.port())),
          Map.entry("database", Credential::database),
          Map.entry("sslmode", Credential::sslmode),
          Map.entry("jdbc_url", Credential::jdbcUrl),
          Map.entry("credential_id", Credential::credentialId),
          Map.entry("database_role", Credential::databaseRole),
          Map.entry("issue_time", credential -> time(credential.issueTime())),
          Map.entry("max_expire_time", credential -> time(credential.maxExpireTime())));

  private final List<Part> parts;

  private CredentialTemplate(List<Part> parts) {
    this.parts = List.copyOf(parts);
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException naming the line of an unclosed placeholder, an unknown field
   *     or escaping
   */
  static CredentialTemplate parse(String text) {
    Objects.requireNonNull(text, "text");
    List<Part> parts = new ArrayList<>();
    int at = 0;
    while (at < text.length()) {
      int open = text.indexOf("{{", at);
      if (open < 0) {
        parts.add(new Literal(text.substring(at)));
        break;
      }
      if (open > at) {
        parts.add(new Literal(text.substring(at, open)));
      }
      int close = text.indexOf("}}", open + 2);
      if (close < 0) {
        throw new IllegalArgumentException("unclosed {{ on line " + line(text, open));
      }
      parts.add(placeholder(text.substring(open + 2, close), line(text, open)));
      at = close + 2;
    }
    return new CredentialTemplate(parts);
  }

  /**
   * The text for {@code credential}.
   *
   * @throws IllegalArgumentException if a value cannot be expressed in its escaping (a line break
   *     in a .pgpass field)
   */
  String render(Credential credential) {
    StringBuilder out = new StringBuilder();
    for (Part part : parts) {
      if (part instanceof Literal literal) {
        out.append(literal.text());
      } else if (part instanceof Placeholder placeholder) {
        String value = FIELDS.get(placeholder.field()).apply(credential);
        try {
          out.append(placeholder.escaping().apply(value));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "field " + placeholder.field() + ": " + e.getMessage(), e);
        }
      }
    }
    return out.toString();
  }

  private static Placeholder placeholder(String inside, int line) {
    String[] pieces = inside.split("\\|", -1);
    if (pieces.length > 2) {
      throw new IllegalArgumentException(
          "line " + line + ": more than one | in {{" + inside + "}}");
    }
    String field = pieces[0].strip();
    if (!FIELDS.containsKey(field)) {
      throw new IllegalArgumentException(
          "line "
              + line
              + ": unknown field '"
              + field
              + "'; known: "
              + FIELDS.keySet().stream().sorted().toList());
    }
    try {
      return new Placeholder(
          field, pieces.length == 2 ? Escaping.named(pieces[1].strip()) : Escaping.RAW);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("line " + line + ": " + e.getMessage(), e);
    }
  }

  private static int line(String text, int index) {
    int line = 1;
    for (int i = 0; i < index; i++) {
      if (text.charAt(i) == '\n') {
        line++;
      }
    }
    return line;
  }

  private static String time(@Nullable Instant instant) {
    return instant == null ? "" : instant.toString();
  }

  private sealed interface Part permits Literal, Placeholder {}

  private record Literal(String text) implements Part {}

  private record Placeholder(String field, Escaping escaping) implements Part {}
}
