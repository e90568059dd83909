package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Token creation by the token store ({@code auth/token/create}, {@code create-orphan} and {@code
 * create/<role>}), following Vault's token_store.go {@code handleCreateCommon} step by step, with
 * its error texts and in its order:
 *
 * <ul>
 *   <li>policies: a role with allowed or disallowed lists decides them (the allowed list when none
 *       are requested, else the request within it); otherwise the parent's when none are requested;
 *       otherwise a caller without root or {@code sudo} on the request path may only ask for a
 *       subset of its own ({@code child policies must be subset of parent});
 *   <li>parent: a role decides orphan-ness on its own (no {@code sudo} needed); {@code
 *       no_parent=true} needs root or {@code sudo} on the path; {@code create-orphan} is governed
 *       by the ACL on that path alone ("This comes from create-orphan, which can be properly
 *       ACLd");
 *   <li>TTL: {@link TtlCalculator#calculate} with the token mount's limits, the lesser of the
 *       request's and the role's explicit max TTL (and period), with Vault's warnings.
 * </ul>
 *
 * <p>Deliberate differences: the stand-in issues no batch tokens, keeps no use counts and has no
 * identity store, so {@code type=batch}, {@code num_uses > 0} and {@code entity_alias} are refused
 * with a 400 that says so rather than ignored. Stateless; thread-safe.
 */
final class TokenCreation {

  /** Vault's {@code nonAssignablePolicies}. */
  private static final Set<String> NON_ASSIGNABLE = Set.of("response-wrapping", "control-group");

  private final Tokens tokens;
  private final Policies policies;
  private final Clock clock;

  TokenCreation(Tokens tokens, Policies policies, Clock clock) {
    this.tokens = tokens;
    this.policies = policies;
    this.clock = clock;
  }

  /**
   * @param requestPath the path below {@code auth/token/}: {@code create}, {@code create-orphan} or
   *     {@code create/<role>}
   * @param parent the calling token
   * @param role the role named in the path, or null
   */
  VaultResponse create(String requestPath, Token parent, JsonNode body, @Nullable TokenRole role) {
    String fullPath = "auth/token/" + requestPath;
    Acl parentAcl = policies.acl(parent.policies());
    boolean sudo = parentAcl.isRoot() || parentAcl.capabilities(fullPath).contains("sudo");
    Request data = Request.of(body);

    boolean renewable = data.renewable() == null || data.renewable();
    String type = data.type();
    if (role != null && role.tokenType().equals("service")) {
      type = "service";
    }
    switch (type) {
      case "", "service" -> {}
      case "batch" ->
          throw VaultException.badRequest(
              "the dev-stack Vault stand-in does not issue batch tokens");
      default -> throw VaultException.badRequest("invalid 'token_type' value");
    }
    if (data.numUses() < 0) {
      throw VaultException.badRequest("number of uses cannot be negative");
    }
    if (data.numUses() > 0) {
      throw VaultException.badRequest(
          "the dev-stack Vault stand-in does not limit token uses (num_uses)");
    }
    if (!data.entityAlias().isEmpty()) {
      if (role == null) {
        throw VaultException.badRequest(
            "'entity_alias' is only allowed in combination with token role");
      }
      List<String> aliases =
          role.allowedEntityAliases() == null ? List.of() : role.allowedEntityAliases();
      String alias = data.entityAlias().toLowerCase(Locale.ROOT);
      if (!aliases.contains(alias) && !PolicyNames.containsGlob(aliases, alias)) {
        throw VaultException.badRequest("invalid 'entity_alias' value");
      }
      throw VaultException.badRequest(
          "the dev-stack Vault stand-in has no identity store (entity_alias)");
    }

    String path = fullPath;
    if (role != null) {
      renewable = renewable && role.renewable();
      if (!role.pathSuffix().isEmpty()) {
        path = path + "/" + role.pathSuffix();
      }
    }
    String displayName = "token";
    if (!data.displayName().isEmpty()) {
      displayName = ("token-" + data.displayName()).replaceAll("[^a-zA-Z0-9-]", "-");
      if (displayName.endsWith("-")) {
        displayName = displayName.substring(0, displayName.length() - 1);
      }
    }
    if (!data.id().isEmpty() && !sudo) {
      throw VaultException.badRequest("root or sudo privileges required to specify token id");
    }

    List<String> tokenPolicies = policies(data, parent, role, sudo);
    for (String p : tokenPolicies) {
      if (NON_ASSIGNABLE.contains(p)) {
        throw VaultException.badRequest("cannot assign policy \"" + p + "\"");
      }
    }
    if (tokenPolicies.contains("root") && !parent.policies().contains("root")) {
      throw VaultException.badRequest(
          "root tokens may not be created without parent token being root");
    }

    boolean orphan;
    if (role != null) {
      orphan = role.orphan();
    } else if (data.noParent()) {
      if (!sudo) {
        throw VaultException.badRequest("root or sudo privileges required to create orphan token");
      }
      orphan = true;
    } else {
      orphan = requestPath.equals("create-orphan");
    }

    Duration explicitMax = Duration.ZERO;
    if (!data.explicitMaxTtl().isEmpty()) {
      explicitMax = duration(data.explicitMaxTtl(), "explicit_max_ttl");
    }
    Duration requestedExplicitMax = explicitMax;
    Duration period = Duration.ZERO;
    if (!data.period().isEmpty()) {
      period = duration(data.period(), "period");
      if (!period.isZero() && !sudo) {
        throw VaultException.badRequest(
            "root or sudo privileges required to create periodic token");
      }
    }
    Duration requestedPeriod = period;
    Duration ttl = Duration.ZERO;
    if (!data.ttl().isEmpty()) {
      ttl = duration(data.ttl(), "ttl");
    } else if (!data.lease().isEmpty()) {
      ttl = duration(data.lease(), "lease");
    }

    List<String> warnings = new ArrayList<>();
    if (role != null) {
      if (!role.tokenExplicitMaxTtl().isZero()) {
        if (explicitMax.isZero()) {
          explicitMax = role.tokenExplicitMaxTtl();
        } else {
          explicitMax = min(explicitMax, role.tokenExplicitMaxTtl());
          warnings.add(
              "Explicit max TTL specified both during creation call and in role; using the lesser value of "
                  + explicitMax.getSeconds()
                  + " seconds");
        }
      }
      if (!role.tokenPeriod().isZero()) {
        if (period.isZero()) {
          period = role.tokenPeriod();
        } else {
          period = min(period, role.tokenPeriod());
          warnings.add(
              "Period specified both during creation call and in role; using the lesser value of "
                  + period.getSeconds()
                  + " seconds");
        }
      }
    }

    Instant now = clock.instant();
    if (!period.isZero() || !ttl.isZero() || !tokenPolicies.contains("root")) {
      TtlCalculator.Calculated c =
          TtlCalculator.calculate(
              Mount.SYSTEM_TTL,
              Mount.SYSTEM_TTL,
              Duration.ZERO,
              ttl,
              period,
              Duration.ZERO,
              explicitMax,
              now,
              now);
      warnings.addAll(c.warnings());
      ttl = c.ttl();
    }
    if (ttl.isZero() && !explicitMax.isZero()) {
      // Root tokens are still bound by the explicit max TTL.
      ttl = explicitMax;
    }
    Instant maxExpire = null;
    if (ttl.isZero()) {
      if (parent.expireTime() != null) {
        throw VaultException.badRequest(
            "expiring root tokens cannot create non-expiring root tokens");
      }
      renewable = false;
    } else if (!period.isZero()) {
      maxExpire = explicitMax.isZero() ? null : now.plus(explicitMax);
    } else {
      maxExpire =
          now.plus(explicitMax.isZero() ? Mount.SYSTEM_TTL : min(explicitMax, Mount.SYSTEM_TTL));
    }
    if (!data.id().isEmpty()) {
      warnings.add(
          "Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure"
              + " SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.");
    }

    Token token =
        new Token(
            Ids.base62(24),
            tokenPolicies,
            displayName,
            data.meta(),
            path,
            now,
            ttl.isZero() ? null : now.plus(ttl),
            ttl,
            ttl,
            maxExpire,
            requestedExplicitMax,
            null,
            requestedPeriod,
            renewable,
            orphan,
            role == null ? null : role.name(),
            orphan ? null : parent.accessor());
    Tokens.Issued issued = tokens.put(data.id().isEmpty() ? null : data.id(), token);

    for (String p : tokenPolicies) {
      if (!p.equals("root") && policies.text(p).isEmpty()) {
        warnings.add("Policy \"" + p + "\" does not exist");
      }
    }
    VaultResponse response = VaultResponse.auth(tokens.authBlock(issued.id(), issued.token()));
    for (String w : warnings) {
      response = response.withWarning(w);
    }
    return response;
  }

  /** The policy decision of {@code handleCreateCommon}, sanitized and sorted. */
  private static List<String> policies(
      Request data, Token parent, @Nullable TokenRole role, boolean sudo) {
    boolean addDefault = false;
    List<String> chosen;
    if (role != null && role.restrictsPolicies()) {
      // A role with lists grants policies disjoint from the parent's; "default" joins unless
      // the request, the role or its disallowed lists keep it out.
      boolean roleAddsDefault =
          !data.noDefaultPolicy()
              && !role.tokenNoDefaultPolicy()
              && !role.disallowedPolicies().contains("default")
              && !PolicyNames.containsGlob(role.disallowedPoliciesGlob(), "default");
      List<String> finalPolicies =
          data.policies().isEmpty()
              ? List.of()
              : PolicyNames.sanitize(data.policies(), roleAddsDefault);
      if (!role.allowedPolicies().isEmpty() || !role.allowedPoliciesGlob().isEmpty()) {
        List<String> allowed = PolicyNames.sanitize(role.allowedPolicies(), roleAddsDefault);
        if (finalPolicies.isEmpty()) {
          finalPolicies = allowed;
        } else {
          List<String> allowedGlob = PolicyNames.sanitize(role.allowedPoliciesGlob(), false);
          for (String p : finalPolicies) {
            if (!allowed.contains(p) && !PolicyNames.containsGlob(allowedGlob, p)) {
              throw VaultException.badRequest(
                  "token policies ("
                      + PolicyNames.goQuoted(finalPolicies)
                      + ") must be subset of the role's allowed policies ("
                      + PolicyNames.goQuoted(allowed)
                      + ") or glob policies ("
                      + PolicyNames.goQuoted(allowedGlob)
                      + ")");
            }
          }
        }
      } else if (finalPolicies.isEmpty()) {
        finalPolicies = PolicyNames.sanitize(parent.policies(), roleAddsDefault);
      }
      if (!role.disallowedPolicies().isEmpty() || !role.disallowedPoliciesGlob().isEmpty()) {
        List<String> disallowed = PolicyNames.removeDuplicates(role.disallowedPolicies(), true);
        List<String> disallowedGlob =
            PolicyNames.removeDuplicates(role.disallowedPoliciesGlob(), true);
        for (String p : finalPolicies) {
          if (disallowed.contains(p) || PolicyNames.containsGlob(disallowedGlob, p)) {
            throw VaultException.badRequest(
                "token policy \"" + p + "\" is disallowed by this role");
          }
        }
      }
      chosen = finalPolicies;
    } else if (data.policies().isEmpty()) {
      // Inherit the parent's; "default" only if the parent has it.
      chosen = PolicyNames.sanitize(parent.policies(), false);
    } else if (!sudo) {
      List<String> requested = PolicyNames.sanitize(data.policies(), false);
      if (!PolicyNames.sanitize(parent.policies(), false).containsAll(requested)) {
        throw VaultException.badRequest("child policies must be subset of parent");
      }
      addDefault = !data.noDefaultPolicy() && parent.policies().contains("default");
      chosen = data.policies();
    } else {
      addDefault = !data.noDefaultPolicy();
      chosen = data.policies();
    }
    List<String> result = new ArrayList<>(PolicyNames.sanitize(chosen, addDefault));
    if (data.noDefaultPolicy()) {
      result.remove("default");
    }
    return List.copyOf(result);
  }

  private static Duration duration(String text, String field) {
    Duration d = GoDuration.parse(text);
    if (d.isNegative()) {
      throw VaultException.badRequest(field + " must be positive");
    }
    return d;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /**
   * The request fields, read as Vault's {@code mapstructure.WeakDecode} reads them: numbers and
   * booleans where strings are expected become their text; one string where a list is expected is a
   * one-element list.
   *
   * @param renewable null when the request does not say
   */
  private record Request(
      String id,
      List<String> policies,
      Map<String, String> meta,
      boolean noParent,
      boolean noDefaultPolicy,
      String lease,
      String ttl,
      @Nullable Boolean renewable,
      String explicitMaxTtl,
      String displayName,
      long numUses,
      String period,
      String type,
      String entityAlias) {

    static Request of(JsonNode body) {
      List<String> policies = new ArrayList<>();
      JsonNode p = body.get("policies");
      if (p != null && p.isArray()) {
        p.forEach(n -> policies.add(n.asText()));
      } else if (p != null && p.isValueNode() && !p.isNull()) {
        policies.add(p.asText());
      }
      Map<String, String> meta = new LinkedHashMap<>();
      body.path("meta").fields().forEachRemaining(e -> meta.put(e.getKey(), e.getValue().asText()));
      JsonNode renewable = body.get("renewable");
      return new Request(
          text(body, "id"),
          policies,
          meta,
          body.path("no_parent").asBoolean(false),
          body.path("no_default_policy").asBoolean(false),
          text(body, "lease"),
          text(body, "ttl"),
          renewable == null || renewable.isNull() ? null : renewable.asBoolean(true),
          text(body, "explicit_max_ttl"),
          text(body, "display_name"),
          body.path("num_uses").asLong(0),
          text(body, "period"),
          text(body, "type"),
          text(body, "entity_alias"));
    }

    private static String text(JsonNode body, String field) {
      JsonNode n = body.get(field);
      return n == null || n.isNull() ? "" : n.asText();
    }
  }
}
