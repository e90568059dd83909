package io.credbroker.broker.lease;

import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.TokenAuthenticator;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Wires the issue flow. */
@Configuration(proxyBeanMethods = false)
class LeaseConfiguration {

  @Bean
  LeaseService leaseService(
      VaultDatabaseCredentials vault, CredentialStore store, ReplicaId replicaId) {
    return new LeaseService(vault, store, replicaId, Clock.systemUTC());
  }

  @Bean
  CredentialIssuer credentialIssuer(
      TokenAuthenticator authenticator,
      Bindings bindings,
      LeaseService leaseService,
      MeterRegistry meterRegistry) {
    return new CredentialIssuer(authenticator, bindings, leaseService, meterRegistry);
  }
}
