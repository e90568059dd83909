package io.credbroker.devstack.vault;

import java.util.List;
import java.util.Optional;

/**
 * The token store's roles, kept in the stand-in's PostgreSQL like every other piece of its state (a
 * restart loses none). Thread-safe: each call is its own transaction.
 */
final class TokenRoles {

  /** The storage area of the token store; roles live under {@code roles/}, as in Vault. */
  static final String STORAGE_ID = "token-store";

  private static final String PREFIX = "roles/";

  private final EngineStorage storage;

  TokenRoles(EngineStorage storage) {
    this.storage = storage;
  }

  Optional<TokenRole> get(String name) {
    return storage.get(PREFIX + name).map(TokenRole::fromView);
  }

  void put(TokenRole role) {
    storage.put(PREFIX + role.name(), role.view());
  }

  void delete(String name) {
    storage.delete(PREFIX + name);
  }

  /** Role names, sorted. */
  List<String> names() {
    return storage.list(PREFIX);
  }
}
