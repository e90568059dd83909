package io.credbroker.broker.lease;

import static io.credbroker.broker.lease.Backoff.jitteredBackoffMillis;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.RevocationRetryQueue.PendingRevocation;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Instant;
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

  RevocationRetryWorker(
      RevocationRetryQueue retryQueue,
      VaultDatabaseCredentials vault,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics) {
    this.retryQueue = Objects.requireNonNull(retryQueue, "retryQueue");
    this.vault = Objects.requireNonNull(vault, "vault");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /** Retries revocations Vault has not confirmed yet, with bounded exponential backoff. */
  void workRetryQueue() {
    try {
      Instant now = clock.instant();
      for (PendingRevocation pending :
          retryQueue.claimDue(now, RevocationRetryQueue.CLAIM_LEASE, settings.batchSize())) {
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
}
