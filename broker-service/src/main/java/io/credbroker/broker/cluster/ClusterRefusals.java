package io.credbroker.broker.cluster;

import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * When the cluster last turned a client away for load: this replica's own refusals ({@link
 * #refused}: a call shed at admission with {@code OVERLOADED}, a TokenReview throttled), and the
 * latest refusal any replica published with its heartbeat ({@link #observed}). {@link
 * ReplicaHeartbeat} writes this replica's last refusal into its row ({@code replica.refused_time})
 * and reads the latest of all rows on every beat, so a refusal anywhere is known everywhere within
 * about one heartbeat interval.
 *
 * <p>Why the cluster's, not the pod's: a call shed at admission is refused before its request (the
 * credential it wants to resume) or even its token is read, so which pod was turned away is never
 * known. A refusal anywhere means some pod may have been kept from resuming by the cluster rather
 * than by itself.
 *
 * <p>Times are the broker's clock ({@link StateDatabaseClock}: corrected to the state database's),
 * so the replicas' refusals compare with each other and with the credentials' detach times. Cost:
 * two longs. Thread-safe and lock-free: {@link #refused} is called on gRPC threads for each refused
 * call.
 */
public final class ClusterRefusals {

  private static final long NONE = Long.MIN_VALUE;

  private final Clock clock;
  private final AtomicLong ownLast = new AtomicLong(NONE);
  private final AtomicLong clusterLast = new AtomicLong(NONE);

  public ClusterRefusals(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** Records that this replica refused a call for load, now. */
  public void refused() {
    long now = clock.millis();
    ownLast.accumulateAndGet(now, Math::max);
  }

  /** The latest refusal of any replica, as read from the state database with a heartbeat. */
  void observed(@Nullable Instant latest) {
    if (latest != null) {
      clusterLast.accumulateAndGet(latest.toEpochMilli(), Math::max);
    }
  }

  /** This replica's last refusal, or {@code null} when it never refused a call for load. */
  @Nullable Instant ownLast() {
    return instant(ownLast.get());
  }

  /**
   * The last time any replica refused a call for load, as far as this replica knows (its own at
   * once, the others' as of the last heartbeat), or {@code null} when none did.
   */
  public @Nullable Instant last() {
    return instant(Math.max(ownLast.get(), clusterLast.get()));
  }

  private static @Nullable Instant instant(long millis) {
    return millis == NONE ? null : Instant.ofEpochMilli(millis);
  }
}
