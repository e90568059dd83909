package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The token store's paths under {@code auth/token/}, after authentication and ACL checks:
 * creation (plain, orphan, against a role), lookup, renewal and revocation of tokens, and the
 * token roles, as Vault's token_store.go answers them.
 * Stateless itself; thread-safe.
 */
final class TokenStoreApi {

  private final Tokens tokens;
  private final TokenRoles roles;
  private final TokenCreation creation;

  TokenStoreApi(Tokens tokens, TokenRoles roles, Policies policies, Clock clock) {
    this.tokens = tokens;
    this.roles = roles;
    this.creation = new TokenCreation(tokens, policies, clock);
  }

  /**
   * Vault's existence check decides whether a write is a create (ACL capability {@code create})
   * or an update ({@code update}). In the token store only roles have one
   * ({@code tokenStoreRoleExistenceCheck}); every other write there is an update.
   *
   * @param p the path relative to {@code auth/token/}
   */
  boolean writeCreates(String p) {
    String name = roleName(p, "roles/");
    return name != null && roles.get(name).isEmpty();
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
        return creation.create(p, self, body, null);
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
        String createRole = roleName(p, "create/");
        if (createRole != null) {
          VaultException.requireWrite(op);
          TokenRole role = roles.get(createRole)
              .orElseThrow(() -> VaultException.badRequest("unknown role " + createRole));
          return creation.create(p, self, body, role);
        }
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

}
