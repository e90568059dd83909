package io.credbroker.broker.auth;

import java.util.Objects;

/**
 * Where a pod connects with the credential it receives, as the operator configured it.
 *
 * @param host database host as pods reach it
 * @param port database port
 * @param database database name
 * @param sslmode libpq {@code sslmode}
 */
public record ConnectionHints(String host, int port, String database, String sslmode) {

  public ConnectionHints {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(database, "database");
    Objects.requireNonNull(sslmode, "sslmode");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
  }

  /** A PostgreSQL JDBC URL for these hints, without user or password. */
  public String jdbcUrl() {
    String hostPart = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    return "jdbc:postgresql://" + hostPart + ":" + port + "/" + database + "?sslmode=" + sslmode;
  }
}
