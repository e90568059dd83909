package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;

/**
 * A dynamic role as the engine stores it under {@code role/<name>}. Immutable.
 *
 * @param defaultTtl {@link Duration#ZERO} means the mount's default lease TTL
 * @param maxTtl {@link Duration#ZERO} means the mount's max lease TTL
 * @param rollbackStatements stored and echoed but never run, like the v5 PostgreSQL plugin
 */
record StoredRole(
    String dbName,
    List<String> creationStatements,
    List<String> revocationStatements,
    List<String> rollbackStatements,
    List<String> renewStatements,
    Duration defaultTtl,
    Duration maxTtl,
    String credentialType,
    ObjectNode credentialConfig) {

  StoredRole {
    creationStatements = List.copyOf(creationStatements);
    revocationStatements = List.copyOf(revocationStatements);
    rollbackStatements = List.copyOf(rollbackStatements);
    renewStatements = List.copyOf(renewStatements);
    credentialConfig = credentialConfig.deepCopy();
  }

  static StoredRole empty() {
    return new StoredRole(
        "",
        List.of(),
        List.of(),
        List.of(),
        List.of(),
        Duration.ZERO,
        Duration.ZERO,
        "password",
        JsonNodeFactory.instance.objectNode());
  }

  static StoredRole fromJson(JsonNode json) {
    return new StoredRole(
        json.path("db_name").asText(""),
        StoredConfig.strings(json.path("creation_statements")),
        StoredConfig.strings(json.path("revocation_statements")),
        StoredConfig.strings(json.path("rollback_statements")),
        StoredConfig.strings(json.path("renew_statements")),
        Duration.ofSeconds(json.path("default_ttl").asLong(0)),
        Duration.ofSeconds(json.path("max_ttl").asLong(0)),
        json.path("credential_type").asText("password"),
        json.path("credential_config").isObject()
            ? (ObjectNode) json.get("credential_config")
            : JsonNodeFactory.instance.objectNode());
  }

  ObjectNode toJson() {
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("db_name", dbName);
    json.set("creation_statements", StoredConfig.array(creationStatements));
    json.set("revocation_statements", StoredConfig.array(revocationStatements));
    json.set("rollback_statements", StoredConfig.array(rollbackStatements));
    json.set("renew_statements", StoredConfig.array(renewStatements));
    json.put("default_ttl", defaultTtl.getSeconds());
    json.put("max_ttl", maxTtl.getSeconds());
    json.put("credential_type", credentialType);
    json.set("credential_config", credentialConfig.deepCopy());
    return json;
  }

  /** The response of a role read: statement arrays, TTLs in seconds, credential type. */
  ObjectNode toReadResponse() {
    ObjectNode json = toJson();
    if (credentialConfig.isEmpty()) {
      json.remove("credential_config");
    }
    return json;
  }
}
