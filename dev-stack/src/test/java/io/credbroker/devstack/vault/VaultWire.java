package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.PostgresInfo;
import io.credbroker.devstack.http.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultMount;

/**
 * Plain HTTP to a Vault stand-in, for assertions on exact status codes and bodies that a client
 * library would hide, plus the set-up steps the token ITs share. Thread-safe.
 */
final class VaultWire {

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final String address;
  private final String rootToken;

  VaultWire(String address, String rootToken) {
    this.address = address;
    this.rootToken = rootToken;
  }

  /** One request; {@code token} and {@code body} may be null. */
  HttpResponse<String> send(
      String method, String path, @Nullable String token, @Nullable String body)
      throws IOException, InterruptedException {
    return send(method, path, token, null, body);
  }

  /** One request with its {@code Content-Type}; any of the last three may be null. */
  HttpResponse<String> send(
      String method,
      String path,
      @Nullable String token,
      @Nullable String contentType,
      @Nullable String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(address + "/v1/" + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("X-Vault-Token", token);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A request that must answer 200; its JSON body. */
  JsonNode ok(String method, String path, @Nullable String token, @Nullable String body)
      throws Exception {
    HttpResponse<String> r = send(method, path, token, body);
    assertThat(r.statusCode()).as("%s %s: %s", method, path, r.body()).isEqualTo(200);
    return Json.MAPPER.readTree(r.body());
  }

  /** Creates a token through {@code path} (e.g. {@code auth/token/create}); its auth block. */
  JsonNode createToken(String token, String path, String body) throws Exception {
    return ok("POST", path, token, body).path("auth");
  }

  /** A token created by root with these policies and TTL; its id. */
  String rootChild(String ttl, String... policies) throws Exception {
    return createToken(
            rootToken,
            "auth/token/create",
            Json.MAPPER.writeValueAsString(Map.of("ttl", ttl, "policies", List.of(policies))))
        .path("client_token")
        .asText();
  }

  /** Writes an HCL policy as root. */
  void policy(String name, String hcl) throws Exception {
    HttpResponse<String> r =
        send(
            "PUT",
            "sys/policies/acl/" + name,
            rootToken,
            Json.MAPPER.writeValueAsString(Map.of("policy", hcl)));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
  }

  /** Whether the lease is still known to the stand-in (sys/leases/lookup as root). */
  boolean leaseExists(String leaseId) throws Exception {
    int status =
        send("PUT", "sys/leases/lookup", rootToken, "{\"lease_id\":\"" + leaseId + "\"}")
            .statusCode();
    assertThat(status).isIn(200, 400);
    return status == 200;
  }

  /** Mounts a database engine at {@code mount} with one role on the stand-in's PostgreSQL. */
  static void enableDatabase(
      VaultTemplate root, PostgresInfo pg, String mount, String role, String ttl, String maxTtl) {
    root.opsForSys().mount(mount, VaultMount.create("database"));
    root.write(
        mount + "/config/pg",
        Map.of(
            "plugin_name", "postgresql-database-plugin",
            "connection_url",
                "postgresql://{{username}}:{{password}}@"
                    + pg.host()
                    + ":"
                    + pg.port()
                    + "/postgres?sslmode=disable",
            "username", pg.adminUser(),
            "password", pg.adminPassword(),
            "allowed_roles", List.of(role)));
    root.write(
        mount + "/roles/" + role,
        Map.of(
            "db_name",
            "pg",
            "creation_statements",
            List.of(
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"),
            "default_ttl",
            ttl,
            "max_ttl",
            maxTtl));
  }

  /** Whether PostgreSQL still has the role (the database revocation statements have not run). */
  static boolean roleExists(PostgresInfo pg, String user) throws SQLException {
    try (Connection c = pg.connect("postgres");
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("SELECT count(*) FROM pg_roles WHERE rolname = '" + user + "'")) {
      rs.next();
      return rs.getInt(1) > 0;
    }
  }
}
