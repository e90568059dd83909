package io.credbroker.broker.auth;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.config.BrokerProperties;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

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
   * One client for the process. Reviews are independent requests, so the client must not queue them
   * behind fabric8's default of 5 per host, and must not retry them for seconds on its own: the
   * caller fails closed at once and the pod retries.
   */
  @Bean(destroyMethod = "close")
  KubernetesClient kubernetesClient(BrokerProperties properties) {
    return buildClient(properties.kubernetes());
  }

  static KubernetesClient buildClient(BrokerProperties.Kubernetes kubernetes) {
    Path kubeconfig = kubernetes.kubeconfig();
    Config base;
    if (kubeconfig != null) {
      if (!Files.isReadable(kubeconfig)) {
        throw new IllegalStateException(
            "credbroker.kubernetes.kubeconfig is not readable: " + kubeconfig.toAbsolutePath());
      }
      base = Config.fromKubeconfig(kubeconfig.toFile());
    } else {
      base = Config.autoConfigure(null);
    }
    Config config =
        new ConfigBuilder(base)
            .withMaxConcurrentRequests(kubernetes.maxConcurrentRequests())
            .withMaxConcurrentRequestsPerHost(kubernetes.maxConcurrentRequests())
            .withRequestRetryBackoffLimit(0)
            .withConnectionTimeout(Math.toIntExact(kubernetes.connectTimeout().toMillis()))
            .withRequestTimeout(Math.toIntExact(kubernetes.requestTimeout().toMillis()))
            .build();
    return new KubernetesClientBuilder().withConfig(config).build();
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
