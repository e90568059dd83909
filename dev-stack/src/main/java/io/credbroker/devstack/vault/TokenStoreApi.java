package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The token store's paths under {@code auth/token/}, after authentication and ACL checks:
 * creation, lookup, renewal and revocation of tokens, and the token roles, as Vault's
 * token_store.go answers them.
 * Stateless itself; thread-safe.
 */
final class TokenStoreApi {

  private final Tokens tokens;
  private final TokenRoles roles;
  private final Policies policies;

  TokenStoreApi(Tokens tokens, TokenRoles roles, Policies policies) {
    this.tokens = tokens;
    this.roles = roles;
    this.policies = policies;
  }

  /**
   * @param p the path relative to {@code auth/token/} ({@code LIST} paths end in {@code /})
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
        return createToken(p, self, body);
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
      case "roles", "roles/" -> {
        if (op != Operation.LIST) {
          throw VaultException.unsupportedOperation();
        }
        List<String> names = roles.names();
        if (names.isEmpty()) {
          throw VaultException.notFound();
        }
        return keys(names);
      }
      default -> {
        String role = roleName(p, "roles/");
        if (role != null) {
          return role(op, role, body);
        }
        throw VaultException.unsupportedPath();
      }
    }
  }

  private VaultResponse role(Operation op, String name, JsonNode body) {
    return switch (op) {
      case READ -> VaultResponse.data(roles.get(name).orElseThrow(VaultException::notFound).view());
      case CREATE, UPDATE -> {
        TokenRole.Written written = TokenRole.write(roles.get(name).orElse(null), name, body, Mount.SYSTEM_TTL);
        roles.put(written.role());
        VaultResponse response = VaultResponse.noContent();
        for (String w : written.warnings()) {
          response = response.withWarning(w);
        }
        yield response;
      }
      case DELETE -> {
        roles.delete(name);
        yield VaultResponse.noContent();
      }
      case LIST -> throw VaultException.unsupportedOperation();
    };
  }

  /** The role name after {@code prefix} when {@code p} is {@code prefix<valid name>}, else null. */
  private static @Nullable String roleName(String p, String prefix) {
    if (!p.startsWith(prefix)) {
      return null;
    }
    String name = p.substring(prefix.length());
    return TokenRole.NAME.matcher(name).matches() ? name : null;
  }

  private static VaultResponse keys(List<String> keys) {
    ObjectNode d = Json.MAPPER.createObjectNode();
    keys.forEach(d.putArray("keys")::add);
    return VaultResponse.data(d);
  }

  private Token byAccessor(String accessor) {
    return tokens.byAccessor(accessor)
        .orElseThrow(() -> VaultException.badRequest("invalid accessor"));
  }

  /**
   * Vault's {@code handleCreateCommon} for {@code create} and {@code create-orphan}. Policies:
   * the parent's when none are requested ("default" only if the parent has it); otherwise a
   * caller without root or {@code sudo} on the request path may only ask for a subset of its
   * own. Parent: {@code no_parent=true} needs root or {@code sudo} on the path, while
   * {@code create-orphan} is governed by the ACL on that path alone (token_store.go: "This comes
   * from create-orphan, which can be properly ACLd").
   */
  private VaultResponse createToken(String requestPath, Token parent, JsonNode body) {
    Acl parentAcl = policies.acl(parent.policies());
    boolean sudo = parentAcl.isRoot() || parentAcl.capabilities("auth/token/" + requestPath).contains("sudo");
    List<String> requested = KubernetesAuth.strings(body.get("policies"));
    boolean noDefault = body.path("no_default_policy").asBoolean(false);
    boolean addDefault = false;
    List<String> chosen;
    if (requested.isEmpty()) {
      chosen = parent.policies();
    } else if (!sudo) {
      if (!PolicyNames.sanitize(parent.policies(), false).containsAll(PolicyNames.sanitize(requested, false))) {
        throw VaultException.badRequest("child policies must be subset of parent");
      }
      addDefault = !noDefault && parent.policies().contains("default");
      chosen = requested;
    } else {
      addDefault = !noDefault;
      chosen = requested;
    }
    List<String> policyNames = new ArrayList<>(PolicyNames.sanitize(chosen, addDefault));
    if (noDefault) {
      policyNames.remove("default");
    }
    if (policyNames.contains("root") && !parent.policies().contains("root")) {
      throw VaultException.badRequest("root tokens may not be created without parent token being root");
    }
    boolean orphan;
    if (body.path("no_parent").asBoolean(false)) {
      if (!sudo) {
        throw VaultException.badRequest("root or sudo privileges required to create orphan token");
      }
      orphan = true;
    } else {
      orphan = requestPath.equals("create-orphan");
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
          "auth/token/" + requestPath, orphan ? null : parent.accessor());
      return VaultResponse.auth(tokens.authBlock(issued.id(), issued.token()));
    }
    if (ttl.isZero()) {
      ttl = Mount.SYSTEM_TTL;
    }
    Tokens.Issued issued =
        tokens.create(policyNames, displayName(body), meta(body), "auth/token/" + requestPath, ttl, Mount.SYSTEM_TTL,
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
