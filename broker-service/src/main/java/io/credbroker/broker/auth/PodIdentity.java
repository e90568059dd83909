package io.credbroker.broker.auth;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Who a caller is, as the Kubernetes API vouched for it in a TokenReview.
 *
 * @param namespace the service account's namespace
 * @param serviceAccount the service account's name
 * @param podName the pod the token is bound to, or {@code null} for a token bound to no pod
 * @param podUid that pod's UID (a re-created pod has a new one), or {@code null} with {@code
 *     podName}
 */
public record PodIdentity(
    String namespace, String serviceAccount, @Nullable String podName, @Nullable String podUid) {

  private static final String SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";

  public PodIdentity {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(serviceAccount, "serviceAccount");
    if (namespace.isBlank() || serviceAccount.isBlank()) {
      throw new IllegalArgumentException("namespace and service account must not be blank");
    }
    if ((podName == null) != (podUid == null)) {
      throw new IllegalArgumentException("pod name and pod UID come together or not at all");
    }
  }

  /**
   * Reads the identity out of a TokenReview user name ({@code system:serviceaccount:<ns>:<name>}).
   *
   * @return the identity, or {@code null} when the user is not a service account
   */
  public static @Nullable PodIdentity fromUsername(
      String username, @Nullable String podName, @Nullable String podUid) {
    if (!username.startsWith(SERVICE_ACCOUNT_PREFIX)) {
      return null;
    }
    String[] parts = username.substring(SERVICE_ACCOUNT_PREFIX.length()).split(":", -1);
    if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
      return null;
    }
    if (podName == null || podUid == null) {
      return new PodIdentity(parts[0], parts[1], null, null);
    }
    return new PodIdentity(parts[0], parts[1], podName, podUid);
  }

  /** Whether the token was bound to a pod (and so carries its name and UID). */
  public boolean boundToPod() {
    return podUid != null;
  }
}
