package io.credbroker.broker.vault;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * When a credential creation refused at this replica's limit should come back: the refused callers
 * are given retry delays spread over the time the limit needs to serve them, rather than one fixed
 * delay that brings them all back at once to be refused again.
 *
 * <p>With every slot taken, a slot frees about every {@code d / limit}, where {@code d} is how long
 * a creation takes now (the mean of the last {@code limit} creations that reached Vault; Vault's
 * PostgreSQL plugin serialises creations per database connection, so {@code d} grows with what all
 * replicas have in flight there). Refused callers are asked back {@value #EAGERNESS} times as often
 * as that: the first after {@code d / limit / EAGERNESS}, the next after twice that, and so on; the
 * queue drains as time passes. A delay is never shorter than {@code floor} (clients are not invited
 * to hammer) nor longer than {@code ceiling} (a caller past it is asked again then and queued anew,
 * with what a creation takes by then). Until a creation has completed, every refusal gets the
 * floor.
 *
 * <p>Nothing is reserved: a caller that comes back early or late competes for a slot like any
 * other. The delays only keep the callers' returns near the rate slots free up. Every refusal moves
 * the queue on, whoever asked; the ceiling bounds what a caller refused over and over costs the
 * others (a pod's issuances are rate-limited before they get here).
 *
 * <p>Thread-safe.
 */
final class CreationBacklog {

  /**
   * How many times faster than slots free up the refused callers are asked back. A creation time
   * measured in a storm overstates what Vault can do once the storm's other work (handshakes,
   * TokenReviews) has passed, and a caller asked to come back too late leaves Vault idle, while one
   * back too early is refused again at little cost and queued anew. Measured in the rollout storm
   * (load-tests/REPORT.md): exactly as often as slots free up (1) was slower than a fixed 1 s
   * delay; four times took no less time than two, with 1.7 times the refusals.
   */
  private static final int EAGERNESS = 2;

  private final Duration floor;
  private final Duration ceiling;
  private final LongSupplier nanoTime;

  /** The durations of the last creations, in nanoseconds; a ring of {@code limit} entries. */
  @GuardedBy("this")
  private final long[] recent;

  /** Where in {@link #recent} the next duration goes. */
  @GuardedBy("this")
  private int next;

  /** How many entries of {@link #recent} hold a duration; at most its length. */
  @GuardedBy("this")
  private int samples;

  @GuardedBy("this")
  private long recentSum;

  /** When ({@link #nanoTime}) the last caller refused is expected to find a slot. */
  @GuardedBy("this")
  private long lastSlot;

  /**
   * @param limit how many creations this replica lets into Vault at once
   * @param floor the shortest delay handed out
   * @param ceiling the longest delay handed out
   * @param nanoTime the clock, as {@link System#nanoTime}
   */
  CreationBacklog(int limit, Duration floor, Duration ceiling, LongSupplier nanoTime) {
    if (limit < 1 || floor.isNegative() || ceiling.compareTo(floor) < 0) {
      throw new IllegalArgumentException("limit " + limit + ", floor " + floor + ", " + ceiling);
    }
    this.recent = new long[limit];
    this.floor = floor;
    this.ceiling = ceiling;
    this.nanoTime = nanoTime;
    this.lastSlot = nanoTime.getAsLong();
  }

  /** A creation that reached Vault took {@code nanos}, whatever its outcome. */
  synchronized void completed(long nanos) {
    recentSum += nanos - recent[next];
    recent[next] = nanos;
    next = (next + 1) % recent.length;
    samples = Math.min(samples + 1, recent.length);
  }

  /** The retry delay for a creation refused now, one step after the last one refused. */
  synchronized Duration refused() {
    if (samples == 0) {
      return floor;
    }
    long interval = recentSum / samples / recent.length / EAGERNESS;
    long now = nanoTime.getAsLong();
    long latest = now + ceiling.toNanos();
    lastSlot = Math.min(Math.max(lastSlot, now) + interval, latest);
    long delay = lastSlot - now;
    return delay < floor.toNanos() ? floor : Duration.ofNanos(delay);
  }
}
