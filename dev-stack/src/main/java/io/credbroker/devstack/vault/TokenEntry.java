package io.credbroker.devstack.vault;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A Vault token as the core resolved it. Immutable; {@link #toString} hides the token id.
 *
 * @param id the secret token value ({@code hvs.…}, or the root token)
 * @param accessor the public handle leases are linked to
 * @param displayName e.g. {@code "kubernetes-public-application"}, {@code "root"}, {@code "token"}
 * @param expireTime null for tokens that never expire (the root token)
 */
public record TokenEntry(
    String id,
    String accessor,
    List<String> policies,
    String displayName,
    Map<String, String> meta,
    Instant issueTime,
    @Nullable Instant expireTime) {

  public TokenEntry {
    policies = List.copyOf(policies);
    meta = Map.copyOf(meta);
  }

  public boolean isRoot() {
    return policies.contains("root");
  }

  @Override
  public String toString() {
    return "TokenEntry[accessor="
        + accessor
        + ", policies="
        + policies
        + ", displayName="
        + displayName
        + ", expireTime="
        + expireTime
        + "]";
  }
}
