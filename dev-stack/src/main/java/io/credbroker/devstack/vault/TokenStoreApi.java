package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The token store's paths under {@code auth/token/}, after authentication and ACL checks:
 * creation, lookup, renewal and revocation of tokens. Stateless itself; thread-safe.
 */
final class TokenStoreApi {

  private final Tokens tokens;
  private final Policies policies;

  TokenStoreApi(Tokens tokens, Policies policies) {
    this.tokens = tokens;
    this.policies = policies;
  }

  /**
   * @param p the path relative to {@code auth/token/}
   * @param selfId the calling token's id
   * @param self the calling token
   */
  VaultResponse handle(Operation op, String p, JsonNode body, String selfId, Token self) {
    switch (p) {
      case "lookup-self" -> {
        if (op != Operation.READ && op != Operation.UPDATE) {
          throw VaultException.unsupportedOperation();
        }
        return VaultResponse.data(tokens.lookupData(selfId, self));
      }
      case "renew-self" -> {
        VaultException.requireWrite(op);
        return tokens.renew(selfId, self, GoDuration.parse(body.get("increment"), Duration.ZERO));
      }
      case "revoke-self" -> {
        VaultException.requireWrite(op);
        tokens.revoke(self.accessor());
        return VaultResponse.noContent();
      }
      case "create", "create-orphan" -> {
        VaultException.requireWrite(op);
        return createToken(self, body, p.equals("create-orphan") || body.path("no_parent").asBoolean(false));
      }
      case "lookup" -> {
        if (op == Operation.READ) {
          return VaultResponse.data(tokens.lookupData(selfId, self));
        }
        String id = body.path("token").asText("");
        Token t = tokens.resolve(id);
        if (t == null) {
          throw VaultException.badRequest("bad token");
        }
        return VaultResponse.data(tokens.lookupData(id, t));
      }
      case "lookup-accessor" -> {
        VaultException.requireWrite(op);
        Token t = byAccessor(body.path("accessor").asText(""));
        ObjectNode d = tokens.lookupData(null, t);
        return VaultResponse.data(d);
      }
      case "renew" -> {
        VaultException.requireWrite(op);
        String id = body.path("token").asText("");
        Token t = tokens.resolve(id);
        if (t == null) {
          throw VaultException.badRequest("invalid token");
        }
        return tokens.renew(id, t, GoDuration.parse(body.get("increment"), Duration.ZERO));
      }
      case "revoke" -> {
        VaultException.requireWrite(op);
        Token t = tokens.resolve(body.path("token").asText(""));
        if (t != null) {
          tokens.revoke(t.accessor());
        }
        return VaultResponse.noContent();
      }
      case "revoke-accessor" -> {
        VaultException.requireWrite(op);
        Token t = byAccessor(body.path("accessor").asText(""));
        tokens.revoke(t.accessor());
        return VaultResponse.noContent();
      }
      default -> throw VaultException.unsupportedPath();
    }
  }

  private Token byAccessor(String accessor) {
    return tokens.byAccessor(accessor)
        .orElseThrow(() -> VaultException.badRequest("invalid accessor"));
  }

  private VaultResponse createToken(Token parent, JsonNode body, boolean orphan) {
    Acl parentAcl = policies.acl(parent.policies());
    List<String> requested = KubernetesAuth.strings(body.get("policies"));
    List<String> policyNames = new ArrayList<>(requested.isEmpty() ? parent.policies() : requested);
    if (!parentAcl.isRoot()) {
      for (String p : policyNames) {
        if (!p.equals("default") && !parent.policies().contains(p)) {
          throw VaultException.badRequest("child policies must be subset of parent");
        }
      }
      if (orphan) {
        throw VaultException.badRequest("root or sudo privileges required to create orphan token");
      }
    }
    if (!body.path("no_default_policy").asBoolean(false) && !policyNames.contains("root")
        && !policyNames.contains("default")) {
      policyNames.add("default");
    }
    Duration ttl = GoDuration.parse(body.get("ttl"), Duration.ZERO);
    Duration explicitMax = GoDuration.parse(body.get("explicit_max_ttl"), Duration.ZERO);
    Duration period = GoDuration.parse(body.get("period"), Duration.ZERO);
    if (!period.isZero()) {
      ttl = period;
    }
    if (policyNames.contains("root") && ttl.isZero()) {
      // Root tokens without a TTL never expire, like Vault's.
      Tokens.Issued issued = tokens.createNonExpiring(policyNames, displayName(body), meta(body),
          orphan ? null : parent.accessor());
      return VaultResponse.auth(tokens.authBlock(issued.id(), issued.token()));
    }
    if (ttl.isZero()) {
      ttl = Mount.SYSTEM_TTL;
    }
    Tokens.Issued issued =
        tokens.create(policyNames, displayName(body), meta(body), "auth/token/create", ttl, Mount.SYSTEM_TTL,
            explicitMax, body.path("renewable").asBoolean(true), orphan, null, orphan ? null : parent.accessor());
    return VaultResponse.auth(tokens.authBlock(issued.id(), issued.token()));
  }

  private static String displayName(JsonNode body) {
    String name = body.path("display_name").asText("").strip().toLowerCase(Locale.ROOT);
    name = name.replaceAll("[^a-z0-9\\-_.]", "-");
    return name.isEmpty() ? "token" : "token-" + name;
  }

  private static Map<String, String> meta(JsonNode body) {
    Map<String, String> meta = new LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> it = body.path("meta").fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      meta.put(e.getKey(), e.getValue().asText());
    }
    return meta;
  }
}
