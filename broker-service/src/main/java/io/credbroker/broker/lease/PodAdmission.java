package io.credbroker.broker.lease;

/**
 * Whether a pod may still obtain or resume credentials. The issue and resume flows ask it after
 * authentication and refuse a blocked pod with {@code POD_REVOKED}. Implemented by the revocation
 * feature (pod blocks); without such a bean every pod is admitted.
 *
 * <p>Implementations must be thread-safe and fast (they are called on every request).
 */
@FunctionalInterface
public interface PodAdmission {

  /** Whether the pod with this UID has been blocked by an operator. */
  boolean isBlocked(String podUid);

  /** Admits every pod: for a broker without the revocation feature. */
  static PodAdmission admitAll() {
    return podUid -> false;
  }
}
