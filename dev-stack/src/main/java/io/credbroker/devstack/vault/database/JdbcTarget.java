package io.credbroker.devstack.vault.database;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.jspecify.annotations.Nullable;

/**
 * Where and as whom to connect, translated from a libpq-style {@code connection_url} (the URL form
 * {@code postgres[ql]://user:pass@host:port/db?sslmode=disable} or the key/value form {@code
 * host=... port=... dbname=...}) into a PostgreSQL JDBC URL plus driver properties. Immutable;
 * {@link #toString} hides the password.
 *
 * @param jdbcUrl without credentials
 * @param user the login role, or null when the URL names none
 * @param password the login password, or null when the URL has none
 * @param properties further driver properties (sslmode, timeouts, runtime parameters)
 */
record JdbcTarget(
    String jdbcUrl,
    @Nullable String user,
    @Nullable String password,
    Map<String, String> properties) {

  JdbcTarget {
    properties = Map.copyOf(properties);
  }

  /** A connection_url that cannot be read; the message names the problem, never the password. */
  static final class InvalidConnectionUrlException extends Exception {
    InvalidConnectionUrlException(String message) {
      super(message);
    }
  }

  static JdbcTarget parse(String connectionUrl) throws InvalidConnectionUrlException {
    String url = connectionUrl.trim();
    if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
      return parseUrl(url);
    }
    if (url.contains("=")) {
      return parseKeyValue(url);
    }
    throw new InvalidConnectionUrlException(
        "cannot parse `" + redact(url) + "`: expected a postgres:// URL or key=value pairs");
  }

  Properties driverProperties() {
    Properties p = new Properties();
    p.putAll(properties);
    if (user != null) {
      p.setProperty("user", user);
    }
    if (password != null) {
      p.setProperty("password", password);
    }
    return p;
  }

  private static JdbcTarget parseUrl(String url) throws InvalidConnectionUrlException {
    String rest = url.substring(url.indexOf("://") + 3);
    int fragment = rest.indexOf('#');
    if (fragment >= 0) {
      rest = rest.substring(0, fragment);
    }
    String query = "";
    int q = rest.indexOf('?');
    if (q >= 0) {
      query = rest.substring(q + 1);
      rest = rest.substring(0, q);
    }
    // The user info ends at the last '@': url.PathEscape leaves '@' and ':' unescaped in the
    // substituted credentials, and Go's URL parser looks for the last '@' too.
    String userInfo = null;
    int at = rest.lastIndexOf('@');
    if (at >= 0) {
      userInfo = rest.substring(0, at);
      rest = rest.substring(at + 1);
    }
    String hosts = rest;
    String path = "";
    int slash = rest.indexOf('/');
    if (slash >= 0) {
      hosts = rest.substring(0, slash);
      path = rest.substring(slash + 1);
    }
    String user = null;
    String password = null;
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      user = decode(colon >= 0 ? userInfo.substring(0, colon) : userInfo);
      password = colon >= 0 ? decode(userInfo.substring(colon + 1)) : null;
    }
    Map<String, String> params = new LinkedHashMap<>();
    for (String pair : query.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = decode(eq >= 0 ? pair.substring(0, eq) : pair);
      String value = eq >= 0 ? decode(pair.substring(eq + 1)) : "";
      params.put(key, value);
    }
    String database = decode(path);
    return build(
        hosts.isEmpty() ? List.of() : List.of(hosts.split(",")), database, user, password, params);
  }

  private static JdbcTarget parseKeyValue(String dsn) throws InvalidConnectionUrlException {
    Map<String, String> params = new LinkedHashMap<>();
    int i = 0;
    while (i < dsn.length()) {
      while (i < dsn.length() && Character.isWhitespace(dsn.charAt(i))) {
        i++;
      }
      if (i >= dsn.length()) {
        break;
      }
      int eq = dsn.indexOf('=', i);
      if (eq < 0) {
        throw new InvalidConnectionUrlException("invalid dsn: missing \"=\" after a key");
      }
      String key = dsn.substring(i, eq).trim();
      i = eq + 1;
      while (i < dsn.length() && Character.isWhitespace(dsn.charAt(i))) {
        i++;
      }
      StringBuilder value = new StringBuilder();
      if (i < dsn.length() && dsn.charAt(i) == '\'') {
        i++;
        boolean closed = false;
        while (i < dsn.length()) {
          char c = dsn.charAt(i++);
          if (c == '\\' && i < dsn.length()) {
            value.append(dsn.charAt(i++));
          } else if (c == '\'') {
            closed = true;
            break;
          } else {
            value.append(c);
          }
        }
        if (!closed) {
          throw new InvalidConnectionUrlException("invalid dsn: unterminated quoted string");
        }
      } else {
        while (i < dsn.length() && !Character.isWhitespace(dsn.charAt(i))) {
          char c = dsn.charAt(i++);
          if (c == '\\' && i < dsn.length()) {
            value.append(dsn.charAt(i++));
          } else {
            value.append(c);
          }
        }
      }
      params.put(key, value.toString());
    }
    String user = params.remove("user");
    String password = params.remove("password");
    String database = params.getOrDefault("dbname", "");
    params.remove("dbname");
    List<String> hosts = new ArrayList<>();
    String host = params.remove("host");
    String port = params.remove("port");
    if (host != null) {
      String[] hostList = host.split(",");
      String[] portList = port == null ? new String[0] : port.split(",");
      for (int k = 0; k < hostList.length; k++) {
        String p = portList.length == 0 ? null : portList[Math.min(k, portList.length - 1)];
        hosts.add(p == null ? hostList[k] : hostList[k] + ":" + p);
      }
    } else if (port != null) {
      hosts.add("localhost:" + port);
    }
    return build(hosts, database, user, password, params);
  }

  private static JdbcTarget build(
      List<String> hosts,
      String database,
      @Nullable String user,
      @Nullable String password,
      Map<String, String> params)
      throws InvalidConnectionUrlException {
    List<String> hostPorts = new ArrayList<>();
    for (String h : hosts) {
      String hp = h.trim();
      if (hp.isEmpty()) {
        continue;
      }
      if (hp.startsWith("/")) {
        throw new InvalidConnectionUrlException(
            "unix-domain sockets are not supported by the stand-in");
      }
      boolean hasPort = hp.startsWith("[") ? hp.contains("]:") : hp.contains(":");
      hostPorts.add(hasPort ? hp : hp + ":5432");
    }
    if (hostPorts.isEmpty()) {
      hostPorts.add("localhost:5432");
    }
    // libpq's default database is the user's name.
    String db = database.isEmpty() && user != null ? user : database;
    Map<String, String> props = new LinkedHashMap<>();
    List<String> runtime = new ArrayList<>();
    boolean applicationName = false;
    for (Map.Entry<String, String> e : params.entrySet()) {
      String value = e.getValue();
      switch (e.getKey()) {
        case "sslmode", "sslcert", "sslkey", "sslrootcert", "sslpassword" ->
            props.put(e.getKey(), value);
        case "connect_timeout" -> props.put("connectTimeout", value);
        case "application_name" -> {
          props.put("ApplicationName", value);
          applicationName = true;
        }
        case "target_session_attrs" -> props.put("targetServerType", targetServerType(value));
        case "user" -> user = value;
        case "password" -> password = value;
        case "dbname" -> db = value;
        case "pool_max_conns",
            "pool_min_conns",
            "statement_cache_capacity",
            "default_query_exec_mode",
            "sslsni",
            "krbsrvname" -> {
          // pgx settings with no PostgreSQL JDBC equivalent the stand-in needs.
        }
        default -> runtime.add("-c " + e.getKey() + "=" + value.replace(" ", "\\ "));
      }
    }
    // Vault forces UTC sessions and names itself unless the URL says otherwise.
    if (!params.containsKey("timezone")) {
      runtime.add("-c timezone=UTC");
    }
    if (!applicationName) {
      props.put("ApplicationName", "vault");
    }
    if (!runtime.isEmpty()) {
      props.put("options", String.join(" ", runtime));
    }
    String jdbcUrl =
        "jdbc:postgresql://" + String.join(",", hostPorts) + "/" + encodePathSegment(db);
    return new JdbcTarget(jdbcUrl, user, password, props);
  }

  private static String targetServerType(String libpq) {
    return switch (libpq) {
      case "read-write", "primary" -> "primary";
      case "read-only", "standby" -> "secondary";
      case "prefer-standby" -> "preferSecondary";
      default -> "any";
    };
  }

  private static String encodePathSegment(String s) {
    return java.net.URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static String decode(String s) throws InvalidConnectionUrlException {
    try {
      // '+' stays a plus in a URL's user info and path, unlike in form encoding.
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new InvalidConnectionUrlException("invalid URL escape in connection_url");
    }
  }

  /** A URL for messages: any password in the user info becomes {@code xxxxx}, as Go redacts. */
  static String redact(String url) {
    int scheme = url.indexOf("://");
    if (scheme < 0) {
      return url.replaceAll("password=('[^']*'|\\S*)", "password=xxxxx");
    }
    int at = url.lastIndexOf('@');
    int colon = url.indexOf(':', scheme + 3);
    if (at < 0 || colon < 0 || colon > at) {
      return url;
    }
    return url.substring(0, colon + 1) + "xxxxx" + url.substring(at);
  }

  @Override
  public String toString() {
    return "JdbcTarget[jdbcUrl=" + jdbcUrl + ", user=" + user + ", properties=" + properties + "]";
  }
}
