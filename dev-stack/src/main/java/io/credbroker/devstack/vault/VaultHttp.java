package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.HttpRequest;
import io.credbroker.devstack.http.HttpResponse;
import io.credbroker.devstack.http.Json;
import io.credbroker.devstack.vault.LeaseManager.MountedEngine;
import io.credbroker.devstack.vault.VaultServer.AuthMount;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The wire side of the Vault stand-in: turns an HTTP request into a logical request (operation,
 * path, body, token), enforces authentication and ACLs, routes to {@code sys/}, the token store,
 * auth methods or a secrets engine, and renders Vault's envelope and error bodies. Stateless
 * itself; thread-safe.
 */
final class VaultHttp {

  private static final Logger log = LoggerFactory.getLogger(VaultHttp.class);
  private static final String VERSION = "1.21.0";
  private static final String MERGE_PATCH = "application/merge-patch+json";

  private final VaultServer server;

  VaultHttp(VaultServer server) {
    this.server = server;
  }

  /** A logical request after parsing. */
  private record Call(
      Operation op,
      String method,
      String path,
      JsonNode body,
      Map<String, String> query,
      @Nullable String tokenId,
      @Nullable Token token) {}

  HttpResponse handle(HttpRequest http) {
    String mountType = null;
    try {
      if (!http.path().startsWith("/v1/")) {
        return error(404, List.of());
      }
      String path = http.path().substring(4);
      // Served outside the logical request path, as in Vault's http package: no token, no
      // envelope, the status object itself at the top level.
      switch (path) {
        case "sys/health" -> {
          return health(http);
        }
        case "sys/seal-status" -> {
          return unwrapped(http, sealStatus());
        }
        case "sys/leader" -> {
          return unwrapped(http, leader());
        }
        case "sys/init" -> {
          return init(http);
        }
        default -> {}
      }
      if (http.method().equalsIgnoreCase("PATCH")) {
        requireMergePatch(http);
      }
      Operation op = operation(http);
      if (op == null) {
        return error(405, List.of(VaultException.multiError("unsupported operation")));
      }
      if (op == Operation.LIST && !path.endsWith("/")) {
        path = path + "/";
      }
      JsonNode body = body(http);
      // vault/request_handling.go (handleCancelableRequest) refuses these before it looks at the
      // token or the route, system paths included; the vault CLI and hvac never send them, as
      // both strip a trailing slash from the URL path.
      if (op == Operation.UPDATE && path.endsWith("/")) {
        throw VaultException.badRequest("cannot write to a path ending in '/'");
      }
      String tokenId = tokenOf(http);
      Call call =
          new Call(
              op, http.method().toUpperCase(Locale.ROOT), path, body, http.query(), tokenId, null);
      if (http.method().equalsIgnoreCase("HEAD")) {
        // Vault's header operation: only a few paths of other engines implement it; every other
        // path answers it as unsupported, and a HEAD of a creds path creates no role.
        if (!unauthenticated(path)) {
          authenticate(call);
        }
        throw VaultException.unsupportedOperation();
      }
      if (!unauthenticated(path)) {
        call = authenticate(call);
        authorize(call);
      }
      mountType = mountType(path);
      VaultResponse response = route(call);
      return render(http, call, response, mountType);
    } catch (VaultException e) {
      return error(e.status(), e.errors());
    } catch (HttpRequest.MalformedBodyException e) {
      return error(400, List.of(e.getMessage()));
    } catch (VaultStore.VaultStoreException e) {
      log.warn("storage failure: {}", e.getMessage());
      return error(500, List.of(VaultException.multiError("storage failure: " + e.getMessage())));
    } catch (RuntimeException e) {
      log.error("internal error on {} {}", http.method(), http.path(), e);
      return error(500, List.of(VaultException.multiError("internal error")));
    }
  }

  private static @Nullable Operation operation(HttpRequest http) {
    return switch (http.method().toUpperCase(Locale.ROOT)) {
      case "GET" -> listRequested(http) ? Operation.LIST : Operation.READ;
      case "HEAD" -> Operation.READ;
      case "LIST" -> Operation.LIST;
      case "POST", "PUT", "PATCH" -> Operation.UPDATE;
      case "DELETE" -> Operation.DELETE;
      default -> null;
    };
  }

