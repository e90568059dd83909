package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The token store's paths under {@code auth/token/}, after authentication and ACL checks, as
 * Vault's token_store.go answers them: token creation (plain, orphan, against a role), lookup,
 * renewal and revocation by token and by accessor, the accessor list, and the token roles.
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
   * Vault's existence check decides whether a write is a create (ACL capability {@code create}) or
   * an update ({@code update}). In the token store only roles have one ({@code
   * tokenStoreRoleExistenceCheck}); every other write there is an update.
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
        if (op != Operation.READ && op != Operation.UPDATE) {
          throw VaultException.unsupportedOperation();
        }
        String id = body.path("token").asText("");
        if (id.isEmpty()) {
          return VaultResponse.data(tokens.lookupData(selfId, self));
        }
        Token t = tokens.resolve(id);
        if (t == null) {
          // logical.ErrorResponse("bad token") with ErrPermissionDenied: 403, plain text.
          throw new VaultException(403, List.of("bad token"));
        }
        return VaultResponse.data(tokens.lookupData(id, t));
      }
      case "lookup-accessor" -> {
        VaultException.requireWrite(op);
        Token t =
            tokens.storedByAccessor(accessor(body)).orElseThrow(TokenStoreApi::invalidAccessor);
        // Vault answers handleLookup's data with the token id blanked.
        return VaultResponse.data(tokens.lookupData(null, t));
      }
      case "renew" -> {
        VaultException.requireWrite(op);
        String id = body.path("token").asText("");
        if (id.isEmpty()) {
          throw VaultException.badRequest("missing token ID");
        }
        Token t = tokens.resolve(id);
        if (t == null) {
          throw VaultException.badRequest("token not found");
        }
        return tokens.renew(id, t, GoDuration.parse(body.get("increment"), Duration.ZERO));
      }
      case "renew-accessor" -> {
        VaultException.requireWrite(op);
        Token t = tokens.byAccessor(accessor(body)).orElseThrow(TokenStoreApi::invalidAccessor);
        // Vault blanks the token id in the renewed auth block.
        return tokens.renew("", t, GoDuration.parse(body.get("increment"), Duration.ZERO));
      }
      case "revoke" -> {
        VaultException.requireWrite(op);
        String id = body.path("token").asText("");
        if (id.isEmpty()) {
          throw VaultException.badRequest("missing token ID");
        }
        Token t = tokens.resolve(id);
        if (t != null) {
          tokens.revoke(t.accessor());
        }
        return VaultResponse.noContent();
      }
      case "revoke-accessor" -> {
        VaultException.requireWrite(op);
        Optional<Token> stored = tokens.storedByAccessor(accessor(body));
        if (stored.isEmpty()) {
          return new VaultResponse(
              200, null, null, List.of("No token found with this accessor"), null);
        }
        Token t =
            tokens
                .byAccessor(stored.get().accessor())
                .orElseThrow(() -> VaultException.badRequest("token not found"));
        // Revoking the token revokes its leases and its children; orphans are no one's children.
        tokens.revoke(t.accessor());
        return VaultResponse.noContent();
      }
      case "accessors/" -> {
        if (op != Operation.LIST) {
          throw VaultException.unsupportedOperation();
        }
        return keys(tokens.accessors());
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
          TokenRole role =
              roles
                  .get(createRole)
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
        TokenRole.Written written =
            TokenRole.write(roles.get(name).orElse(null), name, body, Mount.SYSTEM_TTL);
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

  private static String accessor(JsonNode body) {
    String accessor = body.path("accessor").asText("");
    if (accessor.isEmpty()) {
      throw statusBadRequest("missing accessor");
    }
    return accessor;
  }

  private static VaultException invalidAccessor() {
    return statusBadRequest("invalid accessor");
  }

  /**
   * A {@code logical.StatusBadRequest} error returned without a response: 400, and the text arrives
   * multierror-wrapped like any other routed error.
   */
  private static VaultException statusBadRequest(String message) {
    return new VaultException(400, List.of(VaultException.multiError(message)));
  }

  private static VaultResponse keys(List<String> keys) {
    ObjectNode d = Json.MAPPER.createObjectNode();
    keys.forEach(d.putArray("keys")::add);
    return VaultResponse.data(d);
  }
}
