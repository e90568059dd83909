package io.credbroker.broker.lease;

import io.credbroker.broker.config.BrokerProperties;
import java.time.Duration;

/** Lease settings for unit tests: the documented defaults, without Spring binding them. */
final class LeaseTestSettings {

  private LeaseTestSettings() {}

  static BrokerProperties.Lease lease() {
    return new BrokerProperties.Lease(
        0.66,
        0.1,
        1.0,
        Duration.ofMinutes(2),
        Duration.ofSeconds(30),
        Duration.ofSeconds(1),
        4,
        1000,
        Duration.ofSeconds(30),
        Duration.ofSeconds(30),
        Duration.ofSeconds(5),
        Duration.ofMinutes(10),
        Duration.ofMinutes(10),
        Duration.ofMinutes(5),
        new BrokerProperties.Reconcile(Duration.ofMinutes(5), Duration.ofMinutes(5)));
  }
}
