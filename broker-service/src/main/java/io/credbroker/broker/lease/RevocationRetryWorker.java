package io.credbroker.broker.lease;

import static io.credbroker.broker.lease.Backoff.jitteredBackoffMillis;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.RevocationRetryQueue.PendingRevocation;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Works the persisted revocation retry queue for the whole cluster: claims the due revocations (any
 * replica may, {@link RevocationRetryQueue#claimDue} keeps two from trying the same row at once),
 * asks Vault again, and removes a row only when Vault confirmed it; a failure is tried again with
 * bounded, jittered exponential backoff.
 *
 * <p>Runs on a {@link LeaseKeeper} worker thread, one pass at a time (the keeper starts the next
 * pass only after the previous one finished).
 */
final class RevocationRetryWorker {

  private static final Logger log = LoggerFactory.getLogger(RevocationRetryWorker.class);

  private final RevocationRetryQueue retryQueue;
  private final VaultDatabaseCredentials vault;
  private final Clock clock;
  private final BrokerProperties.Lease settings;
  private final LeaseMetrics metrics;
  private final Duration claimLease;

  RevocationRetryWorker(
      RevocationRetryQueue retryQueue,
      VaultDatabaseCredentials vault,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics) {
    this(retryQueue, vault, clock, settings, metrics, RevocationRetryQueue.CLAIM_LEASE);
  }

  /**
   * @param claimLease how long a claimed row is this worker's: longer than one revocation takes,
   *     Vault's retries included
   */
  RevocationRetryWorker(
      RevocationRetryQueue retryQueue,
      VaultDatabaseCredentials vault,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics,
      Duration claimLease) {
    this.retryQueue = Objects.requireNonNull(retryQueue, "retryQueue");
    this.vault = Objects.requireNonNull(vault, "vault");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.claimLease = Objects.requireNonNull(claimLease, "claimLease");
  }

  /**
   * Retries revocations Vault has not confirmed yet, with bounded exponential backoff: up to the
   * batch size in one pass, each claimed just before it is tried. A claim of the whole batch at
   * once ran out while the batch was worked one revocation after another (a thousand deferred
   * releases of a rolling update, or a slow Vault, take longer than the claim), and another replica
   * then claimed and revoked the same leases again, doubling Vault's work when it had the least
   * room.
   */
  void workRetryQueue() {
    try {
      for (int worked = 0; worked < settings.batchSize(); worked++) {
        List<PendingRevocation> claimed = retryQueue.claimDue(clock.instant(), claimLease, 1);
        if (claimed.isEmpty()) {
          return;
        }
        PendingRevocation pending = claimed.get(0);
        try {
          vault.revoke(pending.leaseId());
          retryQueue.confirmed(pending.credentialId());
          metrics.revocationRetry(true);
          if (pending.attempts() > 0) {
            log.info(
                "Revocation of credential {} confirmed by Vault after {} failed attempts",
                pending.credentialId(),
                pending.attempts());
          } else {
            // A release deferred to the queue (its replica had enough in flight): routine.
            log.debug("Revocation of credential {} confirmed by Vault", pending.credentialId());
          }
        } catch (BrokerException e) {
          long jittered =
              jitteredBackoffMillis(
                  settings.revocationRetryInitial(),
                  settings.revocationRetryMax(),
                  Math.min(pending.attempts(), 20));
          retryQueue.failed(
              pending.credentialId(), clock.instant().plusMillis(jittered), e.reason().name());
          metrics.revocationRetry(false);
        }
      }
    } catch (RuntimeException e) {
      log.warn("Working the revocation retry queue failed", e);
    }
  }

  /**
   * Deletes the rows of the revocations Vault confirmed that still wait for their batch, as this
   * replica stops; one the state database refuses now is revoked again after its claim lease.
   */
  void deleteConfirmed() {
    try {
      retryQueue.deleteConfirmed();
    } catch (RuntimeException e) {
      log.warn(
          "Deleting confirmed revocations from the retry queue failed ({}); their leases are"
              + " revoked again later",
          e.getClass().getSimpleName());
    }
  }
}