  /**
   * GET's {@code list} parameter as Vault reads it, with Go's {@code strconv.ParseBool}
   * (buildLogicalRequestNoAuth in {@code http/logical.go}): absent or empty is a read, and a value
   * ParseBool does not know is a 400 with no error text.
   */
  private static boolean listRequested(HttpRequest http) {
    String value = http.queryParam("list");
    if (value == null || value.isEmpty()) {
      return false;
    }
    return switch (value) {
      case "1", "t", "T", "TRUE", "true", "True" -> true;
      case "0", "f", "F", "FALSE", "false", "False" -> false;
      default -> throw new VaultException(400, List.of());
    };
  }

  /**
   * Vault takes a PATCH only as a JSON merge patch: it parses the Content-Type with Go's {@code
   * mime.ParseMediaType} (a missing one fails there, 400) and answers any other media type 415
   * (buildLogicalRequestNoAuth in {@code http/logical.go}).
   */
  private static void requireMergePatch(HttpRequest http) {
    String header = http.header("Content-Type");
    String mediaType =
        header == null ? "" : header.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
    if (mediaType.isEmpty()) {
      throw VaultException.badRequest("mime: no media type");
    }
    if (!mediaType.equals(MERGE_PATCH)) {
      throw new VaultException(
          415,
          List.of("PATCH requires Content-Type of " + MERGE_PATCH + ", provided " + mediaType));
    }
  }

  /** JSON, or a form when the body looks like one (Vault sniffs the first bytes). */
  private static JsonNode body(HttpRequest http) {
    String text = http.bodyText().strip();
    if (text.isEmpty()) {
      return Json.MAPPER.createObjectNode();
    }
    String type = String.valueOf(http.header("Content-Type")).toLowerCase(Locale.ROOT);
    // curl -d labels JSON as a form; like Vault, look at the body before trusting the label.
    boolean form =
        !text.startsWith("{")
            && !text.startsWith("[")
            && (type.startsWith("application/x-www-form-urlencoded")
                || text.matches("^[^=&\\s]+=[^\\s]*$"));
    if (form) {
      ObjectNode n = Json.MAPPER.createObjectNode();
      for (String pair : text.split("&")) {
        int eq = pair.indexOf('=');
        String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        n.put(k, v);
      }
      return n;
    }
    // Vault decodes the body into a map and answers any failure with this one text
    // (http/logical.go, buildLogicalRequestNoAuth), never the decoder's message.
    JsonNode json;
    try {
      json = http.json();
    } catch (HttpRequest.MalformedBodyException e) {
      throw new VaultException(400, List.of("error parsing JSON"));
    }
    if (!json.isObject()) {
      throw new VaultException(400, List.of("error parsing JSON"));
    }
    return json;
  }

