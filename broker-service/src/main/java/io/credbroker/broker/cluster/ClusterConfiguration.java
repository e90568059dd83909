package io.credbroker.broker.cluster;

import io.credbroker.broker.config.BrokerProperties;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;

/** Decides this process's replica id once, at startup, and keeps its membership in the cluster. */
@Configuration(proxyBeanMethods = false)
class ClusterConfiguration {

  @Bean
  ReplicaId replicaId(BrokerProperties properties) {
    return ReplicaId.configuredOrGenerated(properties.replica().id());
  }

  @Bean
  ReplicaHeartbeat replicaHeartbeat(
      JdbcClient jdbc,
      ReplicaId replicaId,
      BrokerProperties properties,
      ApplicationEventPublisher events) {
    return new ReplicaHeartbeat(jdbc, replicaId, properties.cluster(), events);
  }
}
