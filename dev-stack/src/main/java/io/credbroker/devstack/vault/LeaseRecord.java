package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * A lease as stored in PostgreSQL. Immutable.
 *
 * @param leaseId e.g. {@code "database/creds/readonly/AbCd…"}
 * @param mountPath the owning mount with a trailing slash
 * @param requestPath the request path relative to the mount that created the lease
 * @param tokenAccessor the accessor of the token that created it; revoking that token revokes the
 *     lease
 * @param engineData what the engine needs to renew or revoke (never a password)
 */
public record LeaseRecord(
    String leaseId,
    String mountPath,
    String requestPath,
    Instant issueTime,
    Instant expireTime,
    @Nullable Instant lastRenewal,
    boolean renewable,
    String tokenAccessor,
    JsonNode engineData) {

  /**
   * The TTL granted when the lease was created or last renewed, in whole seconds: what Vault
   * answers as {@code lease_duration} ({@code int(resp.Secret.TTL.Seconds())} in http/logical.go),
   * not the time left on the clock when the answer is written.
   */
  public long grantedTtlSeconds() {
    Instant granted = lastRenewal == null ? issueTime : lastRenewal;
    return Math.max(0, Duration.between(granted, expireTime).getSeconds());
  }

  /** Whole seconds left until expiry, never negative. */
  public long ttlSeconds(Instant now) {
    long seconds = Duration.between(now, expireTime).getSeconds();
    return Math.max(0, seconds);
  }
}
