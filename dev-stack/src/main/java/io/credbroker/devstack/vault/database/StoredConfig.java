package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A connection config as the engine stores it under {@code config/<name>}: Vault's {@code
 * DatabaseConfig} (plugin, allowed roles, root rotation statements, password policy) with the
 * plugin's {@code connection_details} kept exactly as the operator sent them, admin password
 * included (this is the stand-in's Vault storage, which real Vault also keeps). Immutable; {@link
 * #toString} hides the connection details.
 */
record StoredConfig(
    String pluginName,
    String pluginVersion,
    ObjectNode connectionDetails,
    List<String> allowedRoles,
    List<String> rootRotationStatements,
    String passwordPolicy,
    boolean verifyConnection) {

  StoredConfig {
    connectionDetails = connectionDetails.deepCopy();
    allowedRoles = List.copyOf(allowedRoles);
    rootRotationStatements = List.copyOf(rootRotationStatements);
  }

  static StoredConfig fromJson(JsonNode json) {
    return new StoredConfig(
        json.path("plugin_name").asText(""),
        json.path("plugin_version").asText(""),
        json.path("connection_details").isObject()
            ? (ObjectNode) json.get("connection_details")
            : JsonNodeFactory.instance.objectNode(),
        strings(json.path("allowed_roles")),
        strings(json.path("root_credentials_rotate_statements")),
        json.path("password_policy").asText(""),
        json.path("verify_connection").asBoolean(true));
  }

  ObjectNode toJson() {
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("plugin_name", pluginName);
    json.put("plugin_version", pluginVersion);
    json.set("connection_details", connectionDetails.deepCopy());
    json.set("allowed_roles", array(allowedRoles));
    json.set("root_credentials_rotate_statements", array(rootRotationStatements));
    json.put("password_policy", passwordPolicy);
    json.put("verify_connection", verifyConnection);
    return json;
  }

  /** The same config with another admin password (root rotation). */
  StoredConfig withPassword(String password) {
    ObjectNode details = connectionDetails.deepCopy();
    details.put("password", password);
    return new StoredConfig(
        pluginName,
        pluginVersion,
        details,
        allowedRoles,
        rootRotationStatements,
        passwordPolicy,
        verifyConnection);
  }

  static List<String> strings(JsonNode node) {
    List<String> out = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(n -> out.add(n.asText()));
    }
    return out;
  }

  static ArrayNode array(List<String> values) {
    ArrayNode array = JsonNodeFactory.instance.arrayNode();
    values.forEach(array::add);
    return array;
  }

  @Override
  public String toString() {
    return "StoredConfig[pluginName="
        + pluginName
        + ", allowedRoles="
        + allowedRoles
        + ", verifyConnection="
        + verifyConnection
        + "]";
  }
}
