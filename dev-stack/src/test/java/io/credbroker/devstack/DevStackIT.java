package io.credbroker.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.http.Json;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DevStackIT {

  @TempDir static Path workDir;
  static DevStack stack;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    stack = DevStack.builder().workDir(workDir).createDatabase("credbroker").start();
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  @Test
  void infoFileNamesEveryEndpointAndCredential() throws IOException {
    JsonNode info = Json.MAPPER.readTree(workDir.resolve("dev-stack.json").toFile());
    assertThat(info.at("/vault/address").asText()).isEqualTo(stack.vaultAddress());
    assertThat(info.at("/vault/tlsAddress").asText()).isEqualTo(stack.vaultTlsAddress());
    assertThat(Path.of(info.at("/vault/caCert").asText())).isEqualTo(stack.caCertPath());
    assertThat(info.at("/vault/rootToken").asText()).isEqualTo("root");
    assertThat(info.at("/kubernetes/url").asText()).isEqualTo(stack.kubernetesUrl());
    assertThat(Path.of(info.at("/kubernetes/kubeconfig").asText())).exists();
    assertThat(Path.of(info.at("/kubernetes/caCert").asText())).exists();
    assertThat(info.at("/kubernetes/adminToken").asText()).isEqualTo(stack.kubernetesAdminToken());
    assertThat(info.at("/postgres/jdbcUrl").asText())
        .isEqualTo(stack.postgres().jdbcUrl("postgres"));
    assertThat(info.at("/postgres/port").asInt()).isEqualTo(stack.postgres().port());
    assertThat(info.at("/postgres/adminUser").asText()).isEqualTo("postgres");
    assertThat(info.at("/postgres/adminPassword").asText())
        .isEqualTo(stack.postgres().adminPassword());
    assertThat(info.at("/postgres/databases/credbroker").asText()).endsWith("/credbroker");
  }

  @Test
  void requestedDatabaseExistsAndAcceptsTheAdminPassword() throws Exception {
    try (Connection c = stack.postgres().connect("credbroker")) {
      assertThat(c.isValid(2)).isTrue();
    }
  }

  @Test
  void vaultAnswersHealthWithoutAToken() throws Exception {
    HttpResponse<String> r = get(stack.vaultAddress() + "/v1/sys/health", Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(r.body()).path("sealed").asBoolean(true)).isFalse();
  }

  @Test
  void vaultServesTheSameStateOverTlsWithACertificateFromTheDevStackCa() throws Exception {
    HttpResponse<String> created =
        post(
            stack.vaultAddress() + "/v1/auth/token/create",
            "root",
            "{\"ttl\":\"1h\",\"policies\":[\"default\"]}");
    String token = Json.MAPPER.readTree(created.body()).at("/auth/client_token").asText();
    HttpClient tls = trustingTheDevStackCa();

    HttpResponse<String> lookup =
        tls.send(
            HttpRequest.newBuilder(
                    URI.create(stack.vaultTlsAddress() + "/v1/auth/token/lookup-self"))
                .header("X-Vault-Token", token)
                .build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(stack.vaultTlsAddress()).startsWith("https://127.0.0.1:");
    assertThat(lookup.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(lookup.body()).at("/data/policies/0").asText())
        .isEqualTo("default");
    // Only a client that trusts the dev-stack's CA gets in: the JDK's own trust store does not.
    assertThatThrownBy(() -> get(stack.vaultTlsAddress() + "/v1/sys/health", Map.of()))
        .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
  }

  @Test
  void vaultFaultsApplyToTheTlsListenerToo() throws Exception {
    stack.vaultFaults().respond(io.credbroker.devstack.http.HttpResponse.empty(503));
    try {
      HttpResponse<String> r =
          trustingTheDevStackCa()
              .send(
                  HttpRequest.newBuilder(URI.create(stack.vaultTlsAddress() + "/v1/sys/health"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(503);
    } finally {
      stack.vaultFaults().clear();
    }
  }

  @Test
  void fabric8ConnectsWithTheWrittenKubeconfig() throws IOException {
    Config config = Config.fromKubeconfig(Files.readString(stack.kubeconfigPath()));
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      assertThat(client.namespaces().list().getItems())
          .extracting(ns -> ns.getMetadata().getName())
          .contains("public", "credbroker", "ops");
    }
  }

  @Test
  void stoppedVaultRefusesConnectionsAndRestartsWithItsState() throws Exception {
    HttpResponse<String> created =
        post(
            stack.vaultAddress() + "/v1/auth/token/create",
            "root",
            "{\"ttl\":\"1h\",\"policies\":[\"default\"]}");
    assertThat(created.statusCode()).isEqualTo(200);
    String token = Json.MAPPER.readTree(created.body()).at("/auth/client_token").asText();

    stack.stopVault();
    assertThatThrownBy(() -> get(stack.vaultAddress() + "/v1/sys/health", Map.of()))
        .isInstanceOf(ConnectException.class);
    stack.startVault();

    HttpResponse<String> lookup =
        get(stack.vaultAddress() + "/v1/auth/token/lookup-self", Map.of("X-Vault-Token", token));
    assertThat(lookup.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(lookup.body()).at("/data/policies/0").asText())
        .isEqualTo("default");
  }

  @Test
  void aRestartWaitsForItsPortWhileItIsStillTaken() throws Exception {
    int port = URI.create(stack.vaultAddress()).getPort();
    stack.stopVault();
    // The port is still held a moment after the stop (here by another socket, for a second).
    java.net.ServerSocket holder = new java.net.ServerSocket();
    holder.bind(new java.net.InetSocketAddress("127.0.0.1", port));
    Thread release =
        new Thread(
            () -> {
              try {
                Thread.sleep(1_000);
                holder.close();
              } catch (InterruptedException | IOException e) {
                Thread.currentThread().interrupt();
              }
            });
    release.start();
    try {
      stack.startVault();
    } finally {
      release.join();
      holder.close();
    }

    assertThat(URI.create(stack.vaultAddress()).getPort()).isEqualTo(port);
    assertThat(get(stack.vaultAddress() + "/v1/sys/health", Map.of()).statusCode()).isEqualTo(200);
  }

  @Test
  void vaultPortsLeftToTheStackLieBelowTheEphemeralRange() {
    // A restart binds the same ports again. One from the kernel's ephemeral range can meanwhile be
    // the local port of any outgoing connection (a pooled one keeps it for minutes), and the
    // restart then fails with "Address already in use", as a CI run did.
    int ephemeralStart = FreePorts.ephemeralStart();

    assertThat(URI.create(stack.vaultAddress()).getPort()).isLessThan(ephemeralStart);
    assertThat(URI.create(stack.vaultTlsAddress()).getPort()).isLessThan(ephemeralStart);
  }

  @Test
  void aRestartedVaultListensWithTlsOnTheSamePort() throws Exception {
    String before = stack.vaultTlsAddress();
    stack.stopVault();
    stack.startVault();

    assertThat(stack.vaultTlsAddress()).isEqualTo(before);
    HttpResponse<String> r =
        trustingTheDevStackCa()
            .send(
                HttpRequest.newBuilder(URI.create(before + "/v1/sys/health")).build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
  }

  /** A client that trusts the dev-stack's CA only, and checks the server's name. */
  static HttpClient trustingTheDevStackCa() throws Exception {
    java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (var in = Files.newInputStream(stack.caCertPath())) {
      trust.setCertificateEntry(
          "ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    javax.net.ssl.TrustManagerFactory tmf =
        javax.net.ssl.TrustManagerFactory.getInstance(
            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(context).build();
  }

  static HttpResponse<String> get(String url, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET();
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(String url, String token, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(url))
            .header("X-Vault-Token", token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
