package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.Json;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the Vault stand-in reads a request before any handler sees it, as Vault's {@code
 * http/logical.go} and {@code vault/request_handling.go} do: the trailing-slash rule for writes,
 * PATCH's media type, GET's {@code list} parameter, and the lease endpoints' refusals. Plain HTTP,
 * for exact status codes and bodies.
 */
class VaultRequestRulesIT {

  private static final String ROOT = "root";
  @TempDir static Path workDir;
  static DevStack stack;
  static VaultWire wire;

  @BeforeAll
  static void start() {
    stack = DevStack.builder().workDir(workDir).start();
    wire = new VaultWire(stack.vaultAddress(), ROOT);
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  @Test
  void writeToAPathEndingInASlashIsRefusedBeforeTheTokenOrTheRouteIsLookedAt() throws Exception {
    HttpResponse<String> mount = send("POST", "sys/mounts/kv-slash/", ROOT, "{\"type\":\"kv\"}");
    assertThat(mount.statusCode()).isEqualTo(400);
    assertThat(mount.body()).isEqualTo("{\"errors\":[\"cannot write to a path ending in '/'\"]}");
    assertThat(send("GET", "sys/mounts", ROOT, null).body()).doesNotContain("kv-slash/");

    HttpResponse<String> noToken = send("PUT", "nowhere/at/all/", null, "{\"a\":\"b\"}");
    assertThat(noToken.statusCode()).isEqualTo(400);
    assertThat(noToken.body()).contains("cannot write to a path ending in '/'");
    assertThat(send("PUT", "sys/leases/renew/", ROOT, "{}").statusCode()).isEqualTo(400);

    // The same requests without the slash, as the vault CLI and hvac send them, still work.
    assertThat(send("POST", "sys/mounts/kv-slash", ROOT, "{\"type\":\"kv\"}").statusCode())
        .isEqualTo(204);
    assertThat(send("PUT", "kv-slash/app", ROOT, "{\"a\":\"b\"}").statusCode()).isEqualTo(204);
    assertThat(send("LIST", "kv-slash/", ROOT, null).statusCode()).isEqualTo(200);
  }

  @Test
  void patchNeedsTheMergePatchMediaType() throws Exception {
    mountKv("kv-patch");
    assertThat(send("PUT", "kv-patch/app", ROOT, "{\"a\":\"1\",\"b\":\"2\"}").statusCode())
        .isEqualTo(204);

    HttpResponse<String> json =
        send("PATCH", "kv-patch/app", ROOT, "application/json; charset=utf-8", "{\"a\":\"3\"}");
    assertThat(json.statusCode()).isEqualTo(415);
    assertThat(json.body())
        .isEqualTo(
            "{\"errors\":[\"PATCH requires Content-Type of application/merge-patch+json,"
                + " provided application/json\"]}");
    HttpResponse<String> none = send("PATCH", "kv-patch/app", ROOT, null, "{\"a\":\"3\"}");
    assertThat(none.statusCode()).isEqualTo(400);
    assertThat(none.body()).isEqualTo("{\"errors\":[\"mime: no media type\"]}");
    JsonNode stored = Json.MAPPER.readTree(send("GET", "kv-patch/app", ROOT, null).body());
    assertThat(stored.path("data").path("a").asText()).isEqualTo("1");
    assertThat(stored.path("data").path("b").asText()).isEqualTo("2");

    HttpResponse<String> slash =
        send("PATCH", "kv-patch/app/", ROOT, "application/merge-patch+json", "{\"a\":\"3\"}");
    assertThat(slash.statusCode()).isEqualTo(400);
    assertThat(slash.body()).contains("cannot write to a path ending in '/'");
  }

  @Test
  void listParameterIsReadAsGoParsesABool() throws Exception {
    mountKv("kv-flag");
    assertThat(send("PUT", "kv-flag/app", ROOT, "{\"a\":\"b\"}").statusCode()).isEqualTo(204);

    for (String yes : new String[] {"true", "1", "t", "TRUE", "True"}) {
      HttpResponse<String> list = send("GET", "kv-flag?list=" + yes, ROOT, null);
      assertThat(list.statusCode()).as("list=%s", yes).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(list.body()).at("/data/keys/0").asText()).isEqualTo("app");
    }
    for (String no : new String[] {"false", "0", "F", ""}) {
      HttpResponse<String> read = send("GET", "kv-flag/app?list=" + no, ROOT, null);
      assertThat(read.statusCode()).as("list=%s", no).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(read.body()).at("/data/a").asText()).isEqualTo("b");
    }
    HttpResponse<String> bad = send("GET", "kv-flag?list=yes", ROOT, null);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).isEqualTo("{\"errors\":[]}");
  }

  @Test
  void leaseLookupAndRevokeNameTheMissingLeaseIdAndLookupRefusesAnUnknownLease() throws Exception {
    HttpResponse<String> lookup = send("PUT", "sys/leases/lookup", ROOT, "{}");
    assertThat(lookup.statusCode()).isEqualTo(400);
    assertThat(lookup.body()).isEqualTo("{\"errors\":[\"lease_id must be specified\"]}");

    HttpResponse<String> unknown =
        send("PUT", "sys/leases/lookup", ROOT, "{\"lease_id\":\"kv/creds/none/abc\"}");
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(unknown.body()).isEqualTo("{\"errors\":[\"invalid lease\"]}");

    HttpResponse<String> revoke = send("PUT", "sys/leases/revoke", ROOT, "{\"lease_id\":\"\"}");
    assertThat(revoke.statusCode()).isEqualTo(400);
    assertThat(revoke.body()).isEqualTo("{\"errors\":[\"lease_id must be specified\"]}");
  }

  private static void mountKv(String path) throws Exception {
    assertThat(send("POST", "sys/mounts/" + path, ROOT, "{\"type\":\"kv\"}").statusCode())
        .isEqualTo(204);
  }

  private static HttpResponse<String> send(
      String method, String path, @Nullable String token, @Nullable String body) throws Exception {
    return wire.send(method, path, token, body);
  }

  private static HttpResponse<String> send(
      String method,
      String path,
      @Nullable String token,
      @Nullable String contentType,
      @Nullable String body)
      throws Exception {
    return wire.send(method, path, token, contentType, body);
  }
}
