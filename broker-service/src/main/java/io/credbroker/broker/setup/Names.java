package io.credbroker.broker.setup;

import java.util.regex.Pattern;

/**
 * Validation and quoting of the names setup writes into SQL and into Vault paths. Names are checked
 * before anything is touched, so bad input changes nothing.
 */
final class Names {

  /**
   * PostgreSQL names we create: letters, digits, underscore, dash; no quote, semicolon or space,
   * because they also end up inside Vault statements that Vault splits on semicolons.
   */
  private static final Pattern SQL_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_-]{0,62}");

  /** One segment of a Vault path (mount, connection, role, policy names). */
  private static final Pattern VAULT_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  private Names() {}

  static String sqlName(String what, String name) {
    if (!SQL_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          what
              + " '"
              + name
              + "' is not a valid name: use 1 to 63 letters, digits, '_' or '-', starting with a letter or '_'");
    }
    return name;
  }

  static String vaultName(String what, String name) {
    if (!VAULT_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          what + " '" + name + "' is not a valid Vault name: use letters, digits, '_', '.' or '-'");
    }
    return name;
  }

  /** A double-quoted SQL identifier; names are validated first, the doubling is belt and braces. */
  static String quoteIdent(String name) {
    return '"' + name.replace("\"", "\"\"") + '"';
  }

  /** A single-quoted SQL string literal. */
  static String quoteLiteral(String text) {
    return '\'' + text.replace("'", "''") + '\'';
  }
}
