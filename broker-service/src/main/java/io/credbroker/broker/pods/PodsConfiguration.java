package io.credbroker.broker.pods;

import io.credbroker.broker.auth.KubernetesClients;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.PodDepartures;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Wires what the broker asks Kubernetes about pods. */
@Configuration(proxyBeanMethods = false)
class PodsConfiguration {

  /** Lets an operator block a pod by name and UID before it has asked the broker for anything. */
  @Bean
  Fabric8PodLookup podLookup(KubernetesClient kubernetesClient) {
    return new Fabric8PodLookup(kubernetesClient);
  }

  /** The shared watch of pods, unless {@code credbroker.kubernetes.pod-watch.enabled=false}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnProperty(
      name = "credbroker.kubernetes.pod-watch.enabled",
      havingValue = "true",
      matchIfMissing = true)
  static class PodWatchConfiguration {

    /**
     * The watch's own Kubernetes client. fabric8's client deserialises each answer on the event
     * loop of its connection, and the watch's list is every pod of the cluster (tens of megabytes
     * in a large one; at a replica's start, with Jackson still building its deserialisers, it held
     * an event loop for 2 to 7 s in the fault suite's runs): on the shared client, TokenReviews on
     * that loop waited meanwhile, on a replica already ready for calls.
     */
    @Bean(destroyMethod = "close")
    KubernetesClient podWatchKubernetesClient(BrokerProperties properties) {
      return KubernetesClients.build(properties.kubernetes());
    }

    @Bean
    PodWatch podWatch(
        @Qualifier("podWatchKubernetesClient") KubernetesClient kubernetesClient,
        PodDepartures podDepartures,
        CredentialQueries credentials,
        ReplicaId replicaId,
        BrokerProperties properties,
        MeterRegistry meterRegistry) {
      return new PodWatch(
          kubernetesClient,
          podDepartures,
          credentials,
          replicaId,
          properties.kubernetes().podWatch().checkInterval(),
          meterRegistry);
    }
  }
}
