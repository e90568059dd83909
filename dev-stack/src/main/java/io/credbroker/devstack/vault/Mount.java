package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One entry of the mount table (secrets engine or auth method). Immutable; tuning makes a copy.
 *
 * @param path with a trailing slash, e.g. {@code database/}
 * @param defaultLeaseTtl zero means the system default (768h)
 * @param maxLeaseTtl zero means the system max (768h)
 */
record Mount(
    String path,
    String type,
    String uuid,
    String accessor,
    String description,
    Duration defaultLeaseTtl,
    Duration maxLeaseTtl,
    Map<String, String> options) {

  static final Duration SYSTEM_TTL = Duration.ofHours(768);

  Mount {
    options = Map.copyOf(options);
  }

  Duration effectiveDefaultTtl() {
    Duration d = defaultLeaseTtl.isZero() ? SYSTEM_TTL : defaultLeaseTtl;
    return d.compareTo(effectiveMaxTtl()) > 0 ? effectiveMaxTtl() : d;
  }

  Duration effectiveMaxTtl() {
    return maxLeaseTtl.isZero() ? SYSTEM_TTL : maxLeaseTtl;
  }

  Mount tuned(Duration defaultTtl, Duration maxTtl, String newDescription) {
    return new Mount(path, type, uuid, accessor, newDescription, defaultTtl, maxTtl, options);
  }

  /** The shape Vault lists in {@code sys/mounts} and {@code sys/internal/ui/mounts}. */
  ObjectNode describe() {
    ObjectNode n = Json.MAPPER.createObjectNode();
    n.put("accessor", accessor);
    ObjectNode config = n.putObject("config");
    config.put("default_lease_ttl", defaultLeaseTtl.getSeconds());
    config.put("force_no_cache", false);
    config.put("max_lease_ttl", maxLeaseTtl.getSeconds());
    n.put("description", description);
    n.put("external_entropy_access", false);
    n.put("local", false);
    if (options.isEmpty()) {
      n.putNull("options");
    } else {
      ObjectNode o = n.putObject("options");
      options.forEach(o::put);
    }
    n.put("plugin_version", "");
    n.put("running_plugin_version", "v1.21.0+builtin.vault");
    n.put("running_sha256", "");
    n.put("seal_wrap", false);
    n.put("type", type);
    n.put("uuid", uuid);
    return n;
  }

  JsonNode toJson() {
    ObjectNode n = Json.MAPPER.createObjectNode();
    n.put("path", path);
    n.put("type", type);
    n.put("uuid", uuid);
    n.put("accessor", accessor);
    n.put("description", description);
    n.put("default_lease_ttl", defaultLeaseTtl.getSeconds());
    n.put("max_lease_ttl", maxLeaseTtl.getSeconds());
    ObjectNode o = n.putObject("options");
    options.forEach(o::put);
    return n;
  }

  static Mount fromJson(JsonNode n) {
    Map<String, String> options = new LinkedHashMap<>();
    n.path("options")
        .fields()
        .forEachRemaining(e -> options.put(e.getKey(), e.getValue().asText()));
    return new Mount(
        n.path("path").asText(),
        n.path("type").asText(),
        n.path("uuid").asText(),
        n.path("accessor").asText(),
        n.path("description").asText(),
        Duration.ofSeconds(n.path("default_lease_ttl").asLong()),
        Duration.ofSeconds(n.path("max_lease_ttl").asLong()),
        options);
  }
}
