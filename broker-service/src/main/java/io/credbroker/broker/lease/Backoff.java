package io.credbroker.broker.lease;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** The jittered exponential backoff that renewals and revocation retries wait between attempts. */
final class Backoff {

  private Backoff() {}

  /**
   * {@code initial} doubled {@code doublings} times, at most {@code max}, then drawn at random from
   * its upper half, so that replicas and credentials that failed together do not retry together.
   */
  static long jitteredBackoffMillis(Duration initial, Duration max, int doublings) {
    long backoff = Math.min(max.toMillis(), initial.toMillis() << doublings);
    return (long) (backoff * (0.5 + ThreadLocalRandom.current().nextDouble() / 2));
  }
}
