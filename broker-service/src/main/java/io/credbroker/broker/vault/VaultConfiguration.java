package io.credbroker.broker.vault;

import io.credbroker.broker.config.BrokerProperties;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.cloud.vault.config.VaultProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.vault.authentication.LifecycleAwareSessionManager;
import org.springframework.vault.authentication.SessionManager;
import org.springframework.vault.config.AbstractVaultConfiguration.ClientFactoryWrapper;
import org.springframework.vault.core.VaultOperations;

/**
 * Wires the Vault client. The {@link VaultOperations} (address, the broker's own login, session
 * renewal, and the pooled keep-alive HTTP client whose connect and read timeouts limit every call)
 * comes from Spring Cloud Vault, built on {@link VaultHttpClient} (whose pool is sized to the
 * bulkhead); the circuit breaker, bulkhead and retry come from the Resilience4j instances named
 * {@value #INSTANCE}.
 */
@Configuration(proxyBeanMethods = false)
class VaultConfiguration {

  /** The Resilience4j instance name configured under {@code resilience4j.*.instances}. */
  static final String INSTANCE = "vault";

  /**
   * Replaces Spring Cloud Vault's HTTP client (it backs off when this bean exists) with the same
   * client whose pool holds as many connections as the bulkhead admits calls.
   */
  @Bean
  ClientFactoryWrapper clientHttpRequestFactoryWrapper(
      VaultProperties vaultProperties, BulkheadRegistry bulkheads) {
    return new ClientFactoryWrapper(
        VaultHttpClient.create(
                vaultProperties,
                bulkheads.bulkhead(INSTANCE).getBulkheadConfig().getMaxConcurrentCalls())
            .requestFactory());
  }

  @Bean
  VaultDatabaseCredentials vaultDatabaseCredentials(
      VaultOperations vaultOperations,
      CircuitBreakerRegistry circuitBreakers,
      BulkheadRegistry bulkheads,
      RetryRegistry retries,
      MeterRegistry meterRegistry,
      BrokerProperties properties,
      ObjectProvider<SessionManager> sessionManager,
      Clock clock) {
    // Spring Vault drops a login only when renewing it fails; a login Vault refuses (revoked by an
    // operator, or expired while the broker was paused) is dropped here, and the next call logs in.
    SessionManager session = sessionManager.getIfAvailable();
    Runnable logInAgain =
        session instanceof LifecycleAwareSessionManager lifecycle ? lifecycle::revoke : () -> {};
    return new VaultDatabaseCredentials(
        vaultOperations,
        circuitBreakers.circuitBreaker(INSTANCE),
        bulkheads.bulkhead(INSTANCE),
        meterRegistry,
        retries.retry(INSTANCE),
        properties.vault().issuingTokenRole(),
        clock,
        logInAgain);
  }
}
