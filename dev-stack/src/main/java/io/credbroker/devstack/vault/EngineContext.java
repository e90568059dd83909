package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/** What the core gives an engine when mounting it. Thread-safe; valid while the mount exists. */
public interface EngineContext {

  /** E.g. {@code "database/"}. */
  String mountPath();

  /** The mount's default lease TTL: 768h unless tuned. Read at call time, so tuning applies. */
  Duration defaultLeaseTtl();

  /** The mount's max lease TTL: 768h unless tuned. */
  Duration maxLeaseTtl();

  /** Persistent JSON key/value storage private to this mount (PostgreSQL-backed). */
  EngineStorage storage();

  /**
   * Creates and persists a lease for a response. {@code ttl}/{@code maxTtl} as the role says
   * ({@link Duration#ZERO} = mount defaults); the core caps them and links the lease to the
   * request's token, so revoking the token revokes the lease.
   */
  LeaseRecord registerLease(
      EngineRequest request, Duration ttl, Duration maxTtl, JsonNode engineData);
}
