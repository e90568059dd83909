package io.credbroker.broker.vault;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * A Vault token that creates credentials: orphan (no parent whose revocation would cascade to it),
 * not renewable, with a fixed lifetime. Every lease Vault creates with it dies with it at {@code
 * expireTime} at the latest, and with nothing else: not when the replica that created it stops,
 * crashes or logs in again.
 *
 * <p>Holds a secret: {@link #toString()} never prints it. Immutable.
 *
 * @param value the token itself; kept in memory only, never logged or stored
 * @param accessor Vault's accessor for it (what {@code auth/token/lookup-accessor} takes)
 * @param ttl the lifetime Vault granted at creation
 * @param expireTime when Vault revokes it, and every lease it created
 */
record IssuingToken(String value, String accessor, Duration ttl, Instant expireTime) {

  public IssuingToken {
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(accessor, "accessor");
    Objects.requireNonNull(ttl, "ttl");
    Objects.requireNonNull(expireTime, "expireTime");
    if (value.isBlank()) {
      throw new IllegalArgumentException("the token must not be empty");
    }
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException(
          "an issuing token must expire: a token without a TTL is a root token, never used to issue");
    }
  }

  /** Whether a credential issued now would still have at least half of the token's life to live. */
  boolean freshAt(Instant now) {
    return Duration.between(now, expireTime).compareTo(ttl.dividedBy(2)) > 0;
  }

  /**
   * Whether more than a quarter of its lifetime is left at {@code now}: while Vault cannot create a
   * new token, one past its half-life is still issued with until then, and not until it dies, since
   * every credential issued with it dies with it (or must be rotated before, with a new token that
   * cannot be had).
   */
  boolean usableAt(Instant now) {
    return Duration.between(now, expireTime).compareTo(ttl.dividedBy(4)) > 0;
  }

  @Override
  public String toString() {
    return "IssuingToken[value=****, accessor="
        + accessor
        + ", ttl="
        + ttl
        + ", expireTime="
        + expireTime
        + "]";
  }
}
