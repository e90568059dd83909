package io.credbroker.broker.lease;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lease lifecycle's gauges: live credentials by state, the earliest unrenewed expiry, the
 * renewal backlog (renewals overdue and the lag of the most overdue one), the earliest death of an
 * issuing token, and the revocation retry queue's depth and oldest age. They are registered at
 * construction and hold the values of the last {@link #refresh()}, which the {@link LeaseKeeper}'s
 * poller calls every few polls (reading them never touches the database).
 *
 * <p>Thread-safe: the values are atomics, written by the poller and read by the meter registry.
 */
final class LeaseGauges {

  private static final Logger log = LoggerFactory.getLogger(LeaseGauges.class);

  private final CredentialQueries credentials;
  private final RevocationRetryQueue retryQueue;
  private final String replica;
  private final Clock clock;

  private final Map<String, AtomicLong> liveCounts = new ConcurrentHashMap<>();
  private final AtomicReference<@Nullable Instant> earliestExpiry = new AtomicReference<>();
  private final AtomicReference<@Nullable Instant> earliestTokenExpiry = new AtomicReference<>();
  private final AtomicLong overdueRenewals = new AtomicLong();
  private final AtomicReference<@Nullable Instant> oldestRenewalDue = new AtomicReference<>();
  private final AtomicLong retryDepth = new AtomicLong();
  private final AtomicReference<Duration> oldestRetryAge = new AtomicReference<>(Duration.ZERO);

  LeaseGauges(
      CredentialQueries credentials,
      RevocationRetryQueue retryQueue,
      String replica,
      Clock clock,
      MeterRegistry registry) {
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.retryQueue = Objects.requireNonNull(retryQueue, "retryQueue");
    this.replica = Objects.requireNonNull(replica, "replica");
    this.clock = Objects.requireNonNull(clock, "clock");
    registerGauges(registry);
  }

  private void registerGauges(MeterRegistry registry) {
    for (String state : new String[] {"attached", "detached", "replaced", "one_shot"}) {
      AtomicLong count = liveCounts.computeIfAbsent(state, s -> new AtomicLong());
      Gauge.builder("credbroker.credentials.live", count, AtomicLong::get)
          .description("Live credentials this replica is responsible for, by state")
          .tag("state", state)
          .register(registry);
    }
    Gauge.builder("credbroker.lease.earliest.unrenewed.expiry", earliestExpiry, this::secondsUntil)
        .description(
            "Seconds until the earliest expiry among the leases this replica renews; +Inf while it"
                + " renews none (this replica; aggregate with min)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("credbroker.lease.renewals.overdue", overdueRenewals, AtomicLong::get)
        .description(
            "Credentials this replica renews whose renewal is due and not yet made: more than a"
                + " few for minutes means Vault completes fewer renewals than are due (this"
                + " replica; aggregate with sum)")
        .register(registry);
    Gauge.builder("credbroker.lease.renewal.lag", oldestRenewalDue, this::secondsSince)
        .description(
            "Seconds since the renewal of the most overdue credential this replica renews was"
                + " due; 0 while none is overdue. Past a third of the TTL leases expire unrenewed"
                + " (this replica; aggregate with max)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("credbroker.revocation.retry.queue.depth", retryDepth, AtomicLong::get)
        .description(
            "Revocations waiting for Vault to confirm them (whole cluster: every replica reports the"
                + " same value; aggregate with max)")
        .register(registry);
    Gauge.builder(
            "credbroker.revocation.retry.oldest.age",
            oldestRetryAge,
            age -> age.get().toMillis() / 1000.0)
        .description(
            "Seconds the longest-waiting revocation has waited for Vault to confirm it; 0 while none"
                + " waits (whole cluster: every replica reports the same value; aggregate with max)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("credbroker.lease.earliest.token.expiry", earliestTokenExpiry, this::secondsUntil)
        .description(
            "Seconds until the earliest death of a Vault token that created a live credential; +Inf"
                + " while there is none (whole cluster: every replica reports the same value;"
                + " aggregate with min)")
        .baseUnit("seconds")
        .register(registry);
  }

  /**
   * Seconds from now until the time held, for a gauge; +Inf while there is none, so that a
   * threshold such as {@code < 300} stays false and {@code min} across replicas stays right (NaN
   * would do neither in a dashboard).
   */
  private double secondsUntil(AtomicReference<@Nullable Instant> time) {
    Instant at = time.get();
    return at == null
        ? Double.POSITIVE_INFINITY
        : Duration.between(clock.instant(), at).toMillis() / 1000.0;
  }

  /** Seconds from the time held until now, for a gauge; 0 while there is none. */
  private double secondsSince(AtomicReference<@Nullable Instant> time) {
    Instant at = time.get();
    return at == null ? 0 : Math.max(0, Duration.between(at, clock.instant()).toMillis() / 1000.0);
  }

  /** Reads the gauges' values from the state store; a failure leaves the previous values. */
  void refresh() {
    try {
      credentials.liveCounts(replica).forEach((state, count) -> liveCounts.get(state).set(count));
      earliestExpiry.set(credentials.earliestRenewedExpiry(replica).orElse(null));
      CredentialQueries.RenewalBacklog backlog =
          credentials.renewalBacklog(replica, clock.instant());
      overdueRenewals.set(backlog.overdue());
      oldestRenewalDue.set(backlog.oldestDue());
      earliestTokenExpiry.set(credentials.earliestTokenExpiry().orElse(null));
      retryDepth.set(retryQueue.depth());
      oldestRetryAge.set(retryQueue.oldestAge());
    } catch (RuntimeException e) {
      log.debug("Refreshing lease gauges failed", e);
    }
  }
}
