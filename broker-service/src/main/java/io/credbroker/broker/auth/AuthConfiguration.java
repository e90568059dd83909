package io.credbroker.broker.auth;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.config.BrokerProperties;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;

/**
 * Wires the Kubernetes client, the cached authenticator and the bindings from the configuration.
 */
@Configuration(proxyBeanMethods = false)
class AuthConfiguration {

  /**
   * How often at most the signing keys are read again because a token named a key the broker does
   * not hold: a rotated key is known within this long, and tokens naming made-up keys cost the API
   * server one read per interval.
   */
  private static final Duration SIGNING_KEYS_REFRESH = Duration.ofSeconds(10);

  /**
   * The client of TokenReviews, SubjectAccessReviews and single reads (see {@link
   * KubernetesClients}); the watch of pods has a client of its own.
   */
  @Bean(destroyMethod = "close")
  @Primary
  KubernetesClient kubernetesClient(BrokerProperties properties) {
    return KubernetesClients.build(properties.kubernetes());
  }

  @Bean
  TokenReviewer tokenReviewer(KubernetesClient kubernetesClient) {
    return new Fabric8TokenReviewer(kubernetesClient);
  }

  /**
   * The cluster's token signing keys, read with the broker's own credentials; or no check when
   * {@code credbroker.kubernetes.verify-signatures} is off.
   */
  @Bean
  TokenSignatures tokenSignatures(KubernetesClient kubernetesClient, BrokerProperties properties) {
    if (!properties.kubernetes().verifySignatures()) {
      return TokenSignatures.NONE;
    }
    return new ClusterSigningKeys(
        () -> {
          String jwks = kubernetesClient.raw("/openid/v1/jwks");
          if (jwks == null) {
            throw new IllegalStateException("the API server has no /openid/v1/jwks (404)");
          }
          return jwks;
        },
        SIGNING_KEYS_REFRESH,
        System::nanoTime);
  }

  @Bean
  TokenAuthenticator tokenAuthenticator(
      TokenReviewer tokenReviewer,
      TokenSignatures tokenSignatures,
      BrokerProperties properties,
      MeterRegistry meterRegistry,
      Clock clock,
      ClusterRefusals refusals) {
    BrokerProperties.Kubernetes kubernetes = properties.kubernetes();
    return new TokenAuthenticator(
        tokenReviewer,
        kubernetes.audience(),
        kubernetes.allowUnboundTokens(),
        kubernetes.cacheMaxTtl(),
        kubernetes.failureCacheTtl(),
        meterRegistry,
        clock,
        Ticker.systemTicker(),
        properties.limits().tokenReviewsPerSecond(),
        properties.limits().concurrentTokenReviews(),
        refusals::refused,
        tokenSignatures);
  }

  @Bean
  Bindings bindings(BrokerProperties properties) {
    return new Bindings(
        properties.bindings().stream()
            .map(
                b ->
                    new Binding(
                        b.databaseRole(),
                        b.vaultMount(),
                        b.vaultRole(),
                        Set.copyOf(b.namespaces()),
                        Set.copyOf(b.serviceAccounts()),
                        new ConnectionHints(
                            b.connection().host(),
                            b.connection().port(),
                            b.connection().database(),
                            b.connection().sslmode())))
            .toList());
  }
}
