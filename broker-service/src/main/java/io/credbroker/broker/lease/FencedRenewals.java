package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore.Due;
import io.credbroker.broker.vault.LeaseRenewal;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renewals while this replica is fenced: from the moment it fenced itself (it could not write its
 * heartbeat for {@code credbroker.cluster.self-fence-after}, so it takes its state database as
 * unreachable) until it writes its heartbeat again, the {@link LeaseKeeper} renews in Vault, at
 * their renewal times, the leases noted in {@link OwnedLeases}, without the state database: it can
 * neither load the schedule nor record a renewal then, and a lease that ran out meanwhile would
 * take its pod's PostgreSQL role with it, although the applications' database never was
 * unreachable.
 *
 * <p>Only renewals: nothing is revoked, rotated, issued or written while fenced, and no stream is
 * told anything (the fence ended them). Vault refusing a renewal (400: the lease was revoked or ran
 * out) only forgets the lease here; a renewal that cannot reach Vault is tried again with the
 * scheduler's backoff; a renewal Vault capped at the lease's max TTL is the last one. What Vault
 * granted is recorded once the replica serves again ({@link LeaseDecisions#tend} writes it before
 * it decides anything on the row's expiry).
 *
 * <p>Why this is safe against the fencing rules. Until the others presume this replica dead
 * (stale-after) it still owns these credentials, and renewing them is what their owner does. After
 * that another replica may claim a credential, or its pod may resume it elsewhere, and the new
 * owner renews it, rotates it or revokes it on its own schedule. A renewal from here cannot undo
 * any of that: it only extends a lease that exists, never past Vault's max TTL; a lease that the
 * new owner revoked is gone in Vault, which refuses its renewal; a replaced credential is revoked
 * at its {@code revoke_after} whatever its lease's expiry. Nothing here touches the state database,
 * so no decision of the new owner is overwritten either. The fenced check of {@link
 * CredentialStore#stillHeldAsSeen} exists so that an owner that paused does not act on a stale
 * reading where it could end or replace something; a bare renewal is the one action whose stale
 * form is harmless, and the one that cannot wait for the state database.
 *
 * <p>Called by the {@link LeaseKeeper} on a thread of its own ({@code lease-fenced-renewal}, every
 * poll interval while fenced), never on the poller or the workers, which may be blocked for the
 * whole outage on a state database that does not answer. The renewals go one after the other: at a
 * few milliseconds each, that keeps up with tens of thousands of leases of an hour. Thread-safe: no
 * state of its own.
 */
final class FencedRenewals {

  private static final Logger log = LoggerFactory.getLogger(FencedRenewals.class);

  private final OwnedLeases owned;
  private final VaultDatabaseCredentials vault;
  private final LeaseService leases;
  private final Clock clock;
  private final BrokerProperties.Lease settings;
  private final LeaseMetrics metrics;

  FencedRenewals(
      OwnedLeases owned,
      VaultDatabaseCredentials vault,
      LeaseService leases,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics) {
    this.owned = Objects.requireNonNull(owned, "owned");
    this.vault = Objects.requireNonNull(vault, "vault");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /**
   * Renews, one after the other, the noted leases whose renewal is due now, earliest first, while
   * {@code fenced} holds.
   */
  void renewDue(BooleanSupplier fenced) {
    if (!fenced.getAsBoolean()) {
      return;
    }
    for (Due due : owned.dueBy(clock.instant())) {
      if (!fenced.getAsBoolean()) {
        return;
      }
      renew(due.id());
    }
  }

  /**
   * Renews the noted lease of credential {@code id} in Vault if it is due, and notes the outcome.
   *
   * @return when to renew it next, or {@code null} when it is not renewed any more from here
   */
  @Nullable Instant renew(UUID id) {
    OwnedLeases.Lease lease = owned.get(id);
    Instant due = lease == null ? null : lease.renewalDue();
    if (lease == null || due == null) {
      return null;
    }
    Instant now = clock.instant();
    if (now.isBefore(due)) {
      return due;
    }
    LeaseRenewal renewal;
    try {
      renewal = vault.renewLease(lease.leaseId(), lease.ttl());
    } catch (BrokerException e) {
      if (e.reason() == Reason.VAULT_REJECTED) {
        // Revoked (by its new owner, or an operator) or run out: nothing left to keep alive. Its
        // owner ends the credential when it next looks at it.
        metrics.fencedRenewal("refused");
        owned.forget(id, lease);
        log.info("Vault refused to renew the lease of credential {} while fenced; dropped", id);
        return null;
      }
      metrics.fencedRenewal("failed");
      Instant retryAt =
          RenewalPolicy.retryAt(
              now, lease.expireTime(), lease.failures(), settings.renewalRetryMax());
      owned.failedWhileFenced(id, lease, retryAt);
      return retryAt;
    }
    // Counted from the answer, not from before the call's retries (see LeaseDecisions): what is
    // recorded once this replica serves again must never be before Vault's expiry.
    Instant renewed = clock.instant();
    Instant expire = renewed.plus(renewal.leaseDuration());
    Instant next =
        renewal.capped()
            ? null
            : leases.renewals().due(renewed, renewal.leaseDuration(), lease.maxExpireTime());
    if (next != null && !next.isAfter(renewed)) {
      // At its limit already: Vault cannot extend it further.
      next = null;
    }
    owned.renewedWhileFenced(id, lease, renewed, expire, next);
    metrics.fencedRenewal(renewal.capped() ? "capped" : "renewed");
    log.debug("Renewed the lease of credential {} while fenced, until {}", id, expire);
    return next;
  }
}
