package io.credbroker.broker.lease;

import org.jspecify.annotations.Nullable;

/**
 * Filters for looking up credentials; every filter that is {@code null} matches everything.
 *
 * @param namespace the holder's namespace
 * @param podName the holder pod's name
 * @param databaseRole the binding's database role
 * @param username the PostgreSQL user name ("which pod holds user X?")
 * @param activeOnly only credentials that are still active
 * @param limit at most this many, newest first
 */
public record CredentialQuery(
    @Nullable String namespace,
    @Nullable String podName,
    @Nullable String databaseRole,
    @Nullable String username,
    boolean activeOnly,
    int limit) {

  public CredentialQuery {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be positive");
    }
  }
}
