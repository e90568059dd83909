package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.setup.Secret;
import io.credbroker.broker.setup.TargetDatabaseOptions;
import io.credbroker.broker.setup.TargetDatabaseSetup;
import io.credbroker.broker.setup.VaultSetup;
import io.credbroker.broker.setup.VaultSetupOptions;
import io.credbroker.devstack.kubernetes.ServingCertificates;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;
import org.testcontainers.containers.Network;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.vault.VaultContainer;

/**
 * The issue flow against the real servers: HashiCorp Vault, PostgreSQL and K3s (a real Kubernetes
 * API server issuing and reviewing real service-account tokens). Needs a Docker engine; where there
 * is none the class is skipped, which JUnit reports with the reason.
 */
@Testcontainers(disabledWithoutDocker = true)
class CredentialBrokerContainersIT {

  private static final String AUDIENCE = "credbroker";
  private static final Network network = Network.newNetwork();

  @Container
  static final PostgreSQLContainer postgres =
      new PostgreSQLContainer(DockerImageName.parse("postgres:16-alpine"))
          .withNetwork(network)
          .withNetworkAliases("postgres");

  @Container
  static final VaultContainer<?> vault =
      new VaultContainer<>(DockerImageName.parse("hashicorp/vault:1.18"))
          .withVaultToken("root")
          .withNetwork(network);

  @Container
  static final K3sContainer k3s =
      new K3sContainer(DockerImageName.parse("rancher/k3s:v1.31.4-k3s1"));

  @TempDir static Path workDir;
  private static KubernetesClient kubernetes;
  private static ConfigurableApplicationContext broker;
  private static ManagedChannel channel;
  private static BrokerTestClient client;
  private static final AtomicInteger pods = new AtomicInteger();

