package io.credbroker.broker.lease;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * The lease lifecycle's counters: renewals by outcome (and those made while fenced), rotations by
 * reason, revocations by trigger. Gauges (credentials by state, earliest unrenewed expiry,
 * retry-queue depth) are registered by the scheduler, which refreshes them. Every series of these
 * counters exists from the start, at zero: a series that appears only with the first failure leaves
 * {@code rate()} nothing to compare against, and an alert on it silent.
 *
 * <p>Thread-safe (Micrometer meters are).
 */
public class LeaseMetrics {

  private final MeterRegistry registry;

  public LeaseMetrics(MeterRegistry registry) {
    this(registry, List.of());
  }

  /**
   * @param databaseRoles the configured database roles, whose per-role series exist from the start
   */
  public LeaseMetrics(MeterRegistry registry, Collection<String> databaseRoles) {
    this.registry = Objects.requireNonNull(registry, "registry");
    for (String databaseRole : databaseRoles) {
      unboundCounter(databaseRole);
    }
    for (String outcome : new String[] {"renewed", "capped", "refused", "failed"}) {
      renewalCounter(outcome);
      fencedRenewalCounter(outcome);
    }
    renewalCounter("expired");
    for (RotationReason reason : RotationReason.values()) {
      rotationCounter(reason.tag());
    }
    for (RevocationTrigger trigger : RevocationTrigger.values()) {
      revocationCounter(trigger, true);
      revocationCounter(trigger, false);
    }
    revocationRetryCounter(true);
    revocationRetryCounter(false);
    for (String outcome : new String[] {"found", "revoked", "failed"}) {
      orphanCounter(outcome);
    }
  }

  /**
   * {@code renewed}, {@code capped}, {@code refused} (Vault said no), {@code failed} (unreachable),
   * {@code expired} (not asked of Vault: the lease was known to have run out, see {@link
   * LeaseEntry#knownExpired}).
   */
  void renewal(String outcome) {
    renewalCounter(outcome).increment();
  }

  private Counter renewalCounter(String outcome) {
    return Counter.builder("credbroker.lease.renewals")
        .description("Lease renewals by outcome")
        .tag("outcome", outcome)
        .register(registry);
  }

  /**
   * A renewal made while this replica was fenced (its state database unreachable), by outcome:
   * {@code renewed}, {@code capped}, {@code refused} (Vault said no: the lease is dropped), {@code
   * failed} (Vault unreachable).
   */
  void fencedRenewal(String outcome) {
    fencedRenewalCounter(outcome).increment();
  }

  private Counter fencedRenewalCounter(String outcome) {
    return Counter.builder("credbroker.lease.fenced.renewals")
        .description(
            "Lease renewals made from memory while this replica was fenced (its state database"
                + " unreachable), by outcome")
        .tag("outcome", outcome)
        .register(registry);
  }

  /** {@code max_ttl} or {@code renewal_refused}. */
  void rotation(String reason) {
    rotationCounter(reason).increment();
  }

  private Counter rotationCounter(String reason) {
    return Counter.builder("credbroker.lease.rotations")
        .description("Credentials replaced early by a rotation, by reason")
        .tag("reason", reason)
        .register(registry);
  }

  /**
   * A revocation by trigger and outcome ({@code revoked} in Vault, or {@code queued} for retry).
   */
  void revocation(RevocationTrigger trigger, boolean revokedInVault) {
    revocationCounter(trigger, revokedInVault).increment();
  }

  private Counter revocationCounter(RevocationTrigger trigger, boolean revokedInVault) {
    return Counter.builder("credbroker.lease.revocations")
        .description("Credentials ended by the broker, by trigger and outcome")
        .tag("trigger", trigger.tag())
        .tag("outcome", revokedInVault ? "revoked" : "queued")
        .register(registry);
  }

  /** A retried revocation that Vault finally confirmed, or that failed once more. */
  void revocationRetry(boolean confirmed) {
    revocationRetryCounter(confirmed).increment();
  }

  private Counter revocationRetryCounter(boolean confirmed) {
    return Counter.builder("credbroker.lease.revocation.retries")
        .description("Attempts from the revocation retry queue, by outcome")
        .tag("outcome", confirmed ? "revoked" : "failed")
        .register(registry);
  }

  /**
   * A lease Vault holds under a binding's role that the state database does not know, by outcome:
   * {@code found} (older than the grace), {@code revoked}, {@code failed} (Vault did not revoke it;
   * the next pass tries again).
   */
  void orphan(String outcome) {
    orphanCounter(outcome).increment();
  }

  private Counter orphanCounter(String outcome) {
    return Counter.builder("credbroker.lease.orphans")
        .description("Vault leases under the broker's roles that no credential record knows")
        .tag("outcome", outcome)
        .register(registry);
  }

  /**
   * Live credentials whose renewals this replica ended because its bindings no longer allow their
   * identity, by database role.
   */
  void unbound(String databaseRole, int count) {
    unboundCounter(databaseRole).increment(count);
  }

  private Counter unboundCounter(String databaseRole) {
    return Counter.builder("credbroker.credentials.unbound")
        .description(
            "Live credentials ended because the bindings no longer allow their identity, by role")
        .tag("role", databaseRole)
        .register(registry);
  }

  MeterRegistry registry() {
    return registry;
  }
}
