package io.credbroker.broker.vault;

import java.time.Duration;
import java.util.Objects;

/**
 * Vault's answer to a lease renewal. Immutable.
 *
 * @param leaseDuration how long the lease lives from now
 * @param capped whether Vault granted less than asked for because the lease is near its max TTL
 */
public record LeaseRenewal(Duration leaseDuration, boolean capped) {

  public LeaseRenewal {
    Objects.requireNonNull(leaseDuration, "leaseDuration");
    if (leaseDuration.isNegative()) {
      throw new IllegalArgumentException("leaseDuration must not be negative");
    }
  }
}
