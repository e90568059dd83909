package io.credbroker.client;

import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A PostgreSQL login handed out by the broker, plus where to use it.
 *
 * <p>Immutable and safe to share between threads. The password never appears in {@link
 * #toString()}, so a credential may be logged as a whole. Times are {@code null} only when the
 * broker did not send them.
 *
 * @param credentialId the broker's id for this credential (not a Vault lease id)
 * @param databaseRole the database role it was issued for, as named in the broker's bindings
 * @param username the PostgreSQL user name
 * @param password the PostgreSQL password
 * @param issueTime when the broker issued it
 * @param expireTime when the login stops working unless the broker renews it
 * @param maxExpireTime the latest time renewals can reach; the broker rotates before it
 * @param renewable whether the broker can still extend {@code expireTime}
 * @param jdbcUrl a JDBC URL without user or password, as configured by the operator; may be empty
 * @param host the database host; may be empty
 * @param port the database port; {@code 0} when unknown
 * @param database the database name; may be empty
 * @param sslmode the libpq {@code sslmode}; may be empty
 */
public record Credential(
    String credentialId,
    String databaseRole,
    String username,
    String password,
    @Nullable Instant issueTime,
    @Nullable Instant expireTime,
    @Nullable Instant maxExpireTime,
    boolean renewable,
    String jdbcUrl,
    String host,
    int port,
    String database,
    String sslmode) {

  public Credential {
    requireText(credentialId, "credentialId");
    requireText(databaseRole, "databaseRole");
    requireText(username, "username");
    Objects.requireNonNull(password, "password");
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(database, "database");
    Objects.requireNonNull(sslmode, "sslmode");
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be between 0 and 65535, was " + port);
    }
  }

  /** Returns this credential with a new expiry, as after a renewal. */
  public Credential withExpireTime(@Nullable Instant newExpireTime) {
    return new Credential(
        credentialId,
        databaseRole,
        username,
        password,
        issueTime,
        newExpireTime,
        maxExpireTime,
        renewable,
        jdbcUrl,
        host,
        port,
        database,
        sslmode);
  }

  @Override
  public String toString() {
    return "Credential[credentialId="
        + credentialId
        + ", databaseRole="
        + databaseRole
        + ", username="
        + username
        + ", password=****"
        + ", issueTime="
        + issueTime
        + ", expireTime="
        + expireTime
        + ", maxExpireTime="
        + maxExpireTime
        + ", renewable="
        + renewable
        + ", jdbcUrl="
        + jdbcUrl
        + ", host="
        + host
        + ", port="
        + port
        + ", database="
        + database
        + ", sslmode="
        + sslmode
        + "]";
  }

  private static void requireText(String value, String name) {
    Objects.requireNonNull(value, name);
    if (value.isBlank()) {
      throw new IllegalArgumentException(name + " must not be blank");
    }
  }
}
