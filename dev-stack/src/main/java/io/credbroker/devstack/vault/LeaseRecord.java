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
 * @param tokenAccessor the accessor of the token that created it; revoking that token revokes
 *     the lease
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

  /** Whole seconds left until expiry, never negative. */
  public long ttlSeconds(Instant now) {
    long seconds = Duration.between(now, expireTime).getSeconds();
    return Math.max(0, seconds);
  }
}
