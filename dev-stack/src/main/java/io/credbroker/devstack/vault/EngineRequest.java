package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * A request routed to a mounted engine, after token resolution and the ACL check passed.
 *
 * @param mountPath the mount with a trailing slash, e.g. {@code "database/"}
 * @param path relative to the mount, e.g. {@code "creds/db1"}, {@code "config/pg"}
 * @param body the JSON (or form) body as an object; empty object when there is none
 */
public record EngineRequest(
    Operation operation,
    String mountPath,
    String path,
    JsonNode body,
    Map<String, String> query,
    TokenEntry token) {

  public EngineRequest {
    query = Map.copyOf(query);
  }
}