  private static @Nullable String tokenOf(HttpRequest http) {
    String t = http.header("X-Vault-Token");
    if (t != null && !t.isBlank()) {
      return t.strip();
    }
    String auth = http.header("Authorization");
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String v = auth.substring(7).strip();
      return v.isEmpty() ? null : v;
    }
    return null;
  }

  private boolean unauthenticated(String path) {
    if (path.startsWith("auth/") && path.endsWith("/login")) {
      AuthMount m = server.authMountFor(path.substring(5));
      return m != null && path.equals("auth/" + m.mount().path() + "login");
    }
    return false;
  }

  private Call authenticate(Call call) {
    if (call.tokenId() == null) {
      throw new VaultException(403, List.of("permission denied"));
    }
    Token token = server.tokens.resolve(call.tokenId());
    if (token == null) {
      throw VaultException.invalidToken();
    }
    return new Call(
        call.op(), call.method(), call.path(), call.body(), call.query(), call.tokenId(), token);
  }

  private void authorize(Call call) {
    Token token = call.token();
    if (token == null || call.path().startsWith("sys/internal/ui/mounts")) {
      // The UI mounts endpoint makes its own capability check below.
      return;
    }
    Acl acl = server.policies.acl(token.policies());
    if (acl.isRoot()) {
      return;
    }
    String path = call.path();
    Set<String> caps =
        call.op() == Operation.LIST ? acl.listCapabilities(path) : acl.capabilities(path);
    boolean ok =
        !caps.contains("deny")
            && switch (call.op()) {
              case READ -> caps.contains("read");
              case LIST -> caps.contains("list");
              case CREATE, UPDATE -> writeAllowed(caps, path);
              case DELETE -> caps.contains("delete");
            };
    if (ok && needsSudo(call)) {
      ok = caps.contains("sudo");
    }
    if (!ok) {
      throw VaultException.permissionDenied();
    }
  }

  /**
   * Whether the capabilities allow a write. Vault asks the backend's existence check: a write to a
   * target that does not exist yet needs {@code create}, any other write {@code update}, and a path
   * without an existence check is always an update. The stand-in knows this for the token store,
   * where only roles have an existence check (token_store.go); elsewhere it does not know Vault's
   * existence checks and lets either capability do.
   */
  private boolean writeAllowed(Set<String> caps, String path) {
    if (path.startsWith("auth/token/")) {
      boolean creates = server.tokenStore.writeCreates(path.substring("auth/token/".length()));
      return caps.contains(creates ? "create" : "update");
    }
    return caps.contains("update") || caps.contains("create");
  }

  /**
   * Vault's root-protected paths that need {@code sudo} besides the operation's capability, for
   * every operation on them: the system backend's {@code PathsSpecial.Root} ({@code
   * vault/logical_system.go}: {@code auth/*}, {@code leases/lookup/*}, {@code leases}, {@code
   * audit}, {@code raw}, the prefix and force revocations, ...) and the token store's {@code
   * accessors/}.
   */
  private static boolean needsSudo(Call call) {
    String p = call.path();
    return p.startsWith("sys/leases/revoke-prefix/")
        || p.startsWith("sys/leases/revoke-force/")
        || p.startsWith("sys/revoke-prefix/")
        || p.startsWith("sys/revoke-force/")
        || p.startsWith("sys/leases/lookup/")
        || p.equals("sys/leases")
        || p.startsWith("sys/auth/")
        || p.startsWith("sys/audit")
        || p.startsWith("sys/raw")
        || p.equals("sys/remount")
        || p.equals("sys/rotate")
        || p.equals("sys/seal")
        || p.equals("sys/step-down")
        || p.equals("auth/token/accessors/");
  }

  private String mountType(String path) {
    if (path.startsWith("sys/")) {
      return "system";
    }
    if (path.startsWith("auth/token/")) {
      return "token";
    }
    if (path.startsWith("auth/")) {
      AuthMount m = server.authMountFor(path.substring(5));
      return m == null ? "" : m.mount().type();
    }
    MountedEngine m = server.secretMountFor(path);
    return m == null ? "" : m.mount().type();
  }

  // ---- routing ----

  private VaultResponse route(Call call) {
    String p = call.path();
    if (p.startsWith("sys/")) {
      return sys(call, p.substring(4));
    }
    if (p.startsWith("auth/token/")) {
      return server.tokenStore.handle(
          call.op(),
          p.substring("auth/token/".length()),
          call.body(),
          java.util.Objects.requireNonNull(call.tokenId()),
          java.util.Objects.requireNonNull(call.token()));
    }
    if (p.startsWith("auth/")) {
      AuthMount m = server.authMountFor(p.substring(5));
      if (m == null) {
        throw noRoute(p);
      }
      String rel =
          p.substring(5).length() >= m.mount().path().length()
              ? p.substring(5 + m.mount().path().length())
              : "";
      return m.method().handle(call.op(), rel, call.body());
    }
    MountedEngine m = server.secretMountFor(p);
    if (m == null) {
      throw noRoute(p);
    }
    String rel =
        p.length() >= m.mount().path().length() ? p.substring(m.mount().path().length()) : "";
    Token token = java.util.Objects.requireNonNull(call.token());
    EngineRequest request =
        new EngineRequest(
            call.op(),
            m.mount().path(),
            rel,
            call.body(),
            call.query(),
            token.entry(java.util.Objects.requireNonNull(call.tokenId())));
    return m.engine().handle(request);
  }

  private static VaultException noRoute(String path) {
    String shown = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    return new VaultException(
        404, List.of("no handler for route \"" + shown + "\". route entry not found."));
  }

  // ---- sys ----

  private VaultResponse sys(Call call, String p) {
    Operation op = call.op();
    JsonNode body = call.body();
    if (p.equals("mounts") || p.equals("mounts/")) {
      if (op != Operation.READ) {
        throw VaultException.unsupportedOperation();
      }
      ObjectNode d = Json.MAPPER.createObjectNode();
      d.set("sys/", systemMount());
      for (Mount m : server.secretMountList()) {
        d.set(m.path(), m.describe());
      }
      return VaultResponse.data(d);
    }
    if (p.startsWith("mounts/")) {
      String rest = p.substring("mounts/".length());
      if (rest.endsWith("/tune")) {
        return tune(op, normalizeMount(rest.substring(0, rest.length() - "/tune".length())), body);
      }
      String path = normalizeMount(rest);
      switch (op) {
        case UPDATE, CREATE -> {
          String type = body.path("type").asText("");
          if (type.isEmpty()) {
            throw VaultException.badRequest("backend type must be specified as a string");
          }
          JsonNode config = body.path("config");
          Map<String, String> options = new LinkedHashMap<>();
          body.path("options")
              .fields()
              .forEachRemaining(e -> options.put(e.getKey(), e.getValue().asText()));
          server.enableSecretMount(
              path,
              type,
              body.path("description").asText(""),
              GoDuration.parse(config.get("default_lease_ttl"), Duration.ZERO),
              GoDuration.parse(config.get("max_lease_ttl"), Duration.ZERO),
              options);
          return VaultResponse.noContent();
        }
        case DELETE -> {
          server.disableSecretMount(path);
          return VaultResponse.noContent();
        }
        case READ -> {
          MountedEngine m = server.secretMounts.get(path);
          if (m == null) {
            throw VaultException.badRequest("No secret engine mount at " + path);
          }
          return VaultResponse.data(m.mount().describe());
        }
        default -> throw VaultException.unsupportedOperation();
      }
    }
    if (p.equals("auth") || p.equals("auth/")) {
      if (op != Operation.READ) {
        throw VaultException.unsupportedOperation();
      }
      ObjectNode d = Json.MAPPER.createObjectNode();
      for (Mount m : server.authMountList()) {
        d.set(m.path(), m.describe());
      }
      d.set("token/", tokenMount());
      return VaultResponse.data(d);
    }
    if (p.startsWith("auth/")) {
      String rest = p.substring("auth/".length());
      if (rest.endsWith("/tune")) {
        String path = normalizeMount(rest.substring(0, rest.length() - 5));
        AuthMount m = server.authMounts.get(path);
        if (m == null && !path.equals("token/")) {
          throw VaultException.badRequest("cannot fetch sysview for path \"auth/" + path + "\"");
        }
        if (op != Operation.READ) {
          return VaultResponse.noContent();
        }
        return VaultResponse.data(tuneView(m == null ? tokenMountRecord() : m.mount()));
      }
      String path = normalizeMount(rest);
      return switch (op) {
        case UPDATE, CREATE -> {
          server.enableAuthMount(
              path, body.path("type").asText(""), body.path("description").asText(""));
          yield VaultResponse.noContent();
        }
        case DELETE -> {
          server.disableAuthMount(path);
          yield VaultResponse.noContent();
        }
        case READ -> {
          AuthMount m = server.authMounts.get(path);
          if (m == null) {
            throw VaultException.badRequest("No auth engine at " + path);
          }
          yield VaultResponse.data(m.mount().describe());
        }
        default -> throw VaultException.unsupportedOperation();
      };
    }
    if (p.equals("policy") || p.equals("policy/") || p.equals("policies/acl/")) {
      if (op != Operation.READ && op != Operation.LIST) {
        throw VaultException.unsupportedOperation();
      }
      ObjectNode d = Json.MAPPER.createObjectNode();
      List<String> names = server.policies.names();
      names.forEach(d.putArray("keys")::add);
      if (p.startsWith("policy")) {
        names.forEach(d.putArray("policies")::add);
      }
      return VaultResponse.data(d);
    }
    if (p.startsWith("policy/") || p.startsWith("policies/acl/")) {
      boolean legacy = p.startsWith("policy/");
      String name =
          p.substring(legacy ? "policy/".length() : "policies/acl/".length())
              .toLowerCase(Locale.ROOT);
      return switch (op) {
        case READ -> {
          if (name.equals("root")) {
            ObjectNode d = Json.MAPPER.createObjectNode();
            d.put("name", "root");
            d.put(legacy ? "rules" : "policy", "");
            yield VaultResponse.data(d);
          }
          String text = server.policies.text(name).orElseThrow(VaultException::notFound);
          ObjectNode d = Json.MAPPER.createObjectNode();
          d.put("name", name);
          d.put(legacy ? "rules" : "policy", text);
          yield VaultResponse.data(d);
        }
        case UPDATE, CREATE -> {
          String text =
              body.has("policy") ? body.path("policy").asText() : body.path("rules").asText("");
          if (text.isBlank()) {
            throw VaultException.badRequest("'policy' parameter not supplied or empty");
          }
          server.policies.put(name, text);
          yield VaultResponse.noContent();
        }
        case DELETE -> {
          server.policies.delete(name);
          yield VaultResponse.noContent();
        }
        default -> throw VaultException.unsupportedOperation();
      };
    }
    if (p.equals("leases/renew")
        || p.startsWith("leases/renew/")
        || p.equals("renew")
        || p.startsWith("renew/")) {
      VaultException.requireWrite(op);
      String fromUrl =
          p.contains("/") && !p.equals("leases/renew")
              ? p.substring(p.startsWith("leases/") ? "leases/renew/".length() : "renew/".length())
              : "";
      String leaseId = body.path("lease_id").asText("");
      if (leaseId.isEmpty()) {
        leaseId = fromUrl;
      }
      Duration increment = GoDuration.parse(body.get("increment"), Duration.ZERO);
      return server.leases.renew(leaseId, increment);
    }
    if (p.equals("leases/revoke")
        || p.startsWith("leases/revoke/")
        || p.equals("revoke")
        || p.startsWith("revoke/")) {
      VaultException.requireWrite(op);
      String fromUrl =
          p.startsWith("leases/revoke/")
              ? p.substring("leases/revoke/".length())
              : p.startsWith("revoke/") ? p.substring("revoke/".length()) : "";
      String leaseId = body.path("lease_id").asText("");
      if (leaseId.isEmpty()) {
        leaseId = fromUrl;
      }
      if (leaseId.isEmpty()) {
        throw VaultException.badRequest("lease_id must be specified");
      }
      if (!body.path("sync").asBoolean(true)) {
        server.leases.revokeLater(leaseId);
        return new VaultResponse(202, null, null, List.of(), null);
      }
      server.leases.revokeNow(leaseId);
      return VaultResponse.noContent();
    }
    if (p.startsWith("leases/revoke-prefix/") || p.startsWith("revoke-prefix/")) {
      VaultException.requireWrite(op);
      String prefix = p.substring(p.indexOf("revoke-prefix/") + "revoke-prefix/".length());
      boolean sync = body.path("sync").asBoolean(true);
      server.leases.revokePrefix(prefix, sync);
      return sync ? VaultResponse.noContent() : new VaultResponse(202, null, null, List.of(), null);
    }
    if (p.startsWith("leases/revoke-force/") || p.startsWith("revoke-force/")) {
      VaultException.requireWrite(op);
      server.leases.revokeForce(p.substring(p.indexOf("revoke-force/") + "revoke-force/".length()));
      return VaultResponse.noContent();
    }
    if (p.equals("leases/lookup")) {
      VaultException.requireWrite(op);
      return server.leases.lookup(body.path("lease_id").asText(""));
    }
    if (p.startsWith("leases/lookup/")) {
      if (op != Operation.LIST) {
        throw VaultException.unsupportedOperation();
      }
      return server.leases.list(p.substring("leases/lookup/".length()));
    }
    if (p.equals("leases") && op == Operation.READ) {
      if (!"irrevocable".equals(call.query().get("type"))) {
        throw VaultException.badRequest("invalid type: only \"irrevocable\" is supported");
      }
      return server.leases.irrevocable();
    }
    if (p.equals("leases/count") && op == Operation.READ) {
      VaultResponse all = server.leases.irrevocable();
      ObjectNode d = Json.MAPPER.createObjectNode();
      d.put(
          "lease_count",
          ((JsonNode) java.util.Objects.requireNonNull(all.data())).path("lease_count").asInt());
      return VaultResponse.data(d);
    }
    if (p.equals("capabilities-self") || p.equals("capabilities")) {
      VaultException.requireWrite(op);
      Token token = java.util.Objects.requireNonNull(call.token());
      if (p.equals("capabilities")) {
        Token other = server.tokens.resolve(body.path("token").asText(""));
        if (other == null) {
          throw VaultException.badRequest("invalid token");
        }
        token = other;
      }
      return VaultResponse.data(capabilities(token, body));
    }
    if (p.equals("internal/ui/mounts") || p.equals("internal/ui/mounts/")) {
      return VaultResponse.data(uiMounts());
    }
    if (p.startsWith("internal/ui/mounts/")) {
      return uiMount(
          java.util.Objects.requireNonNull(call.token()),
          p.substring("internal/ui/mounts/".length()));
    }
    throw VaultException.unsupportedPath();
  }

  private static String normalizeMount(String path) {
    String p = path.strip();
    while (p.startsWith("/")) {
      p = p.substring(1);
    }
    if (p.isEmpty()) {
      throw VaultException.badRequest("path cannot be empty");
    }
    return p.endsWith("/") ? p : p + "/";
  }

  private VaultResponse tune(Operation op, String path, JsonNode body) {
    MountedEngine m = server.secretMounts.get(path);
    if (m == null) {
      if (path.equals("sys/")) {
        return op == Operation.READ
            ? VaultResponse.data(tuneView(systemMountRecord()))
            : VaultResponse.noContent();
      }
      throw VaultException.badRequest("cannot fetch sysview for path \"" + path + "\"");
    }
    if (op == Operation.READ) {
      return VaultResponse.data(tuneView(m.mount()));
    }
    VaultException.requireWrite(op);
    Duration def =
        body.has("default_lease_ttl")
            ? GoDuration.parse(body.get("default_lease_ttl"), Duration.ZERO)
            : null;
    Duration max =
        body.has("max_lease_ttl")
            ? GoDuration.parse(body.get("max_lease_ttl"), Duration.ZERO)
            : null;
    String description = body.has("description") ? body.path("description").asText() : null;
    server.tuneSecretMount(path, def, max, description);
    return VaultResponse.noContent();
  }

  private static ObjectNode tuneView(Mount m) {
    ObjectNode d = Json.MAPPER.createObjectNode();
    d.put("default_lease_ttl", m.effectiveDefaultTtl().getSeconds());
    d.put("description", m.description());
    d.put("force_no_cache", false);
    d.put("max_lease_ttl", m.effectiveMaxTtl().getSeconds());
    if (m.options().isEmpty()) {
      d.putNull("options");
    } else {
      ObjectNode o = d.putObject("options");
      m.options().forEach(o::put);
    }
    return d;
  }

  private Mount systemMountRecord() {
    return new Mount(
        "sys/",
        "system",
        "00000000-0000-0000-0000-000000000001",
        "system_00000001",
        "system endpoints used for control, policy and debugging",
        Duration.ZERO,
        Duration.ZERO,
        Map.of());
  }

  private Mount tokenMountRecord() {
    return new Mount(
        "token/",
        "token",
        "00000000-0000-0000-0000-000000000002",
        "auth_token_00000002",
        "token based credentials",
        Duration.ZERO,
        Duration.ZERO,
        Map.of());
  }

  private ObjectNode systemMount() {
    return systemMountRecord().describe();
  }

  private ObjectNode tokenMount() {
    return tokenMountRecord().describe();
  }

  private ObjectNode capabilities(Token token, JsonNode body) {
    List<String> paths = new ArrayList<>(KubernetesAuth.strings(body.get("paths")));
    if (body.has("path")) {
      paths.addAll(KubernetesAuth.strings(body.get("path")));
    }
    if (paths.isEmpty()) {
      throw VaultException.badRequest("paths must be supplied");
    }
    Acl acl = server.policies.acl(token.policies());
    ObjectNode d = Json.MAPPER.createObjectNode();
    Set<String> union = new java.util.TreeSet<>();
    for (String path : paths) {
      Set<String> caps = acl.capabilities(path);
      caps.forEach(d.putArray(path)::add);
      union.addAll(caps);
    }
    union.forEach(d.putArray("capabilities")::add);
    return d;
  }

  private ObjectNode uiMounts() {
    ObjectNode d = Json.MAPPER.createObjectNode();
    ObjectNode secret = d.putObject("secret");
    secret.set("sys/", systemMount());
    server.secretMountList().forEach(m -> secret.set(m.path(), m.describe()));
    ObjectNode auth = d.putObject("auth");
    server.authMountList().forEach(m -> auth.set(m.path(), m.describe()));
    auth.set("token/", tokenMount());
    return d;
  }

  /**
   * What Spring Vault's SecretLeaseContainer asks before reading a secret. Vault answers with the
   * mount when the token has any capability under it, else 403.
   */
  private VaultResponse uiMount(Token token, String path) {
    Acl acl = server.policies.acl(token.policies());
    Mount mount;
    String full;
    if (path.startsWith("auth/")) {
      AuthMount m = server.authMountFor(path.substring(5));
      mount = m == null ? null : m.mount();
      full = path;
    } else {
      MountedEngine m = server.secretMountFor(path);
      mount = m == null ? null : m.mount();
      full = path;
    }
    if (mount == null) {
      throw VaultException.permissionDenied();
    }
    if (!acl.isRoot()) {
      Set<String> caps = acl.capabilities(full);
      boolean any = !caps.contains("deny") && !caps.isEmpty();
      if (!any
          && !hasAnyUnder(acl, path.startsWith("auth/") ? "auth/" + mount.path() : mount.path())) {
        throw VaultException.permissionDenied();
      }
    }
    ObjectNode d = mount.describe();
    d.put("path", mount.path());
    return VaultResponse.data(d);
  }

  private static boolean hasAnyUnder(Acl acl, String mountPath) {
    Set<String> caps = acl.capabilities(mountPath);
    return !caps.contains("deny") && !caps.isEmpty();
  }

  private ObjectNode sealStatus() {
    ObjectNode cluster = server.clusterInfo();
    ObjectNode d = Json.MAPPER.createObjectNode();
    d.put("type", "shamir");
    d.put("initialized", true);
    d.put("sealed", false);
    d.put("t", 1);
    d.put("n", 1);
    d.put("progress", 0);
    d.put("nonce", "");
    d.put("version", VERSION);
    d.put("build_date", "2025-10-21T00:00:00Z");
    d.put("migration", false);
    d.put("cluster_name", cluster.path("cluster_name").asText());
    d.put("cluster_id", cluster.path("cluster_id").asText());
    d.put("recovery_seal", false);
    d.put("storage_type", "postgresql");
    return d;
  }

  private static ObjectNode leader() {
    ObjectNode d = Json.MAPPER.createObjectNode();
    d.put("ha_enabled", false);
    d.put("is_self", false);
    d.put("active_time", "0001-01-01T00:00:00Z");
    d.put("leader_address", "");
    d.put("leader_cluster_address", "");
    d.put("performance_standby", false);
    d.put("performance_standby_last_remote_wal", 0);
    return d;
  }

  /**
   * {@code sys/seal-status} and {@code sys/leader}: GET only, answered with the object itself
   * ({@code respondOk(w, status)} in Vault's {@code http/sys_seal.go} and {@code
   * http/sys_leader.go}), which the CLI's {@code vault status}, hvac and Spring Vault read at the
   * top level.
   */
  private static HttpResponse unwrapped(HttpRequest http, ObjectNode body) {
    if (!http.method().equalsIgnoreCase("GET")) {
      return error(405, List.of());
    }
    return HttpResponse.json(200, body).withHeader("Cache-Control", "no-store");
  }

  /** {@code sys/init} ({@code http/sys_init.go}): this server is initialised from the start. */
  private static HttpResponse init(HttpRequest http) {
    String method = http.method().toUpperCase(Locale.ROOT);
    if (method.equals("GET")) {
      ObjectNode b = Json.MAPPER.createObjectNode();
      b.put("initialized", true);
      return HttpResponse.json(200, b).withHeader("Cache-Control", "no-store");
    }
    if (method.equals("PUT") || method.equals("POST")) {
      return error(400, List.of("Vault is already initialized"));
    }
    return error(405, List.of());
  }

  // ---- sys/health ----

  private HttpResponse health(HttpRequest http) {
    String method = http.method().toUpperCase(Locale.ROOT);
    if (!method.equals("GET") && !method.equals("HEAD")) {
      return error(405, List.of(VaultException.multiError("unsupported operation")));
    }
    int status = 200;
    for (String name :
        List.of(
            "activecode",
            "standbycode",
            "drsecondarycode",
            "performancestandbycode",
            "sealedcode",
            "uninitcode",
            "removedcode",
            "haunhealthycode")) {
      String v = http.queryParam(name);
      if (v == null) {
        continue;
      }
      int code;
      try {
        code = Integer.parseInt(v.strip());
      } catch (NumberFormatException e) {
        return error(400, List.of("unable to parse " + name));
      }
      // This node is always active, initialised and unsealed: only activecode applies.
      if (name.equals("activecode")) {
        status = code;
      }
    }
    ObjectNode cluster = server.clusterInfo();
    ObjectNode b = Json.MAPPER.createObjectNode();
    b.put("initialized", true);
    b.put("sealed", false);
    b.put("standby", false);
    b.put("performance_standby", false);
    b.put("replication_performance_mode", "disabled");
    b.put("replication_dr_mode", "disabled");
    b.put("server_time_utc", server.clock().instant().getEpochSecond());
    b.put("version", VERSION);
    b.put("enterprise", false);
    b.put("cluster_name", cluster.path("cluster_name").asText());
    b.put("cluster_id", cluster.path("cluster_id").asText());
    b.put("echo_duration_ms", 0);
    b.put("clock_skew_ms", 0);
    b.put("replication_primary_canary_age_ms", 0);
    b.put("removed_from_cluster", false);
    HttpResponse r = status == 204 ? HttpResponse.empty(204) : HttpResponse.json(status, b);
    return r.withHeader("Cache-Control", "no-store");
  }

  // ---- rendering ----

  private HttpResponse render(HttpRequest http, Call call, VaultResponse r, String mountType) {
    if (r.status() == 204 || r.status() == 202 && r.data() == null && r.warnings().isEmpty()) {
      return HttpResponse.empty(r.status()).withHeader("Cache-Control", "no-store");
    }
    ObjectNode env = Json.MAPPER.createObjectNode();
    env.put("request_id", UUID.randomUUID().toString());
    LeaseRecord lease = r.lease();
    env.put("lease_id", lease == null ? "" : lease.leaseId());
    env.put("renewable", lease != null && lease.renewable());
    env.put("lease_duration", lease == null ? 0 : lease.grantedTtlSeconds());
    env.set("data", r.data() == null ? null : Json.MAPPER.valueToTree(r.data()));
    env.putNull("wrap_info");
    if (r.warnings().isEmpty()) {
      env.putNull("warnings");
    } else {
      ArrayNode w = env.putArray("warnings");
      r.warnings().forEach(w::add);
    }
    env.set("auth", r.auth() == null ? null : Json.MAPPER.valueToTree(r.auth()));
    env.put("mount_type", mountType);
    // Vault still repeats the mount tables at the top level for old clients.
    if (call.op() == Operation.READ
        && (call.path().equals("sys/mounts") || call.path().equals("sys/auth"))
        && env.get("data") instanceof ObjectNode data) {
      data.fields().forEachRemaining(e -> env.set(e.getKey(), e.getValue()));
    }
    return HttpResponse.json(r.status(), env).withHeader("Cache-Control", "no-store");
  }

  private static HttpResponse error(int status, List<String> errors) {
    ObjectNode b = Json.MAPPER.createObjectNode();
    ArrayNode a = b.putArray("errors");
    errors.forEach(a::add);
    return HttpResponse.json(status, b).withHeader("Cache-Control", "no-store");
  }
}
