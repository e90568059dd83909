package io.credbroker.broker.retention;

import io.credbroker.broker.cluster.ReplicaStore;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore;
import io.credbroker.broker.revocation.RevocationStore;
import java.time.Duration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/** Wires the periodic deletion of ended credentials, old audit events and dead replicas' rows. */
@Configuration(proxyBeanMethods = false)
class RetentionConfiguration {

  @Bean
  StateRetention stateRetention(
      JdbcClient jdbc,
      TransactionTemplate transactions,
      CredentialStore credentials,
      RevocationStore revocations,
      ReplicaStore replicas,
      BrokerProperties properties) {
    requireDeadReplicasOutliveTheirUse(properties);
    return new StateRetention(
        jdbc, transactions, credentials, revocations, replicas, properties.retention());
  }

  /**
   * The others act on what a dead replica's row says for at most {@code cluster.stale-after} (until
   * they presume it dead and take its credentials over) plus {@code lease.reconnect-grace-limit}
   * (the longest a refusal it published, {@code refused_time}, extends the grace of a credential
   * they took over): its row must outlive both. Live credentials keep the row whatever its age.
   */
  static void requireDeadReplicasOutliveTheirUse(BrokerProperties properties) {
    Duration deadReplicas = properties.retention().deadReplicas();
    Duration longestUse =
        properties.cluster().staleAfter().plus(properties.lease().reconnectGraceLimit());
    if (deadReplicas.compareTo(longestUse) <= 0) {
      throw new IllegalArgumentException(
          "credbroker.retention.dead-replicas ("
              + deadReplicas
              + ") must be longer than credbroker.cluster.stale-after plus"
              + " credbroker.lease.reconnect-grace-limit ("
              + longestUse
              + "): the others act on a dead replica's row that long");
    }
  }
}
