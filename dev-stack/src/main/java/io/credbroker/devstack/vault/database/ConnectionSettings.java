package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The PostgreSQL plugin's view of a config's {@code connection_details}, decoded as Vault's SQL
 * connection producer does (weakly typed: {@code "4"} is an int, {@code "true"} a bool), with
 * {@code {{username}}}/{{@code {password}}} substituted into the URL. Immutable; {@link #toString}
 * hides the password.
 */
record ConnectionSettings(
    JdbcTarget target,
    String connectionUrl,
    String username,
    String password,
    int maxOpenConnections,
    int maxIdleConnections,
    Duration maxConnectionLifetime,
    UsernameTemplate usernameTemplate,
    boolean scramSha256) {

  static ConnectionSettings from(JsonNode details) throws DatabaseException {
    String rawUrl = text(details, "connection_url");
    if (rawUrl.isEmpty()) {
      throw new DatabaseException("connection_url cannot be empty");
    }
    String username = text(details, "username");
    String password = text(details, "password");
    if (username.contains("{{username}}")
        || username.contains("{{password}}")
        || password.contains("{{username}}")
        || password.contains("{{password}}")) {
      throw new DatabaseException("username and/or password cannot contain the template variables");
    }
    boolean disableEscaping = bool(details, "disable_escaping");
    String url =
        rawUrl
            .replace("{{username}}", disableEscaping ? username : pathEscape(username))
            .replace("{{password}}", disableEscaping ? password : pathEscape(password));
    int maxOpen = integer(details, "max_open_connections");
    if (maxOpen == 0) {
      maxOpen = 4;
    }
    int maxIdle = integer(details, "max_idle_connections");
    if (maxIdle == 0 || maxIdle > maxOpen) {
      maxIdle = maxOpen;
    }
    Duration lifetime;
    try {
      lifetime = GoDurations.parseSeconds(details.path("max_connection_lifetime"));
    } catch (GoDurations.InvalidDurationException e) {
      throw new DatabaseException("invalid max_connection_lifetime: " + e.getMessage());
    }
    JdbcTarget target;
    try {
      target = JdbcTarget.parse(url);
    } catch (JdbcTarget.InvalidConnectionUrlException e) {
      throw new DatabaseException(e.getMessage());
    }
    String templateText = text(details, "username_template");
    if (templateText.isEmpty()) {
      templateText = UsernameTemplate.DEFAULT;
    }
    UsernameTemplate template;
    try {
      template = UsernameTemplate.parse(templateText);
    } catch (UsernameTemplate.TemplateException e) {
      throw new DatabaseException(
          "unable to initialize username template: unable to parse template: " + e.getMessage());
    }
    try {
      template.generate("", "");
    } catch (UsernameTemplate.TemplateException e) {
      throw new DatabaseException(
          "invalid username template: unable to apply template: " + e.getMessage());
    }
    String auth = text(details, "password_authentication");
    boolean scram;
    switch (auth) {
      case "", "password" -> scram = false;
      case "scram-sha-256" -> scram = true;
      default ->
          throw new DatabaseException("'" + auth + "' is not a valid password authentication type");
    }
    return new ConnectionSettings(
        target, url, username, password, maxOpen, maxIdle, lifetime, template, scram);
  }

  /** The admin password and its URL-escaped form, which must never appear in messages. */
  String sanitize(@Nullable String message) {
    if (message == null) {
      return "";
    }
    String out = message;
    for (String secret : new String[] {password, pathEscape(password), target.password()}) {
      if (secret != null && !secret.isEmpty()) {
        out = out.replace(secret, "[password]");
      }
    }
    return out;
  }

  private static String text(JsonNode details, String field) throws DatabaseException {
    JsonNode v = details.get(field);
    if (v == null || v.isNull()) {
      return "";
    }
    if (v.isValueNode()) {
      return v.asText();
    }
    throw new DatabaseException(
        "1 error(s) decoding:\n\n* '"
            + field
            + "' expected type 'string', got unconvertible type '"
            + goKind(v)
            + "'");
  }

  private static int integer(JsonNode details, String field) throws DatabaseException {
    JsonNode v = details.get(field);
    if (v == null || v.isNull()) {
      return 0;
    }
    if (v.isNumber()) {
      return v.intValue();
    }
    if (v.isBoolean()) {
      return v.booleanValue() ? 1 : 0;
    }
    if (v.isTextual()) {
      String s = v.asText().trim();
      if (s.isEmpty()) {
        return 0;
      }
      try {
        return Integer.parseInt(s);
      } catch (NumberFormatException e) {
        throw new DatabaseException(
            "1 error(s) decoding:\n\n* cannot parse '"
                + field
                + "' as int: strconv.ParseInt: parsing \""
                + s
                + "\": invalid syntax");
      }
    }
    throw new DatabaseException(
        "1 error(s) decoding:\n\n* '"
            + field
            + "' expected type 'int', got unconvertible type '"
            + goKind(v)
            + "'");
  }

  private static boolean bool(JsonNode details, String field) throws DatabaseException {
    JsonNode v = details.get(field);
    if (v == null || v.isNull()) {
      return false;
    }
    if (v.isBoolean()) {
      return v.booleanValue();
    }
    if (v.isNumber()) {
      return v.asDouble() != 0;
    }
    if (v.isTextual()) {
      switch (v.asText()) {
        case "1", "t", "T", "true", "TRUE", "True" -> {
          return true;
        }
        case "", "0", "f", "F", "false", "FALSE", "False" -> {
          return false;
        }
        default ->
            throw new DatabaseException(
                "1 error(s) decoding:\n\n* cannot parse '"
                    + field
                    + "' as bool: strconv.ParseBool: parsing \""
                    + v.asText()
                    + "\": invalid syntax");
      }
    }
    throw new DatabaseException(
        "1 error(s) decoding:\n\n* '"
            + field
            + "' expected type 'bool', got unconvertible type '"
            + goKind(v)
            + "'");
  }

  private static String goKind(JsonNode v) {
    return v.isArray()
        ? "[]interface {}"
        : v.isObject() ? "map[string]interface {}" : "interface {}";
  }

  /** Go's {@code url.PathEscape}. */
  static String pathEscape(String s) {
    StringBuilder sb = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      boolean keep =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || "-_.~$&+:=@".indexOf(c) >= 0;
      if (keep) {
        sb.append((char) c);
      } else {
        sb.append('%')
            .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return "ConnectionSettings[target="
        + target
        + ", username="
        + username
        + ", maxOpenConnections="
        + maxOpenConnections
        + ", scramSha256="
        + scramSha256
        + "]";
  }
}
