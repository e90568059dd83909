package io.credbroker.devstack.vault.database;

import io.credbroker.devstack.vault.EngineContext;
import io.credbroker.devstack.vault.SecretsEngine;
import io.credbroker.devstack.vault.SecretsEngineFactory;

/**
 * Makes {@code database} mounts: each mount gets its own engine over its own storage. The core
 * finds this class by name and needs its public no-arg constructor. Stateless and thread-safe.
 */
public final class DatabaseEngineFactory implements SecretsEngineFactory {

  public DatabaseEngineFactory() {}

  @Override
  public String type() {
    return "database";
  }

  @Override
  public SecretsEngine create(EngineContext context) {
    return new DatabaseEngine(context);
  }
}
