package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The max TTL of each Vault role, as far as renewals can carry a lease: read from Vault's
 * configuration (the role's {@code max_ttl}, capped by the mount's max lease TTL, as Vault caps
 * renewals), never by renewing a lease, and cached for {@code maxTtlCache}.
 *
 * <p>Thread-safe (a concurrent map; two callers may read the same role's value at once, and the
 * later answer stays).
 */
final class MaxTtls {

  private static final Logger log = LoggerFactory.getLogger(MaxTtls.class);

  private final VaultDatabaseCredentials vault;
  private final Duration maxTtlCache;
  private final Map<String, MaxTtl> maxTtls = new ConcurrentHashMap<>();

  /**
   * What is known of a Vault role's max TTL (counted from lease issue); {@code null}: unbounded.
   */
  private record MaxTtl(@Nullable Duration value, Instant learned) {}

  MaxTtls(VaultDatabaseCredentials vault, Duration maxTtlCache) {
    this.vault = Objects.requireNonNull(vault, "vault");
    this.maxTtlCache = Objects.requireNonNull(maxTtlCache, "maxTtlCache");
  }

  /**
   * The max TTL of the binding's Vault role, counted from lease issue, or {@code null} when it is
   * unbounded or unknown; read again from Vault when the cached value is older than {@code
   * maxTtlCache} at {@code now}.
   */
  @Nullable Duration of(Binding binding, Instant now) {
    MaxTtl known = maxTtls.get(binding.vaultMount() + "/" + binding.vaultRole());
    if (known == null || known.learned().plus(maxTtlCache).isBefore(now)) {
      known = learnMaxTtl(binding, known, now);
    }
    return known.value();
  }

  /**
   * Learns the max TTL of the binding's Vault role from Vault's configuration (the role's {@code
   * max_ttl} capped by its mount's), without touching any lease. When Vault cannot say
   * (unreachable, or a policy written by an older setup), the value learned before is kept: a
   * role's max TTL rarely changes, and forgetting it would leave the credentials issued meanwhile
   * to be rotated only when Vault caps a renewal, however little time is left then. Never learned,
   * the limit stays unknown: credentials are then limited by their token's death. Either way Vault
   * is asked again after {@code maxTtlCache}.
   */
  private MaxTtl learnMaxTtl(Binding binding, @Nullable MaxTtl known, Instant now) {
    Duration value;
    try {
      // A second short for rounding: the broker rather rotates a little early than late.
      value = vault.maxTtl(binding.vaultMount(), binding.vaultRole()).minusSeconds(1);
      log.debug(
          "Vault role {}/{} has a max TTL of {}", binding.vaultMount(), binding.vaultRole(), value);
    } catch (BrokerException e) {
      value = known == null ? null : known.value();
      log.warn(
          "Could not read the max TTL of Vault role {}/{} ({}); keeping {} and trying again in {}",
          binding.vaultMount(),
          binding.vaultRole(),
          e.reason(),
          known == null ? "it unknown" : "the one read before (" + value + ")",
          maxTtlCache);
    }
    MaxTtl learned = new MaxTtl(value, now);
    maxTtls.put(binding.vaultMount() + "/" + binding.vaultRole(), learned);
    return learned;
  }
}
