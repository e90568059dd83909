package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.config.BrokerProperties;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The broker talks to the Kubernetes API in clear text on its own machine only. */
class KubernetesClientsTest {

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"http://kube.example:8080", "http://10.96.0.1:80"})
  void aPlainHttpApiServerOnAnotherMachineIsRefused(String server) throws Exception {
    BrokerProperties.Kubernetes settings = settings(kubeconfig(server));

    assertThatThrownBy(() -> KubernetesClients.build(settings))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(server)
        .hasMessageContaining("clear text");
  }

  @Test
  void aRefusedApiServerIsNamedWithoutItsUserInfo() throws Exception {
    BrokerProperties.Kubernetes settings =
        settings(kubeconfig("http://admin:s3cret-pw@kube.example:8080/api"));

    assertThatThrownBy(() -> KubernetesClients.build(settings))
        .hasMessageContaining("Kubernetes API server http://kube.example:8080 is plain HTTP")
        .hasMessageNotContaining("s3cret-pw");
  }

  @Test
  void anApiServerOnAnotherMachineWhoseCertificateIsNotCheckedIsRefused() throws Exception {
    Path file = kubeconfig("https://kube.example:6443");
    Files.writeString(
        file,
        Files.readString(file)
            .replace(
                "cluster: {server: \"https://kube.example:6443\"}",
                "cluster: {server: \"https://kube.example:6443\", insecure-skip-tls-verify: true}"));

    assertThatThrownBy(() -> KubernetesClients.build(settings(file)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("https://kube.example:6443 is configured without checking");
  }

  @Test
  void skippingTheCertificateCheckIsAllowedOnThisMachine() throws Exception {
    Path file = kubeconfig("https://127.0.0.1:6443");
    Files.writeString(
        file,
        Files.readString(file)
            .replace(
                "cluster: {server: \"https://127.0.0.1:6443\"}",
                "cluster: {server: \"https://127.0.0.1:6443\", insecure-skip-tls-verify: true}"));

    try (KubernetesClient client = KubernetesClients.build(settings(file))) {
      assertThat(client.getConfiguration().isTrustCerts()).isTrue();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"https://kube.example:6443", "http://127.0.0.1:8080"})
  void tlsAnywhereAndPlainHttpOnThisMachineAreAccepted(String server) throws Exception {
    try (KubernetesClient client = KubernetesClients.build(settings(kubeconfig(server)))) {
      assertThat(client.getConfiguration().getMasterUrl()).startsWith(server);
    }
  }

  private Path kubeconfig(String server) throws Exception {
    Path file = dir.resolve("kubeconfig");
    Files.writeString(
        file,
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: c
          cluster: {server: "%s"}
        users:
        - name: u
          user: {token: not-a-real-token}
        contexts:
        - name: c
          context: {cluster: c, user: u}
        current-context: c
        """
            .formatted(server));
    return file;
  }

  /** The defaults, with {@code kubeconfig} and at most 64 requests at once. */
  static BrokerProperties.Kubernetes settings(Path kubeconfig) {
    return new BrokerProperties.Kubernetes(
        kubeconfig,
        "credbroker",
        false,
        Duration.ofMinutes(5),
        Duration.ofSeconds(5),
        64,
        Duration.ofSeconds(2),
        Duration.ofSeconds(5),
        true,
        new BrokerProperties.PodWatch(false, Duration.ofSeconds(10)));
  }
}
