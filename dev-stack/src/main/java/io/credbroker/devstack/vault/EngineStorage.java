package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;

/**
 * Persistent JSON key/value storage private to one mount. Thread-safe; each call is its own
 * transaction.
 */
public interface EngineStorage {

  Optional<JsonNode> get(String key);

  void put(String key, JsonNode value);

  void delete(String key);

  /**
   * Keys that start with {@code prefix}, relative to it, one level deep like Vault's storage list:
   * a deeper key shows as its next segment with a trailing slash. Sorted.
   */
  List<String> list(String prefix);
}
