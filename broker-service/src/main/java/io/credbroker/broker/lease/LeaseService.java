package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.vault.DatabaseSecret;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;

/**
 * Issues credentials from Vault and keeps the state store in step with Vault's leases.
 *
 * <p>Issuing is: read {@code <mount>/creds/<role>} (one new PostgreSQL role), optionally renew the
 * lease to the requested lifetime, then record the lease. If anything after the read fails, the new
 * lease is revoked again, so a failed request leaves no role behind that nobody tracks (if that
 * revocation fails too, the lease still runs out at its TTL).
 *
 * <p>Thread-safe; blocking (Vault and the state database are called on the caller's thread).
 */
public class LeaseService {

  private static final Logger log = LoggerFactory.getLogger(LeaseService.class);
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  /**
   * How long a revocation in progress keeps its retry-queue row from other replicas: only a replica
   * that died mid-attempt leaves it that long.
   */
  private static final Duration IN_FLIGHT = Duration.ofSeconds(30);

  private final VaultDatabaseCredentials vault;
  private final CredentialStore store;
  private final RevocationRetryQueue retryQueue;
  private final ReplicaId replicaId;
  private final Clock clock;
  private final LeaseMetrics metrics;
  private final Duration revocationRetryInitial;

  public LeaseService(
      VaultDatabaseCredentials vault,
      CredentialStore store,
      RevocationRetryQueue retryQueue,
      ReplicaId replicaId,
      Clock clock,
      LeaseMetrics metrics,
      Duration revocationRetryInitial) {
    this.vault = Objects.requireNonNull(vault, "vault");
    this.store = Objects.requireNonNull(store, "store");
    this.retryQueue = Objects.requireNonNull(retryQueue, "retryQueue");
    this.replicaId = Objects.requireNonNull(replicaId, "replicaId");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.revocationRetryInitial =
        Objects.requireNonNull(revocationRetryInitial, "revocationRetryInitial");
  }

  /**
   * Issues a new credential to {@code owner} under {@code binding}. The caller has authorised the
   * request.
   *
   * @param requestedTtl the lease lifetime the client asked for, or {@code null} for the Vault role's
   *     default; Vault caps it at the role's maximum
   */
  public IssuedCredential issue(
      PodIdentity owner, Binding binding, CredentialKind kind, @Nullable Duration requestedTtl) {
    DatabaseSecret secret = vault.issue(binding.vaultMount(), binding.vaultRole());
    Instant issueTime = clock.instant();
    try {
      if (requestedTtl != null && !requestedTtl.equals(secret.leaseDuration())) {
        secret = secret.withLeaseDuration(vault.renew(secret.leaseId(), requestedTtl));
      }
      CredentialRecord record =
          new CredentialRecord(
              UUID.randomUUID(),
              binding.databaseRole(),
              binding.vaultMount(),
              binding.vaultRole(),
              secret.leaseId(),
              secret.username(),
              owner,
              kind,
              CredentialState.ACTIVE,
              // Only a stream has somebody to renew the lease.
              kind == CredentialKind.STREAM && secret.renewable(),
              replicaId.value(),
              issueTime,
              issueTime.plus(secret.leaseDuration()));
      store.insert(record);
      return new IssuedCredential(record, secret.password(), binding.connection());
    } catch (DataAccessException e) {
      log.warn("Recording lease {} failed; revoking it", secret.leaseId(), e);
      revokeQuietly(secret.leaseId());
      throw new BrokerException(
          Reason.STATE_STORE_UNAVAILABLE,
          "the broker's state store is unavailable; try again later",
          RETRY_AFTER,
          e);
    } catch (RuntimeException e) {
      revokeQuietly(secret.leaseId());
      throw e;
    }
  }

  /** Notes that the stream that held a credential has ended (the lease itself is left alone). */
  public void detach(UUID credentialId) {
    try {
      store.markDetached(credentialId, clock.instant());
    } catch (DataAccessException e) {
      log.warn("Could not record that the stream of credential {} ended", credentialId, e);
    }
  }

  /**
   * Revokes one credential's lease in Vault now (a synchronous revoke, which runs the role's
   * revocation statements: no more logins, sessions terminated, role dropped) and ends the credential
   * for {@code trigger} ({@link RevocationTrigger#RELEASE} ends it as RELEASED, {@link
   * RevocationTrigger#EXPIRED} as EXPIRED, every other trigger as REVOKED), so that nobody renews it
   * again. When Vault cannot be reached the lease stays on the persisted retry queue, which any
   * replica works until Vault confirms.
   *
   * <p>Idempotent: a credential that has already ended is left as it is, and the outcome says whether
   * its revocation still waits in the queue.
   *
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} for an unknown id, {@code
   *     STATE_STORE_UNAVAILABLE} when the state database cannot be reached
   */
  public RevocationOutcome revoke(UUID credentialId, RevocationTrigger trigger) {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(trigger, "trigger");
    try {
      CredentialRecord record =
          store
              .findById(credentialId)
              .orElseThrow(
                  () ->
                      new BrokerException(
                          Reason.CREDENTIAL_NOT_FOUND, "no credential with this id exists"));
      Instant now = clock.instant();
      boolean ended =
          store.endAndQueue(credentialId, trigger.endState(), trigger, now, now.plus(IN_FLIGHT));
      if (!ended) {
        return new RevocationOutcome(
            credentialId, record.username(), !retryQueue.contains(credentialId));
      }
      boolean revoked = revokeInVault(credentialId, record.leaseId());
      metrics.revocation(trigger, revoked);
      log.info(
          "Credential {} (user {}) ended for {}{}",
          credentialId,
          record.username(),
          trigger.tag(),
          revoked ? "" : "; its revocation waits for Vault");
      return new RevocationOutcome(credentialId, record.username(), revoked);
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /** One attempt to revoke a queued lease; the queue row goes only when Vault confirmed. */
  private boolean revokeInVault(UUID credentialId, String leaseId) {
    try {
      vault.revoke(leaseId);
      retryQueue.confirmed(credentialId);
      return true;
    } catch (BrokerException e) {
      retryQueue.failed(credentialId, clock.instant().plus(revocationRetryInitial), e.reason().name());
      return false;
    }
  }

  private static BrokerException stateStoreUnavailable(DataAccessException e) {
    return new BrokerException(
        Reason.STATE_STORE_UNAVAILABLE,
        "the broker's state store is unavailable; try again later",
        RETRY_AFTER,
        e);
  }

  private void revokeQuietly(String leaseId) {
    try {
      vault.revoke(leaseId);
    } catch (BrokerException e) {
      log.warn("Lease {} could not be revoked; it will run out at its TTL", leaseId);
    }
  }
}
