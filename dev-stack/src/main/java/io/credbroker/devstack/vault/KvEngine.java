package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Vault's KV version 1 secrets engine: read, write, list and delete JSON objects by path. Built in
 * because operators and tests commonly mount it; thread-safe through the mount's storage.
 */
final class KvEngine implements SecretsEngine {

  static final SecretsEngineFactory FACTORY =
      new SecretsEngineFactory() {
        @Override
        public String type() {
          return "kv";
        }

        @Override
        public SecretsEngine create(EngineContext context) {
          return new KvEngine(context.storage());
        }
      };

  private final EngineStorage storage;

  private KvEngine(EngineStorage storage) {
    this.storage = storage;
  }

  @Override
  public VaultResponse handle(EngineRequest request) {
    String path = request.path();
    return switch (request.operation()) {
      case READ -> storage.get(path).map(VaultResponse::data).orElseThrow(VaultException::notFound);
      case LIST -> {
        List<String> keys = storage.list(path.isEmpty() || path.endsWith("/") ? path : path + "/");
        if (keys.isEmpty()) {
          throw VaultException.notFound();
        }
        ObjectNode data = Json.MAPPER.createObjectNode();
        keys.forEach(data.putArray("keys")::add);
        yield VaultResponse.data(data);
      }
      case CREATE, UPDATE -> {
        if (path.isEmpty() || path.endsWith("/")) {
          throw VaultException.badRequest("missing path");
        }
        JsonNode body = request.body();
        if (!body.isObject() || body.isEmpty()) {
          throw VaultException.badRequest("missing data fields");
        }
        storage.put(path, body);
        yield VaultResponse.noContent();
      }
      case DELETE -> {
        storage.delete(path);
        yield VaultResponse.noContent();
      }
    };
  }

  @Override
  public RenewalGrant renewalGrant(LeaseRecord lease, Duration increment) {
    throw VaultException.badRequest("lease is not renewable");
  }

  @Override
  public void applyRenewal(LeaseRecord lease, Instant newExpiry) {
    throw VaultException.badRequest("lease is not renewable");
  }

  @Override
  public void revoke(LeaseRecord lease) {
    // KV data is not leased; nothing to undo.
  }
}
