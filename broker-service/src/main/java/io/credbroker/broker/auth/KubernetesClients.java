package io.credbroker.broker.auth;

import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.config.LoopbackHosts;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds the broker's fabric8 Kubernetes clients from {@code credbroker.kubernetes}. Reviews are
 * independent requests, so a client must not queue them behind fabric8's default of 5 per host, and
 * must not retry them for seconds on its own: the caller fails closed at once and the pod retries.
 */
public final class KubernetesClients {

  private KubernetesClients() {}

  /**
   * A new client; its caller closes it.
   *
   * @throws IllegalStateException when the kubeconfig cannot be read, or the API server's address
   *     is plain HTTP to another machine (the broker's token and every pod's token it reviews would
   *     cross the network in clear text), or TLS to another machine without checking its
   *     certificate or host name
   */
  public static KubernetesClient build(BrokerProperties.Kubernetes kubernetes) {
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
    requireVerifiedTlsBeyondThisMachine(base);
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

  /**
   * Refuses an API server on another machine that is reached over plain HTTP, or over TLS without
   * checking its certificate or host name ({@code insecure-skip-tls-verify}, {@code
   * KUBERNETES_TRUST_CERTIFICATES}, {@code kubernetes.disable.hostname.verification}): the broker's
   * token and every pod's token it reviews would cross the network in clear text, or reach whoever
   * answers in the server's place. Both are allowed to a loopback address.
   */
  static void requireVerifiedTlsBeyondThisMachine(Config config) {
    URI server = URI.create(config.getMasterUrl());
    if (LoopbackHosts.isClearTextBeyondThisMachine(server.getScheme(), server.getHost())) {
      throw new IllegalStateException(
          "Kubernetes API server "
              + LoopbackHosts.origin(server)
              + " is plain HTTP to another machine: the broker's service-account token and every"
              + " pod's token it reviews would cross the network in clear text. Use https://;"
              + " plain HTTP is allowed to a loopback address only");
    }
    boolean unverified =
        Boolean.TRUE.equals(config.isTrustCerts())
            || Boolean.TRUE.equals(config.isDisableHostnameVerification());
    if (unverified && !LoopbackHosts.isLoopback(server.getHost())) {
      throw new IllegalStateException(
          "Kubernetes API server "
              + LoopbackHosts.origin(server)
              + " is configured without checking its certificate or host name"
              + " (insecure-skip-tls-verify, KUBERNETES_TRUST_CERTIFICATES or"
              + " kubernetes.disable.hostname.verification): whoever answers in its place would get"
              + " the broker's token and every pod's token it reviews. Give its CA"
              + " (certificate-authority) instead; skipping the check is allowed to a loopback"
              + " address only");
    }
  }
}
