package io.credbroker.broker.auth;

import java.util.Objects;
import java.util.Set;

/**
 * Permission for some service accounts to obtain one database role, and where that role comes from.
 *
 * @param databaseRole the name pods ask for
 * @param vaultMount the mount of Vault's database secrets engine
 * @param vaultRole the Vault role that issues the PostgreSQL role
 * @param namespaces namespaces whose pods may obtain it
 * @param serviceAccounts service accounts (in those namespaces) that may obtain it
 * @param connection where pods connect
 */
public record Binding(
    String databaseRole,
    String vaultMount,
    String vaultRole,
    Set<String> namespaces,
    Set<String> serviceAccounts,
    ConnectionHints connection) {

  public Binding {
    Objects.requireNonNull(databaseRole, "databaseRole");
    Objects.requireNonNull(vaultMount, "vaultMount");
    Objects.requireNonNull(vaultRole, "vaultRole");
    Objects.requireNonNull(connection, "connection");
    namespaces = Set.copyOf(namespaces);
    serviceAccounts = Set.copyOf(serviceAccounts);
  }

  /** Whether this binding lets the identity obtain the role. */
  public boolean allows(PodIdentity identity) {
    return namespaces.contains(identity.namespace())
        && serviceAccounts.contains(identity.serviceAccount());
  }
}
