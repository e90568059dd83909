package io.credbroker.devstack.vault;

import java.time.Duration;
import java.time.Instant;

/**
 * One mounted secrets engine instance. Implementations must be thread-safe: requests, renewals and
 * the expiry timer call it concurrently. It lives until its mount is disabled or the stand-in
 * stops.
 */
public interface SecretsEngine {

  /** Answers a request under the mount. Throw {@link VaultException} for Vault errors. */
  VaultResponse handle(EngineRequest request);

  /**
   * Asked by the lease manager on {@code sys/leases/renew}: the TTL the backend grants for this
   * lease (role default_ttl when increment is zero) and its max TTL (role max_ttl; {@link
   * Duration#ZERO} = mount max). Throw {@link VaultException} to refuse.
   */
  RenewalGrant renewalGrant(LeaseRecord lease, Duration increment);

  /** Applies a renewal whose capped new expiry the core computed (runs renew statements). */
  void applyRenewal(LeaseRecord lease, Instant newExpiry);

  /**
   * Revokes (runs revocation statements). Throw {@link VaultException} on failure: the core keeps
   * the lease and retries with backoff, like Vault.
   */
  void revoke(LeaseRecord lease);

  /** Called once when the mount is disabled or the stand-in stops; frees pools and threads. */
  default void close() {}
}
