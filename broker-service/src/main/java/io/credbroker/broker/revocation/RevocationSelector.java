package io.credbroker.broker.revocation;

import org.jspecify.annotations.Nullable;

/**
 * Which holders a bulk revocation ends: every pod (and every credential of a token bound to no pod)
 * holding a live credential that matches all the given filters.
 *
 * @param namespace the holders' namespace, or {@code null} for all namespaces
 * @param serviceAccount the holders' service account (needs a namespace), or {@code null}
 * @param databaseRole the binding's database role, or {@code null}
 */
public record RevocationSelector(
    @Nullable String namespace, @Nullable String serviceAccount, @Nullable String databaseRole) {

  public RevocationSelector {
    if (namespace == null && databaseRole == null) {
      throw new IllegalArgumentException("a namespace or a database role is required");
    }
    if (serviceAccount != null && namespace == null) {
      throw new IllegalArgumentException("a service account needs its namespace");
    }
  }
}
