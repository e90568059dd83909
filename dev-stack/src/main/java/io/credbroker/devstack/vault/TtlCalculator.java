package io.credbroker.devstack.vault;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Vault's {@code framework.CalculateTTL} (sdk/framework/lease.go): {@link #calculate} in full, as
 * the token store uses it to create and renew tokens, and {@link #renew}, the form lease renewals
 * need (the requested TTL or the default, cut down to what remains of the max TTL counted from the
 * issue time). Stateless.
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
    // Vault truncates both times to the second before subtracting, so what remains of the max
    // is a whole number of seconds counted from the issue second.
    Duration remaining =
        Duration.between(
            now.truncatedTo(ChronoUnit.SECONDS),
            issueTime.truncatedTo(ChronoUnit.SECONDS).plus(maxTtl));
    if (remaining.isZero() || remaining.isNegative()) {
      throw VaultException.badRequest("past the max TTL, cannot renew");
    }
    if (ttl.compareTo(remaining) > 0) {
      return new Result(remaining, GoDuration.cappedWarning(ttl, remaining));
    }
    return new Result(ttl, null);
  }

  /** The outcome of {@link #calculate}: the TTL and Vault's capping warnings, in order. */
  record Calculated(Duration ttl, List<String> warnings) {
    Calculated {
      warnings = List.copyOf(warnings);
    }
  }

  /**
   * Vault's {@code CalculateTTL}: a zero argument means "not set". The max is the smallest of the
   * mount's, the backend's and the explicit max. A periodic TTL is the period (capped at the max)
   * and is bounded only by the explicit max; any other TTL is the increment, else the backend's
   * TTL, else the mount default, and never runs past {@code start} plus the max. Times are cut to
   * whole seconds first, as Vault does.
   *
   * @param mountDefaultTtl the token mount's (or system) default lease TTL
   * @param mountMaxTtl the token mount's (or system) max lease TTL
   * @throws VaultException 500 ({@code max TTL must be greater than zero}, {@code past the max TTL,
   *     cannot renew}), Vault's errors from this function
   */
  static Calculated calculate(
      Duration mountDefaultTtl,
      Duration mountMaxTtl,
      Duration increment,
      Duration backendTtl,
      Duration period,
      Duration backendMaxTtl,
      Duration explicitMaxTtl,
      Instant start,
      Instant now) {
    Instant nowSeconds = now.truncatedTo(ChronoUnit.SECONDS);
    Instant startSeconds = start.truncatedTo(ChronoUnit.SECONDS);
    Duration maxTtl = mountMaxTtl;
    if (isSet(backendMaxTtl) && backendMaxTtl.compareTo(maxTtl) < 0) {
      maxTtl = backendMaxTtl;
    }
    if (isSet(explicitMaxTtl) && explicitMaxTtl.compareTo(maxTtl) < 0) {
      maxTtl = explicitMaxTtl;
    }
    if (!isSet(maxTtl)) {
      throw VaultException.backendError("max TTL must be greater than zero");
    }
    List<String> warnings = new ArrayList<>();
    Duration ttl;
    Instant maxValidTime = null;
    if (isSet(period)) {
      if (period.compareTo(maxTtl) > 0) {
        warnings.add(
            "period of \""
                + GoDuration.format(period)
                + "\" exceeded the effective max_ttl of \""
                + GoDuration.format(maxTtl)
                + "\"; period value is capped accordingly");
        period = maxTtl;
      }
      ttl = period;
      if (isSet(explicitMaxTtl)) {
        maxValidTime = startSeconds.plus(explicitMaxTtl);
      }
    } else {
      ttl = isSet(increment) ? increment : isSet(backendTtl) ? backendTtl : mountDefaultTtl;
      maxValidTime = startSeconds.plus(maxTtl);
    }
    if (maxValidTime != null) {
      Duration maxValidTtl = Duration.between(nowSeconds, maxValidTime);
      if (!isSet(maxValidTtl)) {
        throw VaultException.backendError("past the max TTL, cannot renew");
      }
      if (ttl.compareTo(maxValidTtl) > 0) {
        warnings.add(GoDuration.cappedWarning(ttl, maxValidTtl));
        ttl = maxValidTtl;
      }
    }
    return new Calculated(ttl, warnings);
  }

  private static boolean isSet(Duration d) {
    return !d.isZero() && !d.isNegative();
  }
}
