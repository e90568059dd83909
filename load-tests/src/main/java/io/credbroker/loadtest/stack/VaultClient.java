package io.credbroker.loadtest.stack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * Talks to Vault directly, the way any HTTP client would: the baseline the broker's issuance is
 * compared with, and lease cleanup. One keep-alive HTTP/1.1 client, over TLS to an {@code https}
 * address, as a pod reading Vault itself would; thread-safe.
 */
public final class VaultClient {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A lease read from {@code <mount>/creds/<role>}; the password is not kept. */
  public record Lease(String leaseId, String username) {}

  private final URI address;
  private final String token;
  private final HttpClient http;

  /**
   * @param tls the TLS context for an {@code https} address, trusting Vault's CA
   */
  public VaultClient(String address, String token, SSLContext tls) {
    this.address = URI.create(address.endsWith("/") ? address : address + "/");
    this.token = Objects.requireNonNull(token, "token");
    // HTTP/1.1 explicitly: the default would try an h2c upgrade on every new connection.
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .sslContext(Objects.requireNonNull(tls, "tls"))
            .build();
  }

  /** Reads {@code <mount>/creds/<role>}: Vault creates one PostgreSQL role. */
  public Lease readCredential(String mount, String role) {
    JsonNode body = send("GET", "v1/" + mount + "/creds/" + role, null, Duration.ofSeconds(30));
    String leaseId = body.path("lease_id").asText("");
    String username = body.path("data").path("username").asText("");
    if (leaseId.isEmpty() || username.isEmpty()) {
      throw new IllegalStateException("Vault's creds response has no lease_id or username");
    }
    return new Lease(leaseId, username);
  }

  /** Renews one lease by {@code incrementSeconds} ({@code sys/leases/renew}). */
  public void renew(String leaseId, long incrementSeconds) {
    send(
        "PUT",
        "v1/sys/leases/renew",
        JSON.createObjectNode()
            .put("lease_id", leaseId)
            .put("increment", incrementSeconds)
            .toString(),
        Duration.ofSeconds(30));
  }

  /** Revokes one lease at once (Vault runs the revocation statements before answering). */
  public void revoke(String leaseId) {
    send(
        "PUT",
        "v1/sys/leases/revoke",
        JSON.createObjectNode().put("lease_id", leaseId).toString(),
        Duration.ofSeconds(30));
  }

  /** Revokes every lease under {@code prefix}, synchronously; may take long with many leases. */
  public void revokePrefix(String prefix, Duration timeout) {
    send("PUT", "v1/sys/leases/revoke-prefix/" + prefix, "{}", timeout);
  }

  private JsonNode send(String method, String path, @Nullable String body, Duration timeout) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(address.resolve(path))
            .timeout(timeout)
            .header("X-Vault-Token", token)
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    try {
      HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() / 100 != 2) {
        // Vault's error bodies hold no secret; they name the failure.
        throw new IllegalStateException(
            method + " " + path + " answered " + r.statusCode() + ": " + r.body());
      }
      return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + path + " failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  @Override
  public String toString() {
    return "VaultClient[" + address + "]";
  }
}
