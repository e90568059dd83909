package io.credbroker.broker.vault;

import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.config.LoopbackHosts;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.cloud.vault.config.VaultProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.StringUtils;
import org.springframework.vault.authentication.LifecycleAwareSessionManager;
import org.springframework.vault.authentication.SessionManager;
import org.springframework.vault.config.AbstractVaultConfiguration.ClientFactoryWrapper;
import org.springframework.vault.core.VaultOperations;

/**
 * Wires the Vault client. The {@link VaultOperations} (address, the broker's own login, session
 * renewal, and the pooled keep-alive HTTP client whose connect and read timeouts limit every call)
 * comes from Spring Cloud Vault, built on {@link VaultHttpClient} (whose pool is sized to the
 * bulkhead); the circuit breaker, bulkhead and retry come from the Resilience4j instances named
 * {@value #INSTANCE}, the bulkhead of credential creations ({@value #CREATIONS}) from {@code
 * credbroker.vault.max-concurrent-creations}.
 */
@Configuration(proxyBeanMethods = false)
class VaultConfiguration {

  /** The Resilience4j instance name configured under {@code resilience4j.*.instances}. */
  static final String INSTANCE = "vault";

  /**
   * The bulkhead that bounds credential creations in flight, sized by {@code
   * credbroker.vault.max-concurrent-creations}; registered so that Resilience4j's Micrometer
   * binding reports it like the others ({@code resilience4j_bulkhead_*{name="vault-creations"}}).
   */
  static final String CREATIONS = "vault-creations";

  /**
   * Replaces Spring Cloud Vault's HTTP client (it backs off when this bean exists) with the same
   * client whose pool holds as many connections as the bulkhead admits calls.
   */
  @Bean
  ClientFactoryWrapper clientHttpRequestFactoryWrapper(
      VaultProperties vaultProperties, BulkheadRegistry bulkheads) {
    requireTlsBeyondThisMachine(vaultProperties);
    return new ClientFactoryWrapper(
        VaultHttpClient.create(
                vaultProperties,
                bulkheads.bulkhead(INSTANCE).getBulkheadConfig().getMaxConcurrentCalls())
            .requestFactory());
  }

  /**
   * Refuses to start with a plain-HTTP Vault address on another machine: the broker's Vault token
   * and every pod's password would cross the network in clear text. Plain HTTP stays allowed to a
   * loopback address (the dev run's Vault on {@code http://127.0.0.1:8200}). The address is the one
   * Spring Cloud Vault connects to: {@code spring.cloud.vault.uri}, or else its {@code scheme},
   * {@code host} and {@code port}.
   *
   * @throws IllegalStateException for {@code http} to any other host
   */
  static void requireTlsBeyondThisMachine(VaultProperties vault) {
    String scheme = vault.getScheme();
    String host = vault.getHost();
    String shown = scheme + "://" + host + ":" + vault.getPort();
    if (StringUtils.hasText(vault.getUri())) {
      URI uri = URI.create(vault.getUri());
      scheme = uri.getScheme();
      host = uri.getHost();
      shown = LoopbackHosts.origin(uri);
    }
    if (LoopbackHosts.isClearTextBeyondThisMachine(scheme, host)) {
      throw new IllegalStateException(
          "Vault address "
              + shown
              + " is plain HTTP to another machine: the broker's Vault token and every pod's"
              + " password would cross the network in clear text. Use https:// (with"
              + " spring.cloud.vault.ssl.trust-store for a private CA); plain HTTP is allowed to a"
              + " loopback address only");
    }
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
        bulkheads.bulkhead(
            CREATIONS,
            BulkheadConfig.custom()
                .maxConcurrentCalls(properties.vault().maxConcurrentCreations())
                // Refused at once: a creation that waited would only age towards Vault's timeout.
                .maxWaitDuration(Duration.ZERO)
                .build()),
        meterRegistry,
        retries.retry(INSTANCE),
        properties.vault().issuingTokenRole(),
        clock,
        logInAgain);
  }
}
