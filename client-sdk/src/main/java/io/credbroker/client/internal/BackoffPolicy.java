package io.credbroker.client.internal;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Exponential backoff with symmetric jitter: attempt {@code n} waits about {@code initial *
 * multiplier^(n-1)}, capped at {@code max}, then spread by {@code ±jitter} so that many pods cut
 * off by the same broker restart do not reconnect in lockstep. Immutable.
 */
public record BackoffPolicy(Duration initial, Duration max, double multiplier, double jitter) {

  public BackoffPolicy {
    if (initial.isNegative() || initial.isZero()) {
      throw new IllegalArgumentException("initial backoff must be positive, was " + initial);
    }
    if (max.compareTo(initial) < 0) {
      throw new IllegalArgumentException(
          "max backoff " + max + " is shorter than initial backoff " + initial);
    }
    if (!(multiplier >= 1.0)) {
      throw new IllegalArgumentException(
          "backoff multiplier must be at least 1, was " + multiplier);
    }
    if (!(jitter >= 0.0 && jitter < 1.0)) {
      throw new IllegalArgumentException("backoff jitter must be in [0, 1), was " + jitter);
    }
  }

  /**
   * The delay before attempt {@code failures + 1}.
   *
   * @param failures consecutive failures so far, at least 1
   * @param random uniform values in {@code [0, 1)}
   */
  public Duration delay(int failures, DoubleSupplier random) {
    double base = initial.toNanos() * Math.pow(multiplier, Math.max(0, failures - 1));
    double capped = Math.min(base, (double) max.toNanos());
    double spread = capped * jitter * (2 * random.getAsDouble() - 1);
    return Duration.ofNanos(Math.max(0L, (long) (capped + spread)));
  }
}