  @BeforeAll
  static void startBroker() throws Exception {
    Path kubeconfig = workDir.resolve("kubeconfig");
    Files.writeString(kubeconfig, k3s.getKubeConfigYaml());
    kubernetes =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(k3s.getKubeConfigYaml()))
            .build();
    kubernetes
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName("public").endMetadata().build())
        .serverSideApply();
    for (String account : List.of("application", "unbound")) {
      kubernetes
          .serviceAccounts()
          .inNamespace("public")
          .resource(
              new ServiceAccountBuilder().withNewMetadata().withName(account).endMetadata().build())
          .serverSideApply();
    }

    try (Connection admin =
            DriverManager.getConnection(
                postgres.getJdbcUrl(), postgres.getUsername(), postgres.getPassword());
        Statement sql = admin.createStatement()) {
      sql.execute("CREATE DATABASE credbroker");
    }
    TargetDatabaseOptions database =
        TargetDatabaseOptions.defaults(
            postgres.getJdbcUrl(),
            postgres.getUsername(),
            Secret.of(postgres.getPassword()),
            "db1");
    TargetDatabaseSetup databaseSetup = new TargetDatabaseSetup(database);
    databaseSetup.apply(false);
    new VaultSetup(
            new VaultSetupOptions(
                URI.create(vault.getHttpHostAddress()),
                Secret.of("root"),
                "database",
                "db1",
                "db1",
                "db1",
                database.vaultAdminRole(),
                database.groupRole(),
                // Vault reaches PostgreSQL inside the Docker network.
                "postgres",
                5432,
                "sslmode=disable",
                "scram-sha-256",
                Duration.ofMinutes(1),
                Duration.ofMinutes(5),
                new VaultSetupOptions.BrokerAccess("credential-broker", null)))
        .apply(
            false,
            () -> {
              Secret password = Secret.random();
              databaseSetup.setVaultAdminPassword(password);
              return password;
            });

    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("spring.cloud.vault.uri", vault.getHttpHostAddress());
    properties.put("spring.cloud.vault.authentication", "TOKEN");
    properties.put("spring.cloud.vault.token", "root");
    properties.put(
        "spring.datasource.url",
        postgres.getJdbcUrl().replaceFirst("/[^/?]+(\\?|$)", "/credbroker$1"));
    properties.put("spring.datasource.username", postgres.getUsername());
    properties.put("spring.datasource.password", postgres.getPassword());
    properties.put("spring.grpc.server.host", "127.0.0.1");
    properties.put("credbroker.grpc.port", "0");
    properties.put("server.port", "0");
    properties.put("management.server.port", "0");
    Path tls = workDir.resolve("broker-tls");
    ServingCertificates.issue(tls, List.of("127.0.0.1", "localhost"));
    properties.put("credbroker.tls.certificate-file", tls.resolve("tls.crt").toString());
    properties.put("credbroker.tls.private-key-file", tls.resolve("tls.key").toString());
    properties.put("credbroker.kubernetes.kubeconfig", kubeconfig.toString());
    properties.put("credbroker.kubernetes.cache-max-ttl", "2s");
    properties.put("credbroker.bindings[0].database-role", "db1");
    properties.put("credbroker.bindings[0].vault-role", "db1");
    properties.put("credbroker.bindings[0].namespaces[0]", "public");
    properties.put("credbroker.bindings[0].service-accounts[0]", "application");
    properties.put("credbroker.bindings[0].connection.host", postgres.getHost());
    properties.put("credbroker.bindings[0].connection.port", postgres.getMappedPort(5432));
    properties.put("credbroker.bindings[0].connection.database", "db1");
    properties.put("credbroker.bindings[0].connection.sslmode", "disable");
    properties.put("resilience4j.circuitbreaker.instances.vault.wait-duration-in-open-state", "1s");
    // A paused Vault (the outage test) keeps connections open but never answers: the read timeout
    // bounds how long the refused call waits.
    properties.put("spring.cloud.vault.read-timeout", "2000");
    broker = BrokerFixture.startBroker(properties);
    channel =
        TestTls.channel(broker.getBean(GrpcServerLifecycle.class).getPort(), tls.resolve("ca.crt"));
    client = new BrokerTestClient(channel);
  }

  @AfterAll
  static void stopBroker() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (broker != null) {
      broker.close();
    }
    if (kubernetes != null) {
      kubernetes.close();
    }
  }

  @Test
  void podTokenObtainsCredentialOnTheStreamThatLogsInAndCreatesATable() throws Exception {
    String token = podToken("application", newPod("application"), AUDIENCE);
    Context.CancellableContext call = Context.current().withCancellation();
    try {
      Iterator<CredentialEvent> events =
          call.call(
              () ->
                  client
                      .as(token)
                      .watchCredential(
                          WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build()));
      Credential credential = client.remember(events.next().getIssued().getCredential());

      try (Connection db =
              DriverManager.getConnection(
                  credential.getConnection().getJdbcUrl(),
                  credential.getUsername(),
                  credential.getPassword());
          Statement sql = db.createStatement()) {
        sql.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text)");
        try (ResultSet rs = sql.executeQuery("SELECT current_user")) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getString(1)).isEqualTo(credential.getUsername());
        }
      }
      assertThat(events.next().hasHeartbeat()).isTrue();
    } finally {
      call.cancel(null);
    }
  }

  @Test
  void twoPodsGetTwoDifferentRoles() {
    Credential a = client.issue(podToken("application", newPod("application"), AUDIENCE), "db1");
    Credential b = client.issue(podToken("application", newPod("application"), AUDIENCE), "db1");

    assertThat(a.getUsername()).isNotEqualTo(b.getUsername());
  }

  @Test
  void wrongAudienceForgedAndDeletedPodTokensAreUnauthenticated() {
    String wrongAudience = podToken("application", newPod("application"), "vault");
    assertRefused(
        () -> client.issue(wrongAudience, "db1"), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED");

    String genuine = podToken("application", newPod("application"), AUDIENCE);
    String other = podToken("application", newPod("application"), AUDIENCE);
    String[] parts = genuine.split("\\.");
    String forged = parts[0] + "." + parts[1] + "." + other.split("\\.")[2];
    assertRefused(() -> client.issue(forged, "db1"), Status.Code.UNAUTHENTICATED, "TOKEN_REJECTED");

    String pod = newPod("application");
    String orphaned = podToken("application", pod, AUDIENCE);
    kubernetes.pods().inNamespace("public").withName(pod).withGracePeriod(0).delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertRefused(
                    () -> client.issue(orphaned, "db1"),
                    Status.Code.UNAUTHENTICATED,
                    "TOKEN_REJECTED"));
  }

  @Test
  void unboundServiceAccountIsDeniedAndUnknownRoleIsNotFound() {
    String unbound = podToken("unbound", newPod("unbound"), AUDIENCE);
    assertRefused(() -> client.issue(unbound, "db1"), Status.Code.PERMISSION_DENIED, "NOT_BOUND");

    String token = podToken("application", newPod("application"), AUDIENCE);
    assertRefused(
        () ->
            client
                .as(token)
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db2").build()),
        Status.Code.NOT_FOUND,
        "UNKNOWN_DATABASE_ROLE");
  }

  @Test
  void vaultOutageIsUnavailableAndTheBrokerRecoversWhenVaultReturns() {
    String token = podToken("application", newPod("application"), AUDIENCE);
    client.issue(token, "db1");

    // A paused container keeps its in-memory state and stops answering, like a hung Vault.
    vault.getDockerClient().pauseContainerCmd(vault.getContainerId()).exec();
    try {
      assertRefused(() -> client.issue(token, "db1"), Status.Code.UNAVAILABLE, "VAULT_UNAVAILABLE");
    } finally {
      vault.getDockerClient().unpauseContainerCmd(vault.getContainerId()).exec();
    }

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> assertThat(client.issue(token, "db1").getUsername()).isNotBlank());
  }

  private static String newPod(String serviceAccount) {
    String name = "app-" + pods.incrementAndGet();
    Pod pod =
        kubernetes
            .pods()
            .inNamespace("public")
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withName(name)
                    .endMetadata()
                    .withNewSpec()
                    .withServiceAccountName(serviceAccount)
                    .addNewContainer()
                    .withName("pause")
                    .withImage("registry.k8s.io/pause:3.9")
                    .endContainer()
                    .endSpec()
                    .build())
            .create();
    return pod.getMetadata().getName();
  }

  /** A projected token bound to the pod, exactly what the kubelet would mount. */
  private static String podToken(String serviceAccount, String podName, String audience) {
    Pod pod = kubernetes.pods().inNamespace("public").withName(podName).get();
    TokenRequest request =
        new TokenRequestBuilder()
            .withNewSpec()
            .withAudiences(audience)
            .withExpirationSeconds(600L)
            .withNewBoundObjectRef()
            .withApiVersion("v1")
            .withKind("Pod")
            .withName(podName)
            .withUid(pod.getMetadata().getUid())
            .endBoundObjectRef()
            .endSpec()
            .build();
    return kubernetes
        .serviceAccounts()
        .inNamespace("public")
        .withName(serviceAccount)
        .tokenRequest(request)
        .getStatus()
        .getToken();
  }
}
