package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Vault's token store: creation, resolution of a presented token, self-renewal with capping,
 * revocation with the cascade to child tokens (orphans are nobody's children) and to every lease
 * the token created. Thread-safe: all state is in the {@link VaultStore}.
 */
final class Tokens {

  private static final Logger log = LoggerFactory.getLogger(Tokens.class);

  /**
   * What the auth method that logged a token in grants when it is renewed: Vault asks the method
   * again at every renewal ({@code pathLoginRenew}), which reads its role anew.
   *
   * @param mountDefaultTtl the auth mount's default lease TTL (tuned, else the system's)
   * @param mountMaxTtl the auth mount's max lease TTL (tuned, else the system's)
   * @param ttl the role's {@code token_ttl} now (zero when not set)
   * @param maxTtl the role's {@code token_max_ttl} now (zero when not set)
   * @param period the role's {@code token_period} now (zero when not set)
   */
  record LoginTerms(
      Duration mountDefaultTtl,
      Duration mountMaxTtl,
      Duration ttl,
      Duration maxTtl,
      Duration period) {}

  /** Finds the {@link LoginTerms} of a login token's auth method and role. */
  @FunctionalInterface
  interface LoginRenewals {
    /**
     * @throws VaultException as Vault answers a renewal the method refuses (its role is gone)
     */
    LoginTerms termsFor(Token token);
  }

  private final VaultStore store;
  private final LeaseManager leases;
  private final TokenRoles roles;
  private final LoginRenewals logins;
  private final Clock clock;

  Tokens(
      VaultStore store, LeaseManager leases, TokenRoles roles, LoginRenewals logins, Clock clock) {
    this.store = store;
    this.leases = leases;
    this.roles = roles;
    this.logins = logins;
    this.clock = clock;
  }

  /** Makes sure the configured root token exists (it never expires). */
  void ensureRoot(String rootToken) {
    String hash = Ids.sha256(rootToken);
    if (store.tokenByHash(hash).isPresent()) {
      return;
    }
    Token root =
        new Token(
            Ids.base62(24),
            List.of("root"),
            "root",
            Map.of(),
            "auth/token/root",
            clock.instant(),
            null,
            Duration.ZERO,
            Duration.ZERO,
            null,
            Duration.ZERO,
            null,
            Duration.ZERO,
            false,
            false,
            null,
            null);
    store.putToken(root.accessor(), hash, null, null, root.toJson());
  }

  /** What a presented token is, or null when unknown, expired or revoked. */
  @Nullable Token resolve(String id) {
    Token t = store.tokenByHash(Ids.sha256(id)).map(Token::fromJson).orElse(null);
    if (t == null) {
      return null;
    }
    if (t.expireTime() != null && !t.expireTime().isAfter(clock.instant())) {
      return null;
    }
    return t;
  }

  /** Creates and stores a token; returns the secret id with the stored token. */
  record Issued(String id, Token token) {}

  /**
   * Creates and stores a token for an auth method's login, which may ask for a periodic token
   * ({@code period} above zero): its TTL is the period (the explicit max TTL, if set, caps it), and
   * it has no max TTL but the explicit one, so each renewal grants the period again (Vault's {@code
   * CalculateTTL}, as {@code RegisterAuth} and {@code RenewToken} call it).
   */
  Issued create(
      List<String> policies,
      String displayName,
      Map<String, String> meta,
      String path,
      Duration ttl,
      Duration maxTtl,
      Duration explicitMaxTtl,
      Duration period,
      boolean renewable,
      boolean orphan,
      @Nullable String role,
      @Nullable String parentAccessor) {
    Instant now = clock.instant();
    Duration max = maxTtl;
    if (!explicitMaxTtl.isZero() && explicitMaxTtl.compareTo(max) < 0) {
      max = explicitMaxTtl;
    }
    Duration granted = ttl.compareTo(max) > 0 ? max : ttl;
    @Nullable Instant maxExpire = now.plus(max);
    // Vault caps a period at the max TTL (the mount's, or the login's), with a warning it does not
    // pass on; the renewals then grant the capped period.
    Duration effectivePeriod = period.compareTo(maxTtl) > 0 ? maxTtl : period;
    if (!effectivePeriod.isZero()) {
      granted =
          TtlCalculator.calculate(
                  Mount.SYSTEM_TTL,
                  Mount.SYSTEM_TTL,
                  Duration.ZERO,
                  ttl,
                  effectivePeriod,
                  maxTtl,
                  explicitMaxTtl,
                  now,
                  now)
              .ttl();
      maxExpire = explicitMaxTtl.isZero() ? null : now.plus(explicitMaxTtl);
    }
    String id = Ids.serviceToken();
    Token t =
        new Token(
            Ids.base62(24),
            sortedPolicies(policies),
            displayName,
            meta,
            path,
            now,
            now.plus(granted),
            granted,
            ttl,
            maxExpire,
            explicitMaxTtl,
            null,
            effectivePeriod,
            renewable,
            orphan,
            role,
            parentAccessor);
    return put(null, t);
  }

  /**
   * Stores a token built by the caller, under a new {@code hvs.} id or, for a root or sudo caller
   * that chose one, under {@code customId}, checked as Vault's {@code ts.create} does.
   *
   * @throws VaultException 400 with Vault's text for a custom id it would refuse
   */
  Issued put(@Nullable String customId, Token t) {
    String id = Ids.serviceToken();
    if (customId != null) {
      if (customId.startsWith("hvs.")) {
        throw VaultException.badRequest("custom token ID cannot have the 'hvs.' prefix");
      }
      if (customId.startsWith("s.")) {
        throw VaultException.badRequest("custom token ID cannot have the 's.' prefix");
      }
      if (customId.contains(".")) {
        throw VaultException.badRequest("custom token ID cannot have a '.' in the value");
      }
      if (store.tokenByHash(Ids.sha256(customId)).isPresent()) {
        throw VaultException.badRequest("cannot create a token with a duplicate ID");
      }
      id = customId;
    }
    store.putToken(t.accessor(), Ids.sha256(id), t.parentAccessor(), t.expireTime(), t.toJson());
    return new Issued(id, t);
  }

  /** The live token behind an accessor (not expired). */
  Optional<Token> byAccessor(String accessor) {
    return storedByAccessor(accessor)
        .filter(t -> t.expireTime() == null || t.expireTime().isAfter(clock.instant()));
  }

  /** The token behind an accessor even if it expired and the timer has not revoked it yet. */
  Optional<Token> storedByAccessor(String accessor) {
    return store.tokenByAccessor(accessor).map(Token::fromJson);
  }

  /** Every stored token's accessor ({@code LIST auth/token/accessors}). */
  List<String> accessors() {
    return store.tokenAccessors();
  }

  /** Vault sorts and de-duplicates policies. */
  static List<String> sortedPolicies(List<String> policies) {
    return List.copyOf(new TreeSet<>(policies));
  }

  /**
   * {@code auth/token/renew-self}, {@code renew} and {@code renew-accessor} (which passes an empty
   * {@code id}, as Vault blanks it there): the renewed auth block, with the capping warnings if
   * any. A token the token store created renews like Vault's {@code authRenew}: with its role's
   * current period and explicit max TTL when it came from a role, else with its own. A login token
   * renews with what its auth method's role says now, as Vault asks the method again; a role
   * deleted since refuses the renewal. Either way the TTL is Vault's {@code CalculateTTL} of the
   * renewal ({@code renewAuthEntry}).
   */
  VaultResponse renew(String id, Token t, Duration increment) {
    if (t.expireTime() == null) {
      // A token without a TTL (the root token): its lease entry has no expiry, which Vault's
      // leaseEntry.renewable() refuses.
      throw VaultException.badRequest("lease is not renewable");
    }
    if (!t.renewable()) {
      throw VaultException.badRequest("lease is not renewable");
    }
    Instant now = clock.instant();
    TtlCalculator.Calculated c;
    if (t.path().startsWith("auth/token/")) {
      Duration period = t.period();
      Duration explicitMax = t.explicitMaxTtl();
      String roleName = t.role();
      if (roleName != null) {
        TokenRole role =
            roles
                .get(roleName)
                .orElseThrow(
                    () ->
                        VaultException.backendError(
                            "failed to renew entry: original token role \""
                                + roleName
                                + "\" could not be found, not renewing"));
        period = role.tokenPeriod();
        explicitMax = role.tokenExplicitMaxTtl();
      }
      c =
          TtlCalculator.calculate(
              Mount.SYSTEM_TTL,
              Mount.SYSTEM_TTL,
              increment,
              t.defaultTtl(),
              period,
              Duration.ZERO,
              explicitMax,
              t.issueTime(),
              now);
    } else {
      LoginTerms terms = logins.termsFor(t);
      c =
          TtlCalculator.calculate(
              terms.mountDefaultTtl(),
              terms.mountMaxTtl(),
              increment,
              terms.ttl(),
              terms.period(),
              terms.maxTtl(),
              t.explicitMaxTtl(),
              t.issueTime(),
              now);
    }
    Duration ttl = c.ttl();
    List<String> warnings = c.warnings();
    Token renewed = t.renewed(now.plus(ttl), now);
    store.updateToken(renewed.accessor(), renewed.expireTime(), renewed.toJson());
    VaultResponse response = VaultResponse.auth(authBlock(id, renewed));
    for (String w : warnings) {
      response = response.withWarning(w);
    }
    return response;
  }

  /** Revokes a token, its children and every lease they created. */
  void revoke(String accessor) {
    for (String child : store.childTokens(accessor)) {
      revoke(child);
    }
    leases.revokeAllOfToken(accessor);
    store.deleteToken(accessor);
  }

  /** One pass of the expiry timer over tokens. */
  int revokeExpired() {
    int n = 0;
    for (String accessor : store.expiredTokens(clock.instant(), 100)) {
      log.debug("token {} expired; revoking it and its leases", accessor);
      revoke(accessor);
      n++;
    }
    return n;
  }

  ObjectNode authBlock(String id, Token t) {
    ObjectNode a = Json.MAPPER.createObjectNode();
    a.put("client_token", id);
    a.put("accessor", t.accessor());
    ArrayNode p = a.putArray("policies");
    t.policies().forEach(p::add);
    ArrayNode tp = a.putArray("token_policies");
    t.policies().forEach(tp::add);
    if (t.meta().isEmpty()) {
      a.putNull("metadata");
    } else {
      ObjectNode m = a.putObject("metadata");
      t.meta().forEach(m::put);
    }
    a.put("lease_duration", t.ttlSeconds(clock.instant()));
    a.put("renewable", t.renewable());
    a.put("entity_id", "");
    a.put("token_type", "service");
    a.put("orphan", t.orphan());
    a.putNull("mfa_requirement");
    a.put("num_uses", 0);
    return a;
  }

  /** {@code lookup-self} / {@code lookup-accessor} data. */
  ObjectNode lookupData(@Nullable String id, Token t) {
    Instant now = clock.instant();
    ObjectNode d = Json.MAPPER.createObjectNode();
    d.put("accessor", t.accessor());
    d.put("creation_time", t.issueTime().getEpochSecond());
    d.put("creation_ttl", t.creationTtl().getSeconds());
    d.put("display_name", t.displayName());
    d.put("entity_id", "");
    if (t.expireTime() == null) {
      d.putNull("expire_time");
    } else {
      d.put("expire_time", VaultClock.format(t.expireTime()));
    }
    d.put("explicit_max_ttl", t.explicitMaxTtl().getSeconds());
    d.put("id", id == null ? "" : id);
    d.put("issue_time", VaultClock.format(t.issueTime()));
    if (t.lastRenewal() != null) {
      d.put("last_renewal", VaultClock.format(t.lastRenewal()));
      d.put("last_renewal_time", t.lastRenewal().getEpochSecond());
    }
    if (t.meta().isEmpty()) {
      d.putNull("meta");
    } else {
      ObjectNode m = d.putObject("meta");
      t.meta().forEach(m::put);
    }
    d.put("num_uses", 0);
    d.put("orphan", t.orphan());
    d.put("path", t.path());
    if (!t.period().isZero()) {
      d.put("period", t.period().getSeconds());
    }
    ArrayNode p = d.putArray("policies");
    t.policies().forEach(p::add);
    d.put("renewable", t.renewable());
    if (t.role() != null) {
      d.put("role", t.role());
    }
    d.put("ttl", t.ttlSeconds(now));
    d.put("type", "service");
    return d;
  }
}
