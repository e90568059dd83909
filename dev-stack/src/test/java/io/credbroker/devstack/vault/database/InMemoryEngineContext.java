package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.vault.EngineContext;
import io.credbroker.devstack.vault.EngineRequest;
import io.credbroker.devstack.vault.EngineStorage;
import io.credbroker.devstack.vault.LeaseRecord;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An engine context for tests that do not run the Vault core: storage in a map, leases recorded in
 * a list with the TTL the role asked for (mount defaults of 768h). Thread-safe.
 */
final class InMemoryEngineContext implements EngineContext, EngineStorage {

  private final ConcurrentSkipListMap<String, JsonNode> data = new ConcurrentSkipListMap<>();
  final List<LeaseRecord> leases = new CopyOnWriteArrayList<>();

  @Override
  public String mountPath() {
    return "database/";
  }

  @Override
  public Duration defaultLeaseTtl() {
    return Duration.ofHours(768);
  }

  @Override
  public Duration maxLeaseTtl() {
    return Duration.ofHours(768);
  }

  @Override
  public EngineStorage storage() {
    return this;
  }

  @Override
  public LeaseRecord registerLease(
      EngineRequest request, Duration ttl, Duration maxTtl, JsonNode engineData) {
    Instant now = Instant.now();
    Duration effective = ttl.isZero() ? defaultLeaseTtl() : ttl;
    LeaseRecord lease =
        new LeaseRecord(
            "database/" + request.path() + "/lease" + leases.size(),
            mountPath(),
            request.path(),
            now,
            now.plus(effective),
            null,
            true,
            request.token().accessor(),
            engineData);
    leases.add(lease);
    return lease;
  }

  @Override
  public Optional<JsonNode> get(String key) {
    return Optional.ofNullable(data.get(key)).map(JsonNode::deepCopy);
  }

  @Override
  public void put(String key, JsonNode value) {
    data.put(key, value.deepCopy());
  }

  @Override
  public void delete(String key) {
    data.remove(key);
  }

  @Override
  public List<String> list(String prefix) {
    TreeSet<String> keys = new TreeSet<>();
    for (String key : data.keySet()) {
      if (key.startsWith(prefix)) {
        String rest = key.substring(prefix.length());
        int slash = rest.indexOf('/');
        keys.add(slash >= 0 ? rest.substring(0, slash + 1) : rest);
      }
    }
    return new ArrayList<>(keys);
  }

  int size() {
    return data.size();
  }
}
