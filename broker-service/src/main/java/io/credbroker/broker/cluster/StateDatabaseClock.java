package io.credbroker.broker.cluster;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * The broker's clock: this host's clock corrected to the state database's, which every replica
 * shares.
 *
 * <p>Replicas compare times that other replicas wrote: a takeover stamps {@code detached_time} with
 * the database's {@code now()} and the new owner ends the reconnect grace from it; the drain grace
 * ({@code revoke_after}) and the schedule ({@code next_action_time}) are written by one replica and
 * may be acted on by another. With each host's own clock, a replica whose clock runs d seconds
 * ahead ends those graces d seconds early (and revokes credentials whose clients are still
 * resuming). Every heartbeat reads the database's {@code clock_timestamp()} and this clock keeps
 * the difference from the host's clock, taken at the midpoint of the round trip, so that every
 * replica reads the same time to within half a heartbeat's round trip. Only round trips shorter
 * than {@link #MAX_ROUND_TRIP} correct it; until the first heartbeat, and when the database is
 * away, the last correction stands (the host's clock at start).
 *
 * <p>Thread-safe.
 */
public final class StateDatabaseClock extends Clock {

  /** Longer round trips say too little about when the database read its clock. */
  static final Duration MAX_ROUND_TRIP = Duration.ofMillis(500);

  private final Clock host;
  private volatile Duration offset = Duration.ZERO;

  public StateDatabaseClock(Clock host) {
    this.host = Objects.requireNonNull(host, "host");
  }

  /** A clock on this host's UTC clock, corrected by the heartbeats. */
  public static StateDatabaseClock systemUtc() {
    return new StateDatabaseClock(Clock.systemUTC());
  }

  /** This host's clock, as the corrections read it (for the heartbeat's own timing). */
  Instant hostInstant() {
    return host.instant();
  }

  /**
   * The database read {@code databaseTime} between {@code sent} and {@code received} (host times):
   * corrects this clock to it unless the round trip took too long to tell.
   *
   * @return whether this reading corrected the clock
   */
  boolean observe(Instant sent, Instant databaseTime, Instant received) {
    Duration roundTrip = Duration.between(sent, received);
    if (roundTrip.isNegative() || roundTrip.compareTo(MAX_ROUND_TRIP) > 0) {
      return false;
    }
    Instant midpoint = sent.plus(roundTrip.dividedBy(2));
    offset = Duration.between(midpoint, databaseTime);
    return true;
  }

  /** How far the database's clock is ahead of this host's (negative: behind), last measured. */
  public Duration offset() {
    return offset;
  }

  @Override
  public Instant instant() {
    return host.instant().plus(offset);
  }

  @Override
  public long millis() {
    return instant().toEpochMilli();
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  /** Always UTC: the broker stores and compares instants only. */
  @Override
  public Clock withZone(ZoneId zone) {
    if (!ZoneOffset.UTC.equals(zone)) {
      throw new UnsupportedOperationException("the broker's clock is UTC only");
    }
    return this;
  }
}
