package io.credbroker.devstack.vault;

/** Creates engines of one type (e.g. {@code "database"}) so {@code sys/mounts} can enable them. */
public interface SecretsEngineFactory {

  String type();

  /** Called when a mount of this type is enabled, and again for each persisted mount at start. */
  SecretsEngine create(EngineContext context);
}
