package io.credbroker.loadtest.stack;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How to start the stack under load. Immutable.
 *
 * @param workDir where PostgreSQL's data, the broker's copy of its jar and the logs go
 * @param brokerJar the broker's Spring Boot jar ({@code
 *     broker-service/target/credential-broker.jar})
 * @param brokerHeap the broker's {@code -Xmx}, e.g. {@code 512m}
 * @param credentialTtl the Vault role's default TTL for credentials
 * @param credentialMaxTtl the Vault role's max TTL
 * @param tokenCacheTtl the broker's {@code credbroker.kubernetes.cache-max-ttl} (the TokenReview
 *     cache window)
 * @param heartbeatInterval the broker's stream heartbeat interval
 * @param liftLimits whether the broker's limits ({@code credbroker.limits.*}, {@code
 *     credbroker.vault.max-concurrent-creations}) are lifted ({@link LoadStack#LIFTED_LIMITS}), so
 *     that the figures measure the broker and Vault and not the limiters; otherwise the broker
 *     keeps the product's own defaults, as users meet them
 * @param brokerProperties further broker properties, overriding the ones above
 * @param startTimeout how long the broker may take to become ready
 * @param replicas how many broker processes share the state database (1 to 5)
 */
public record StackSettings(
    Path workDir,
    Path brokerJar,
    String brokerHeap,
    Duration credentialTtl,
    Duration credentialMaxTtl,
    Duration tokenCacheTtl,
    Duration heartbeatInterval,
    boolean liftLimits,
    Map<String, String> brokerProperties,
    List<String> brokerJvmArgs,
    Duration startTimeout,
    int replicas) {

  public StackSettings {
    Objects.requireNonNull(workDir, "workDir");
    Objects.requireNonNull(brokerJar, "brokerJar");
    if (!brokerHeap.matches("[0-9]+[kKmMgG]?")) {
      throw new IllegalArgumentException("broker heap must look like 512m, was " + brokerHeap);
    }
    requirePositive(credentialTtl, "credential TTL");
    requirePositive(credentialMaxTtl, "credential max TTL");
    if (credentialTtl.compareTo(credentialMaxTtl) > 0) {
      throw new IllegalArgumentException("the credential TTL must not exceed the max TTL");
    }
    requirePositive(tokenCacheTtl, "token cache TTL");
    requirePositive(heartbeatInterval, "heartbeat interval");
    requirePositive(startTimeout, "start timeout");
    if (replicas < 1 || replicas > 5) {
      throw new IllegalArgumentException("replicas must be between 1 and 5, was " + replicas);
    }
    brokerProperties = Map.copyOf(brokerProperties);
    brokerJvmArgs = List.copyOf(brokerJvmArgs);
  }

  /** The broker's {@code -Xmx} in bytes. */
  public long brokerHeapBytes() {
    char unit = Character.toLowerCase(brokerHeap.charAt(brokerHeap.length() - 1));
    String digits =
        Character.isDigit(unit) ? brokerHeap : brokerHeap.substring(0, brokerHeap.length() - 1);
    long n = Long.parseLong(digits);
    return switch (unit) {
      case 'k' -> n << 10;
      case 'm' -> n << 20;
      case 'g' -> n << 30;
      default -> n;
    };
  }

  private static void requirePositive(Duration d, String what) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive");
    }
  }
}
