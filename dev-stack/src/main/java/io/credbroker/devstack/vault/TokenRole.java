package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A token store role ({@code auth/token/roles/<name>}) as Vault's token_store.go keeps it ({@code
 * tsRoleEntry}) and reads it back ({@code tokenStoreRoleRead}). Immutable.
 *
 * <p>{@code period} and {@code explicitMaxTtl} are the deprecated fields as last written; {@code
 * tokenPeriod} and {@code tokenExplicitMaxTtl} are what token creation uses. Vault keeps both so
 * that a read returns what was written.
 *
 * @param allowedEntityAliases null until written, as Vault reads it back
 * @param tokenType {@code default-service} or {@code service} (the stand-in issues no batch tokens)
 */
record TokenRole(
    String name,
    List<String> allowedPolicies,
    List<String> disallowedPolicies,
    List<String> allowedPoliciesGlob,
    List<String> disallowedPoliciesGlob,
    @Nullable List<String> allowedEntityAliases,
    boolean orphan,
    boolean renewable,
    String pathSuffix,
    Duration period,
    Duration tokenPeriod,
    Duration explicitMaxTtl,
    Duration tokenExplicitMaxTtl,
    boolean tokenNoDefaultPolicy,
    String tokenType) {

  /** Vault's {@code pathSuffixSanitize}, applied unanchored as Go's MatchString does. */
  static final Pattern PATH_SUFFIX = Pattern.compile("\\w[\\w-.]+\\w");

  /** Vault's {@code framework.GenericNameRegex}: what a role name in a path may be. */
  static final Pattern NAME = Pattern.compile("\\w(([\\w-.]+)?\\w)?");

  TokenRole {
    allowedPolicies = List.copyOf(allowedPolicies);
    disallowedPolicies = List.copyOf(disallowedPolicies);
    allowedPoliciesGlob = List.copyOf(allowedPoliciesGlob);
    disallowedPoliciesGlob = List.copyOf(disallowedPoliciesGlob);
    allowedEntityAliases = allowedEntityAliases == null ? null : List.copyOf(allowedEntityAliases);
  }

  /** What a create starts from: Vault's field defaults ({@code renewable} true, the rest empty). */
  static TokenRole defaults(String name) {
    return new TokenRole(
        name,
        List.of(),
        List.of(),
        List.of(),
        List.of(),
        null,
        false,
        true,
        "",
        Duration.ZERO,
        Duration.ZERO,
        Duration.ZERO,
        Duration.ZERO,
        false,
        "default-service");
  }

  /** A written role with the warnings Vault answers the write with. */
  record Written(TokenRole role, List<String> warnings) {}

  /**
   * Vault's {@code tokenStoreRoleCreateUpdate}: fields present in the body replace the stored ones,
   * absent fields keep them (on a create, the defaults).
   *
   * @param existing the stored role, or null for a create
   * @param systemMaxTtl the token mount's max TTL, for the explicit-max warning
   * @throws VaultException 400 with Vault's texts for invalid values, and for what the stand-in
   *     does not implement (batch tokens, use limits, CIDR bindings)
   */
  static Written write(
      @Nullable TokenRole existing, String name, JsonNode body, Duration systemMaxTtl) {
    TokenRole r = existing == null ? defaults(name) : existing;
    List<String> warnings = new ArrayList<>();

    boolean orphan = body.hasNonNull("orphan") ? body.get("orphan").asBoolean() : r.orphan();
    boolean renewable =
        body.hasNonNull("renewable") ? body.get("renewable").asBoolean(true) : r.renewable();
    String pathSuffix = r.pathSuffix();
    if (body.has("path_suffix")) {
      pathSuffix = body.path("path_suffix").asText("");
      if (!pathSuffix.isEmpty() && !PATH_SUFFIX.matcher(pathSuffix).find()) {
        throw VaultException.badRequest(
            "given role path suffix contains invalid characters; must match "
                + PATH_SUFFIX.pattern());
      }
    }
    if (pathSuffix.contains("..")) {
      throw VaultException.badRequest(
          "error registering path suffix: path cannot contain parent references");
    }
    List<String> allowed =
        body.has("allowed_policies")
            ? PolicyNames.sanitize(KubernetesAuth.strings(body.get("allowed_policies")), false)
            : r.allowedPolicies();
    List<String> disallowed =
        body.has("disallowed_policies")
            ? PolicyNames.removeDuplicates(
                KubernetesAuth.strings(body.get("disallowed_policies")), true)
            : r.disallowedPolicies();
    List<String> allowedGlob =
        body.has("allowed_policies_glob")
            ? PolicyNames.sanitize(KubernetesAuth.strings(body.get("allowed_policies_glob")), false)
            : r.allowedPoliciesGlob();
    List<String> disallowedGlob =
        body.has("disallowed_policies_glob")
            ? PolicyNames.removeDuplicates(
                KubernetesAuth.strings(body.get("disallowed_policies_glob")), true)
            : r.disallowedPoliciesGlob();

    String tokenType = r.tokenType();
    if (body.has("token_type")) {
      JsonNode t = body.get("token_type");
      if (t.isNull()) {
        throw VaultException.badRequest("Invalid 'token_type' value: null");
      }
      tokenType =
          switch (t.asText()) {
            case "service" -> "service";
            case "default-service" -> "default-service";
            case "batch", "default-batch" ->
                throw VaultException.badRequest(
                    "the dev-stack Vault stand-in does not issue batch tokens");
            default ->
                throw VaultException.badRequest(
                    "invalid 'token_type' value \"" + t.asText() + "\"");
          };
    }
    boolean noDefaultPolicy =
        body.hasNonNull("token_no_default_policy")
            ? body.get("token_no_default_policy").asBoolean()
            : r.tokenNoDefaultPolicy();
    if (body.hasNonNull("token_num_uses") && body.get("token_num_uses").asLong() != 0) {
      throw body.get("token_num_uses").asLong() < 0
          ? VaultException.badRequest(
              "error parsing role fields: 'token_num_uses' cannot be negative")
          : VaultException.badRequest(
              "the dev-stack Vault stand-in does not limit token uses (token_num_uses)");
    }
    if (!KubernetesAuth.strings(body.get("token_bound_cidrs")).isEmpty()
        || !KubernetesAuth.strings(body.get("bound_cidrs")).isEmpty()) {
      throw VaultException.badRequest("the dev-stack Vault stand-in does not bind tokens to CIDRs");
    }

    // The token_ fields win over the deprecated ones; the deprecated value is kept only when it
    // was the one written, so that a read returns it.
    Duration period = r.period();
    Duration tokenPeriod = r.tokenPeriod();
    if (body.has("token_period")) {
      tokenPeriod = nonNegative(body, "token_period");
      if (body.has("period")) {
        warnings.add(
            "Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value");
      }
      period = Duration.ZERO;
    } else if (body.has("period")) {
      period = nonNegative(body, "period");
      tokenPeriod = period;
    }
    Duration explicitMax = r.explicitMaxTtl();
    Duration tokenExplicitMax = r.tokenExplicitMaxTtl();
    Duration finalExplicitMax;
    if (body.has("token_explicit_max_ttl")) {
      tokenExplicitMax = nonNegative(body, "token_explicit_max_ttl");
      finalExplicitMax = tokenExplicitMax;
      if (body.has("explicit_max_ttl")) {
        warnings.add(
            "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied,"
                + " ignoring the deprecated value");
      }
      explicitMax = Duration.ZERO;
    } else {
      if (body.has("explicit_max_ttl")) {
        explicitMax = nonNegative(body, "explicit_max_ttl");
        tokenExplicitMax = explicitMax;
      }
      finalExplicitMax = explicitMax;
    }
    if (!finalExplicitMax.isZero() && finalExplicitMax.compareTo(systemMaxTtl) > 0) {
      warnings.add(
          "Given explicit max TTL of "
              + finalExplicitMax.getSeconds()
              + " is greater than system/mount allowed value of "
              + systemMaxTtl.getSeconds()
              + " seconds; until this is fixed attempting to create tokens against this role will result in an error");
    }
    List<String> aliases =
        body.has("allowed_entity_aliases")
            ? PolicyNames.removeDuplicates(
                KubernetesAuth.strings(body.get("allowed_entity_aliases")), true)
            : r.allowedEntityAliases();

    TokenRole written =
        new TokenRole(
            name,
            allowed,
            disallowed,
            allowedGlob,
            disallowedGlob,
            aliases,
            orphan,
            renewable,
            pathSuffix,
            period,
            tokenPeriod,
            explicitMax,
            tokenExplicitMax,
            noDefaultPolicy,
            tokenType);
    return new Written(written, List.copyOf(warnings));
  }

  private static Duration nonNegative(JsonNode body, String field) {
    Duration d = GoDuration.parse(body.get(field), Duration.ZERO);
    if (d.isNegative()) {
      throw VaultException.badRequest(
          "error parsing role fields: '" + field + "' cannot be negative");
    }
    return d;
  }

  /** Whether a policy list or glob list restricts the policies tokens of this role may carry. */
  boolean restrictsPolicies() {
    return !allowedPolicies.isEmpty()
        || !disallowedPolicies.isEmpty()
        || !allowedPoliciesGlob.isEmpty()
        || !disallowedPoliciesGlob.isEmpty();
  }

  /** The read shape ({@code tokenStoreRoleRead}); also how the stand-in stores a role. */
  ObjectNode view() {
    ObjectNode d = Json.MAPPER.createObjectNode();
    putList(d, "allowed_entity_aliases", allowedEntityAliases);
    putList(d, "allowed_policies", allowedPolicies);
    putList(d, "allowed_policies_glob", allowedPoliciesGlob);
    putList(d, "disallowed_policies", disallowedPolicies);
    putList(d, "disallowed_policies_glob", disallowedPoliciesGlob);
    d.put("explicit_max_ttl", explicitMaxTtl.getSeconds());
    d.put("name", name);
    d.put("orphan", orphan);
    d.put("path_suffix", pathSuffix);
    d.put("period", period.getSeconds());
    d.put("renewable", renewable);
    d.put("token_explicit_max_ttl", tokenExplicitMaxTtl.getSeconds());
    d.put("token_no_default_policy", tokenNoDefaultPolicy);
    d.put("token_period", tokenPeriod.getSeconds());
    d.put("token_type", tokenType);
    return d;
  }

  static TokenRole fromView(JsonNode n) {
    JsonNode aliases = n.get("allowed_entity_aliases");
    return new TokenRole(
        n.path("name").asText(),
        texts(n.get("allowed_policies")),
        texts(n.get("disallowed_policies")),
        texts(n.get("allowed_policies_glob")),
        texts(n.get("disallowed_policies_glob")),
        aliases == null || aliases.isNull() ? null : texts(aliases),
        n.path("orphan").asBoolean(),
        n.path("renewable").asBoolean(true),
        n.path("path_suffix").asText(""),
        Duration.ofSeconds(n.path("period").asLong()),
        Duration.ofSeconds(n.path("token_period").asLong()),
        Duration.ofSeconds(n.path("explicit_max_ttl").asLong()),
        Duration.ofSeconds(n.path("token_explicit_max_ttl").asLong()),
        n.path("token_no_default_policy").asBoolean(),
        n.path("token_type").asText("default-service"));
  }

  private static void putList(ObjectNode d, String field, @Nullable List<String> values) {
    if (values == null) {
      d.putNull(field);
      return;
    }
    ArrayNode a = d.putArray(field);
    values.forEach(a::add);
  }

  private static List<String> texts(@Nullable JsonNode n) {
    List<String> out = new ArrayList<>();
    if (n != null) {
      n.forEach(x -> out.add(x.asText()));
    }
    return out;
  }
}
