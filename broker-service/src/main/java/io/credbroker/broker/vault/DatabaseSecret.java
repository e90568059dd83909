package io.credbroker.broker.vault;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * A PostgreSQL login that Vault's database secrets engine just created, with its lease.
 *
 * <p>Holds a password: {@link #toString()} never prints it. Immutable.
 *
 * @param leaseId Vault's lease id, e.g. {@code database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK}
 * @param username the PostgreSQL user name
 * @param password the PostgreSQL password
 * @param leaseDuration how long the lease lives from now unless renewed
 * @param renewable whether Vault lets the lease be renewed
 * @param tokenExpireTime when the Vault token that created the lease dies: Vault revokes the lease
 *     then at the latest, whatever its TTL
 */
public record DatabaseSecret(
    String leaseId,
    String username,
    String password,
    Duration leaseDuration,
    boolean renewable,
    Instant tokenExpireTime) {

  public DatabaseSecret {
    Objects.requireNonNull(leaseId, "leaseId");
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(password, "password");
    Objects.requireNonNull(leaseDuration, "leaseDuration");
    Objects.requireNonNull(tokenExpireTime, "tokenExpireTime");
    if (leaseId.isBlank() || username.isBlank() || password.isEmpty()) {
      throw new IllegalArgumentException("lease id, username and password must not be empty");
    }
    if (leaseDuration.isNegative()) {
      throw new IllegalArgumentException("leaseDuration must not be negative");
    }
  }

  /** The same secret with another lease duration (after a renewal). */
  public DatabaseSecret withLeaseDuration(Duration newDuration) {
    return new DatabaseSecret(leaseId, username, password, newDuration, renewable, tokenExpireTime);
  }

  @Override
  public String toString() {
    return "DatabaseSecret[leaseId="
        + leaseId
        + ", username="
        + username
        + ", password=****, leaseDuration="
        + leaseDuration
        + ", renewable="
        + renewable
        + ", tokenExpireTime="
        + tokenExpireTime
        + "]";
  }
}
