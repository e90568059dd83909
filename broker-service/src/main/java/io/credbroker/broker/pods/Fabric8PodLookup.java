package io.credbroker.broker.pods;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.revocation.PodLookup;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Asks the API server for a pod by name (a {@code get} on pods), not the informer's cache: an
 * operator blocking a pod that was created a moment ago must not miss it. Thread-safe.
 */
final class Fabric8PodLookup implements PodLookup {

  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final KubernetesClient client;

  Fabric8PodLookup(KubernetesClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public Optional<String> uidOf(String namespace, String podName) {
    try {
      Pod pod = client.pods().inNamespace(namespace).withName(podName).get();
      return pod == null ? Optional.empty() : Optional.ofNullable(pod.getMetadata().getUid());
    } catch (KubernetesClientException e) {
      throw new BrokerException(
          Reason.KUBERNETES_UNAVAILABLE,
          "Kubernetes cannot be asked for the pod; try again later",
          RETRY_AFTER,
          e);
    }
  }
}
