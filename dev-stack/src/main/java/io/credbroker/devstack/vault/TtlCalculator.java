package io.credbroker.devstack.vault;

import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Vault's {@code framework.CalculateTTL} for renewals: the requested TTL (or the default), cut
 * down to what remains of the max TTL counted from the issue time. Stateless.
 */
final class TtlCalculator {

  private TtlCalculator() {}

  /** The outcome: the TTL to grant and the warning when it was capped. */
  record Result(Duration ttl, @Nullable String warning) {}

  /**
   * @param increment what the caller asked for; zero means {@code defaultTtl}
   * @param maxTtl the effective max (already the smaller of role and mount max)
   * @throws VaultException 400 when the max TTL has already passed
   */
  static Result renew(
      Duration increment, Duration defaultTtl, Duration maxTtl, Instant issueTime, Instant now) {
    Duration ttl = increment.isZero() || increment.isNegative() ? defaultTtl : increment;
    // Vault counts in whole seconds; sub-second remainders would only make warnings noisy.
    Duration remaining = Duration.ofSeconds(Duration.between(now, issueTime.plus(maxTtl)).getSeconds());
    if (remaining.isZero() || remaining.isNegative()) {
      throw VaultException.badRequest("past the max TTL, cannot renew");
    }
    if (ttl.compareTo(remaining) > 0) {
      return new Result(remaining, GoDuration.cappedWarning(ttl, remaining));
    }
    return new Result(ttl, null);
  }
}
