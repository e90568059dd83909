package io.credbroker.broker.admin;

import io.credbroker.broker.auth.KubernetesUser;
import org.jspecify.annotations.Nullable;

/**
 * Asks Kubernetes RBAC (or whatever authorizers the API server runs) whether a user may do
 * something to broker credentials. One call per invocation; thread-safe.
 */
@FunctionalInterface
interface AccessReviewer {

  /**
   * @param namespace the namespace acted in, or {@code null} for a question across all namespaces
   * @throws io.credbroker.broker.BrokerException {@code KUBERNETES_UNAVAILABLE} when the API server
   *     cannot answer
   */
  boolean allowed(KubernetesUser user, AdminVerb verb, @Nullable String namespace);
}
