package io.credbroker.broker.lease;

import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.config.BrokerProperties;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import java.time.Duration;
import java.util.Set;

/**
 * Lease settings for unit tests: the documented defaults, without Spring binding them; and a
 * binding.
 */
final class LeaseTestSettings {

  /** Database role {@code db1} for service account {@code public/application}. */
  static final Binding DB1 =
      new Binding(
          "db1",
          "database",
          "db1",
          Set.of("public"),
          Set.of("application"),
          new ConnectionHints("127.0.0.1", 5432, "db1", "disable"));

  private LeaseTestSettings() {}

  static BrokerProperties.Lease lease() {
    return new BrokerProperties.Lease(
        0.66,
        0.1,
        1.0,
        Duration.ofMinutes(2),
        Duration.ofMinutes(15),
        Duration.ofSeconds(30),
        Duration.ofSeconds(1),
        4,
        1000,
        Duration.ofSeconds(30),
        Duration.ofSeconds(30),
        Duration.ofSeconds(5),
        Duration.ofMinutes(10),
        8,
        Duration.ofMinutes(10),
        Duration.ofMinutes(5),
        new BrokerProperties.Reconcile(Duration.ofMinutes(5), Duration.ofMinutes(5)));
  }

  /** The bulkhead of release revocations as the broker builds it from {@link #lease()}. */
  static Bulkhead releaseRevocations() {
    return Bulkhead.of(
        LeaseConfiguration.RELEASE_REVOCATIONS,
        BulkheadConfig.custom()
            .maxConcurrentCalls(lease().maxConcurrentReleaseRevocations())
            .maxWaitDuration(Duration.ZERO)
            .build());
  }
}
