package io.credbroker.broker.cluster;

import io.credbroker.broker.config.BrokerProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Decides this process's replica id once, at startup. */
@Configuration(proxyBeanMethods = false)
class ClusterConfiguration {

  @Bean
  ReplicaId replicaId(BrokerProperties properties) {
    return ReplicaId.configuredOrGenerated(properties.replica().id());
  }
}
