package io.credbroker.broker.lease;

/**
 * Whether a pod (by UID) is known to be gone from Kubernetes. The issue, resume and rotation flows
 * ask it so that a deleted pod's token, still cached as valid, obtains nothing more. Implemented by
 * {@link PodDepartures}; without it no pod is known to be gone.
 *
 * <p>Implementations must be thread-safe and fast (called on every request and every renewal).
 */
@FunctionalInterface
public interface DepartedPods {

  /** Whether the pod with this UID was deleted. */
  boolean isDeparted(String podUid);

  /** Knows of no departed pod: for a broker (or a test) that does not watch pods. */
  static DepartedPods none() {
    return podUid -> false;
  }
}
