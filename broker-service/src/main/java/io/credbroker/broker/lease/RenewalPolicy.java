package io.credbroker.broker.lease;

import static io.credbroker.broker.lease.Backoff.jitteredBackoffMillis;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * When a lease is renewed: at {@code renewalFraction} of its lifetime, moved earlier by up to
 * {@code renewalJitter} of it at random (so that credentials issued together do not all renew
 * together), never within 200 ms, and never after the credential's limit: the renewal due then is
 * the one that rotates it. Used when a credential is issued ({@link LeaseService#issue}) and after
 * each renewal ({@link LeaseDecisions}).
 *
 * <p>Immutable and thread-safe.
 */
final class RenewalPolicy {

  /** The shortest wait before a renewal is tried again. */
  private static final Duration MIN_RETRY = Duration.ofMillis(200);

  private final double fraction;
  private final double jitter;

  /**
   * @param fraction {@code credbroker.lease.renewal-fraction}
   * @param jitter {@code credbroker.lease.renewal-jitter}
   */
  RenewalPolicy(double fraction, double jitter) {
    this.fraction = fraction;
    this.jitter = jitter;
  }

  /**
   * When the rotation window of a credential opens: the first renewal from then on rotates it. That
   * is {@code rotationMargin} of its lease's {@code lifetime} before its {@code limit} (its max
   * expiry), and one regular renewal interval ({@code fraction} of the lifetime) earlier still,
   * since the renewal that rotates comes up to that interval after the window opens. A rotation (a
   * new credential, the client's switch, its acknowledgement) so has at least {@code
   * rotationMargin} of a lifetime, however the renewals fell, not whatever the last regular renewal
   * left it; the rotations of credentials that share a limit (their issuing token's death) still
   * come at their own renewal times.
   */
  static Instant rotationStart(
      Duration lifetime, Instant limit, double fraction, double rotationMargin) {
    return limit.minusMillis((long) (lifetime.toMillis() * (rotationMargin + fraction)));
  }

  /**
   * When to renew a lease that lives {@code lifetime} from {@code from}, not after {@code limit}
   * (the credential's max expiry, when known).
   */
  Instant due(Instant from, Duration lifetime, @Nullable Instant limit) {
    double at = fraction - jitter * ThreadLocalRandom.current().nextDouble();
    long millis = Math.max(200, (long) (lifetime.toMillis() * at));
    Instant due = from.plusMillis(millis);
    if (limit == null || !limit.isBefore(due)) {
      return due;
    }
    // Never later than the credential's limit: the renewal due then is the one that rotates it.
    return limit.isAfter(from) ? limit : from;
  }

  /**
   * When to try again a renewal that could not reach Vault after {@code failures} such attempts:
   * capped exponential backoff with jitter, and while the lease lives (until {@code expire}) within
   * a third of what remains of it, so that several attempts fit before it runs out; once it has,
   * the backoff alone rules.
   */
  static Instant retryAt(Instant now, Instant expire, int failures, Duration retryMax) {
    long jittered = jitteredBackoffMillis(MIN_RETRY, retryMax, Math.min(failures, 16));
    Duration remaining = Duration.between(now, expire);
    long beforeExpiry =
        remaining.isNegative()
            ? Long.MAX_VALUE
            : Math.max(MIN_RETRY.toMillis(), remaining.toMillis() / 3);
    return now.plusMillis(Math.max(MIN_RETRY.toMillis(), Math.min(jittered, beforeExpiry)));
  }
}
