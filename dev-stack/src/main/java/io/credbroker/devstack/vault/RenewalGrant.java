package io.credbroker.devstack.vault;

import java.time.Duration;

/**
 * What a backend grants on renewal before the core caps it.
 *
 * @param ttl the TTL asked for (the increment, or the role's default when the increment is zero)
 * @param maxTtl the role's max TTL; {@link Duration#ZERO} means the mount's max
 */
public record RenewalGrant(Duration ttl, Duration maxTtl) {}
