package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.config.BrokerProperties;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker's own Kubernetes client, as configured for production, against an API server that is
 * down.
 */
class KubernetesOutageTest {

  @TempDir Path dir;

  @Test
  void unreachableApiServerFailsClosedAtOnceWithUnavailable() throws IOException {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    Path kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(
        kubeconfig,
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: down
          cluster:
            server: https://127.0.0.1:%d
            insecure-skip-tls-verify: true
        users:
        - name: broker
          user:
            token: not-used
        contexts:
        - name: down
          context: {cluster: down, user: broker}
        current-context: down
        """
            .formatted(closedPort));
    BrokerProperties.Kubernetes settings = KubernetesClientsTest.settings(kubeconfig);

    try (KubernetesClient client = KubernetesClients.build(settings)) {
      assertThat(client.getConfiguration().getMaxConcurrentRequestsPerHost()).isEqualTo(64);
      Fabric8TokenReviewer reviewer = new Fabric8TokenReviewer(client);
      Instant start = Instant.now();

      assertThatThrownBy(() -> reviewer.review(new BearerToken("a.b.c"), List.of("credbroker")))
          .isInstanceOfSatisfying(
              BrokerException.class,
              e -> {
                assertThat(e.reason()).isEqualTo(Reason.KUBERNETES_UNAVAILABLE);
                assertThat(e.retryAfter()).isNotNull();
              });
      // No client-side retries with backoff: the pod hears about the outage at once.
      assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(3));
    }
  }
}
