package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A token as the store keeps it: everything but the secret id. Immutable.
 *
 * @param path the creating path, e.g. {@code auth/kubernetes/login}, {@code auth/token/create},
 *     {@code auth/token/create/<role>}
 * @param defaultTtl what a renewal with no increment grants (role token_ttl or creation TTL)
 * @param maxExpireTime no renewal goes past it; null for tokens without expiry and for periodic
 *     tokens without an explicit max TTL
 * @param explicitMaxTtl the explicit max TTL the creation request asked for (what lookups show)
 * @param period the period the creation request asked for; zero for non-periodic tokens
 * @param role the auth role that issued it, or null
 * @param parentAccessor the creating token's accessor; null for orphans
 */
record Token(
    String accessor,
    List<String> policies,
    String displayName,
    Map<String, String> meta,
    String path,
    Instant issueTime,
    @Nullable Instant expireTime,
    Duration creationTtl,
    Duration defaultTtl,
    @Nullable Instant maxExpireTime,
    Duration explicitMaxTtl,
    @Nullable Instant lastRenewal,
    Duration period,
    boolean renewable,
    boolean orphan,
    @Nullable String role,
    @Nullable String parentAccessor) {

  Token {
    policies = List.copyOf(policies);
    meta = Map.copyOf(meta);
  }

  TokenEntry entry(String id) {
    return new TokenEntry(id, accessor, policies, displayName, meta, issueTime, expireTime);
  }

  long ttlSeconds(Instant now) {
    if (expireTime == null) {
      return 0;
    }
    return Math.max(0, Math.round(Duration.between(now, expireTime).toMillis() / 1000.0));
  }

  Token renewed(Instant newExpire, Instant now) {
    return new Token(
        accessor,
        policies,
        displayName,
        meta,
        path,
        issueTime,
        newExpire,
        creationTtl,
        defaultTtl,
        maxExpireTime,
        explicitMaxTtl,
        now,
        period,
        renewable,
        orphan,
        role,
        parentAccessor);
  }

  JsonNode toJson() {
    ObjectNode n = Json.MAPPER.createObjectNode();
    n.put("accessor", accessor);
    ArrayNode p = n.putArray("policies");
    policies.forEach(p::add);
    n.put("display_name", displayName);
    ObjectNode m = n.putObject("meta");
    meta.forEach(m::put);
    n.put("path", path);
    n.put("issue_time", issueTime.toString());
    n.put("expire_time", expireTime == null ? null : expireTime.toString());
    n.put("creation_ttl", creationTtl.getSeconds());
    n.put("default_ttl", defaultTtl.getSeconds());
    n.put("max_expire_time", maxExpireTime == null ? null : maxExpireTime.toString());
    n.put("explicit_max_ttl", explicitMaxTtl.getSeconds());
    n.put("last_renewal", lastRenewal == null ? null : lastRenewal.toString());
    n.put("period", period.getSeconds());
    n.put("renewable", renewable);
    n.put("orphan", orphan);
    n.put("role", role);
    n.put("parent_accessor", parentAccessor);
    return n;
  }

  static Token fromJson(JsonNode n) {
    List<String> policies = new ArrayList<>();
    n.path("policies").forEach(x -> policies.add(x.asText()));
    Map<String, String> meta = new LinkedHashMap<>();
    n.path("meta").fields().forEachRemaining(e -> meta.put(e.getKey(), e.getValue().asText()));
    return new Token(
        n.path("accessor").asText(),
        policies,
        n.path("display_name").asText(),
        meta,
        n.path("path").asText(),
        Instant.parse(n.path("issue_time").asText()),
        instant(n.get("expire_time")),
        Duration.ofSeconds(n.path("creation_ttl").asLong()),
        Duration.ofSeconds(n.path("default_ttl").asLong()),
        instant(n.get("max_expire_time")),
        Duration.ofSeconds(n.path("explicit_max_ttl").asLong()),
        instant(n.get("last_renewal")),
        Duration.ofSeconds(n.path("period").asLong()),
        n.path("renewable").asBoolean(),
        n.path("orphan").asBoolean(),
        text(n.get("role")),
        text(n.get("parent_accessor")));
  }

  private static @Nullable Instant instant(@Nullable JsonNode n) {
    return n == null || n.isNull() ? null : Instant.parse(n.asText());
  }

  private static @Nullable String text(@Nullable JsonNode n) {
    return n == null || n.isNull() ? null : n.asText();
  }
}
