package io.credbroker.broker.retention;

import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore;
import io.credbroker.broker.revocation.RevocationStore;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/** Wires the periodic deletion of ended credentials and old audit events. */
@Configuration(proxyBeanMethods = false)
class RetentionConfiguration {

  @Bean
  StateRetention stateRetention(
      JdbcClient jdbc,
      TransactionTemplate transactions,
      CredentialStore credentials,
      RevocationStore revocations,
      BrokerProperties properties) {
    return new StateRetention(jdbc, transactions, credentials, revocations, properties.retention());
  }
}
