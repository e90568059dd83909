package io.credbroker.broker.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.springframework.cloud.vault.config.VaultProperties;
import org.springframework.core.io.ByteArrayResource;
import org.springframework.http.RequestEntity;
import org.springframework.vault.support.SslConfiguration;
import org.springframework.web.client.RestTemplate;

class VaultHttpClientTest {

  @Test
  void poolHoldsAsManyConnectionsAsTheBulkheadAdmitsCalls() {
    VaultHttpClient client = VaultHttpClient.create(new VaultProperties(), 128);

    assertThat(client.maxConnectionsPerRoute()).isEqualTo(128);
    assertThat(client.maxConnections()).isEqualTo(128);
  }

  @Test
  void aRedirectToPlainHttpOnAnotherMachineIsRefused() throws Exception {
    HttpServer standby = redirectingTo("http://192.0.2.1:8200/v1/sys/health");
    try {
      RestTemplate rest =
          new RestTemplate(VaultHttpClient.create(new VaultProperties(), 4).requestFactory());

      assertThatThrownBy(() -> rest.exchange(get(standby, "s.broker-token"), String.class))
          .hasStackTraceContaining("refusing Vault's redirect to http://192.0.2.1:8200");
    } finally {
      standby.stop(0);
    }
  }

  @Test
  void aRedirectOnThisMachineIsFollowedWithTheToken() throws Exception {
    AtomicReference<String> token = new AtomicReference<>();
    HttpServer active = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    active.createContext(
        "/v1/sys/health",
        exchange -> {
          token.set(exchange.getRequestHeaders().getFirst("X-Vault-Token"));
          byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    active.start();
    HttpServer standby =
        redirectingTo("http://127.0.0.1:" + active.getAddress().getPort() + "/v1/sys/health");
    try {
      RestTemplate rest =
          new RestTemplate(VaultHttpClient.create(new VaultProperties(), 4).requestFactory());

      assertThat(rest.exchange(get(standby, "s.broker-token"), String.class).getBody())
          .isEqualTo("{}");
      assertThat(token).hasValue("s.broker-token");
    } finally {
      standby.stop(0);
      active.stop(0);
    }
  }

  /** A Vault standby that does not forward: every request is answered 307 to {@code location}. */
  private static HttpServer redirectingTo(String location) throws java.io.IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          exchange.getResponseHeaders().add("Location", location);
          exchange.sendResponseHeaders(307, -1);
          exchange.close();
        });
    server.start();
    return server;
  }

  private static RequestEntity<Void> get(HttpServer server, String vaultToken) {
    return RequestEntity.get(
            URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/v1/sys/health"))
        .header("X-Vault-Token", vaultToken)
        .build();
  }

  @Test
  void moreThanFiveCallsReachVaultAtOnce() throws Exception {
    int calls = 8;
    CountDownLatch allArrived = new CountDownLatch(calls);
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger mostInFlight = new AtomicInteger();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newFixedThreadPool(calls + 2));
    server.createContext(
        "/v1/database/creds/app",
        exchange -> {
          mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
          allArrived.countDown();
          try {
            // Answer only once every call is in the server at the same time (or give up).
            allArrived.await(3, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          inFlight.decrementAndGet();
          byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    ExecutorService callers = Executors.newFixedThreadPool(calls);
    try {
      VaultProperties properties = new VaultProperties();
      properties.setReadTimeout(5000);
      RestTemplate rest =
          new RestTemplate(VaultHttpClient.create(properties, calls).requestFactory());
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/database/creds/app";
      List<Future<String>> answers = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        answers.add(callers.submit(() -> rest.getForObject(url, String.class)));
      }
      for (Future<String> answer : answers) {
        assertThat(answer.get(10, TimeUnit.SECONDS)).isEqualTo("{}");
      }

      // Spring Vault's own pool (5 per route) would have held three calls back.
      assertThat(mostInFlight).hasValue(calls);
    } finally {
      callers.shutdownNow();
      server.stop(0);
    }
  }

  @Test
  void aPoolWithoutConnectionsIsRefused() {
    assertThatThrownBy(() -> VaultHttpClient.create(new VaultProperties(), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 1");
  }

  @Test
  void tlsSettingsAreTakenFromSpringCloudVaultsSslProperties() {
    VaultProperties.Ssl ssl = new VaultProperties.Ssl();
    ByteArrayResource trustStore = new ByteArrayResource(new byte[] {1}, "trust store");
    ssl.setTrustStore(trustStore);
    ssl.setTrustStorePassword("changeit");
    ssl.setTrustStoreType("PKCS12");
    ssl.setEnabledProtocols(List.of("TLSv1.3"));
    ssl.setEnabledCipherSuites(List.of("TLS_AES_128_GCM_SHA256"));

    SslConfiguration configuration = VaultHttpClient.sslConfiguration(ssl);

    assertThat(configuration.getTrustStoreConfiguration().getResource()).isSameAs(trustStore);
    assertThat(configuration.getTrustStoreConfiguration().getStorePassword())
        .isEqualTo("changeit".toCharArray());
    assertThat(configuration.getTrustStoreConfiguration().getStoreType()).isEqualTo("PKCS12");
    assertThat(configuration.getKeyStoreConfiguration().isPresent()).isFalse();
    assertThat(configuration.getEnabledProtocols()).containsExactly("TLSv1.3");
    assertThat(configuration.getEnabledCipherSuites()).containsExactly("TLS_AES_128_GCM_SHA256");
  }
}
