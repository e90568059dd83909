package io.credbroker.client.agent;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * How a value is written into one kind of file, named in templates as {@code {{ password | pgpass
 * }}}. Each escapes exactly what its format's reader unescapes, so that any password the broker
 * hands out reads back unchanged; a value the format cannot express at all is refused rather than
 * written wrong.
 */
enum Escaping {

  /** As is: for formats whose author escapes by hand. */
  RAW {
    @Override
    String apply(String value) {
      return value;
    }
  },

  /**
   * One field of a {@code .pgpass} line: libpq reads {@code \:} and {@code \\} as a literal colon
   * and backslash, and a bare {@code *} as "any" (libpq's {@code passwordFromFile}). So an empty
   * value (the broker sent no host, port or database) becomes {@code *}, and a literal {@code *} is
   * written {@code \*}. A line cannot hold a line break, so a value with one is refused.
   */
  PGPASS {
    @Override
    String apply(String value) {
      refuseLineBreaks(value, "a .pgpass field");
      if (value.isEmpty()) {
        return "*";
      }
      if (value.equals("*")) {
        return "\\*";
      }
      return value.replace("\\", "\\\\").replace(":", "\\:");
    }
  },

  /**
   * A value in an env file: single-quoted, as POSIX {@code sh} reads it ({@code . ./db.env} or
   * {@code set -a}), with each {@code '} written as {@code '\''}. Docker's {@code --env-file} and
   * systemd take the line literally, so use this format with a shell, or with dotenv libraries
   * (which strip single quotes as well, but read {@code '\''} differently). A value with a line
   * break is refused: {@code sh} would read it, but a dotenv library reads line by line, and the
   * part after the break would become a variable of its own.
   */
  ENV {
    @Override
    String apply(String value) {
      refuseLineBreaks(value, "an env file value");
      return "'" + value.replace("'", "'\\''") + "'";
    }
  },

  /**
   * The inside of a JSON string (RFC 8259 section 7): quote, backslash and control characters
   * escaped.
   */
  JSON {
    @Override
    String apply(String value) {
      StringBuilder out = new StringBuilder(value.length() + 8);
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        switch (c) {
          case '"' -> out.append("\\\"");
          case '\\' -> out.append("\\\\");
          case '\n' -> out.append("\\n");
          case '\r' -> out.append("\\r");
          case '\t' -> out.append("\\t");
          case '\b' -> out.append("\\b");
          case '\f' -> out.append("\\f");
          default -> {
            if (c < 0x20) {
              out.append(String.format("\\u%04x", (int) c));
            } else {
              out.append(c);
            }
          }
        }
      }
      return out.toString();
    }
  },

  /**
   * A JSON number: the value when it is a decimal integer, {@code null} when empty; anything else
   * is refused.
   */
  NUMBER {
    @Override
    String apply(String value) {
      if (value.isEmpty()) {
        return "null";
      }
      if (!value.matches("-?[0-9]+")) {
        throw new IllegalArgumentException("not a number");
      }
      return value;
    }
  },

  /**
   * A value in a libpq keyword/value connection string: single-quoted when empty or when it holds a
   * space, a quote or a backslash, with {@code '} and {@code \} backslash-escaped (PostgreSQL
   * manual, "Keyword/Value Connection Strings"); bare otherwise.
   */
  CONNINFO {
    @Override
    String apply(String value) {
      boolean quote = value.isEmpty();
      for (int i = 0; i < value.length() && !quote; i++) {
        char c = value.charAt(i);
        quote = Character.isWhitespace(c) || c == '\'' || c == '\\' || c == '=';
      }
      if (!quote) {
        return value;
      }
      return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
  },

  /**
   * A component of a {@code postgresql://} URI: percent-encoded (RFC 3986), spaces as {@code %20}.
   */
  URL {
    @Override
    String apply(String value) {
      return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
  };

  abstract String apply(String value);

  /** The escaping named {@code name} in a template ({@code pgpass}, {@code env}, ...). */
  static Escaping named(String name) {
    for (Escaping escaping : values()) {
      if (escaping.name().equalsIgnoreCase(name)) {
        return escaping;
      }
    }
    throw new IllegalArgumentException(
        "unknown escaping '" + name + "'; known: raw, pgpass, env, json, number, conninfo, url");
  }

  private static void refuseLineBreaks(String value, String what) {
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
      throw new IllegalArgumentException(what + " cannot hold a line break");
    }
  }
}
