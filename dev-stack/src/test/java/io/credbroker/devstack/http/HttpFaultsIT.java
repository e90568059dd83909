package io.credbroker.devstack.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HttpFaultsIT {

  private final HttpEndpoint endpoint =
      HttpEndpoint.start(
          new InetSocketAddress("127.0.0.1", 0),
          null,
          "faults",
          request -> HttpResponse.json(200, Map.of("path", request.path())));
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void close() {
    endpoint.close();
  }

  @Test
  void injectedResponseReplacesTheHandlersOnlyForSelectedRequestsUntilCleared() throws Exception {
    endpoint
        .faults()
        .respond(
            request -> request.path().startsWith("/v1/database/"),
            HttpResponse.json(503, Map.of("errors", java.util.List.of("Vault is sealed"))));

    assertThat(get("/v1/database/creds/db1").statusCode()).isEqualTo(503);
    assertThat(get("/v1/database/creds/db1").body()).contains("Vault is sealed");
    assertThat(get("/v1/sys/health").statusCode()).isEqualTo(200);
    assertThat(endpoint.faults().injected()).isEqualTo(2);

    endpoint.faults().clear();

    assertThat(get("/v1/database/creds/db1").statusCode()).isEqualTo(200);
  }

  @Test
  void delayHoldsTheAnswerPastTheClientsTimeoutAndThenHandlesTheRequest() throws Exception {
    endpoint.faults().delay(Duration.ofMillis(1500));

    long start = System.nanoTime();
    try {
      http.send(
          HttpRequest.newBuilder(uri("/slow")).timeout(Duration.ofMillis(300)).build(),
          BodyHandlers.ofString());
      throw new AssertionError("answered within the client's timeout");
    } catch (HttpTimeoutException expected) {
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(1400));
    }
    java.net.http.HttpResponse<String> late = get("/slow");
    assertThat(late.statusCode()).isEqualTo(200);
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(Duration.ofMillis(1500));
  }

  private java.net.http.HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).build(),
        BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + endpoint.port() + path);
  }
}
