package io.credbroker.broker.lease;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Filters for looking up credentials; every filter that is {@code null} matches everything.
 *
 * @param namespace the holder's namespace
 * @param serviceAccount the holder's service account
 * @param podName the holder pod's name
 * @param databaseRole the binding's database role
 * @param username the PostgreSQL user name ("which pod holds user X?")
 * @param activeOnly only credentials that are still active
 * @param slice the window of issue times, the page, and how many at most, newest first
 */
public record CredentialQuery(
    @Nullable String namespace,
    @Nullable String serviceAccount,
    @Nullable String podName,
    @Nullable String databaseRole,
    @Nullable String username,
    boolean activeOnly,
    ListSlice slice) {

  public CredentialQuery {
    Objects.requireNonNull(slice, "slice");
  }

  /** The first {@code limit} matches at any time. */
  public CredentialQuery(
      @Nullable String namespace,
      @Nullable String podName,
      @Nullable String databaseRole,
      @Nullable String username,
      boolean activeOnly,
      int limit) {
    this(namespace, null, podName, databaseRole, username, activeOnly, ListSlice.first(limit));
  }

  public int limit() {
    return slice.limit();
  }

  /** The same filters with another slice. */
  public CredentialQuery withSlice(ListSlice other) {
    return new CredentialQuery(
        namespace, serviceAccount, podName, databaseRole, username, activeOnly, other);
  }
}
