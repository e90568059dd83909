package io.credbroker.broker.revocation;

import java.util.Optional;

/**
 * Finds the UID of the pod that exists now under a name, so that an operator can block a pod that
 * has not asked the broker for anything yet. Implemented against the Kubernetes API; without it
 * only pods the broker has issued to can be revoked.
 *
 * <p>Implementations must be thread-safe.
 */
@FunctionalInterface
public interface PodLookup {

  /**
   * @return the live pod's UID, or empty when no pod of that name exists
   * @throws io.credbroker.broker.BrokerException {@code KUBERNETES_UNAVAILABLE} when the API cannot
   *     answer
   */
  Optional<String> uidOf(String namespace, String podName);

  /** Knows no pod: only what the broker has recorded is revoked. */
  static PodLookup none() {
    return (namespace, podName) -> Optional.empty();
  }
}
