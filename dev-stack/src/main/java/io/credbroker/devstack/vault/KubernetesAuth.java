package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.credbroker.devstack.http.Json;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.PublicKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kubernetes auth method mounted at {@code auth/<path>/}: {@code config}, {@code role/<name>}
 * and {@code login}, following vault-plugin-auth-kubernetes (validation order, error texts, the
 * TokenReview call it makes and what it accepts back, the auth block it returns). Thread-safe:
 * configuration lives in the mount's storage; HTTP clients are cached per CA certificate.
 */
final class KubernetesAuth {

  private static final Logger log = LoggerFactory.getLogger(KubernetesAuth.class);
  private static final Set<JWSAlgorithm> ALGORITHMS =
      Set.of(
          JWSAlgorithm.RS256,
          JWSAlgorithm.RS384,
          JWSAlgorithm.RS512,
          JWSAlgorithm.ES256,
          JWSAlgorithm.ES384,
          JWSAlgorithm.ES512,
          JWSAlgorithm.PS256,
          JWSAlgorithm.PS384,
          JWSAlgorithm.PS512);

  private final Mount mount;
  private final EngineStorage storage;
  private final Tokens tokens;
  private final Clock clock;
  private final Map<String, HttpClient> clients = new ConcurrentHashMap<>();

  KubernetesAuth(Mount mount, EngineStorage storage, Tokens tokens, Clock clock) {
    this.mount = mount;
    this.storage = storage;
    this.tokens = tokens;
    this.clock = clock;
  }

  VaultResponse handle(Operation op, String path, JsonNode body) {
    if (path.equals("config")) {
      return switch (op) {
        case READ -> readConfig();
        case UPDATE, CREATE -> writeConfig(body);
        default -> throw unsupported();
      };
    }
    if (path.equals("role") || path.equals("role/")) {
      if (op != Operation.LIST) {
        throw unsupported();
      }
      List<String> keys = storage.list("role/");
      if (keys.isEmpty()) {
        throw VaultException.notFound();
      }
      ObjectNode data = Json.MAPPER.createObjectNode();
      keys.forEach(data.putArray("keys")::add);
      return VaultResponse.data(data);
    }
    if (path.startsWith("role/")) {
      String name = path.substring("role/".length());
      return switch (op) {
        case READ ->
            storage
                .get("role/" + name)
                .map(r -> VaultResponse.data(roleView(r)))
                .orElseThrow(VaultException::notFound);
        case UPDATE, CREATE -> writeRole(name, body);
        case DELETE -> {
          storage.delete("role/" + name);
          yield VaultResponse.noContent();
        }
        default -> throw unsupported();
      };
    }
    if (path.equals("login")) {
      if (op != Operation.UPDATE && op != Operation.CREATE) {
        throw unsupported();
      }
      return login(body);
    }
    throw new VaultException(404, List.of(VaultException.multiError("unsupported path")));
  }

  private static VaultException unsupported() {
    return new VaultException(405, List.of(VaultException.multiError("unsupported operation")));
  }

  // ---- config ----

  private VaultResponse writeConfig(JsonNode body) {
    String host = body.path("kubernetes_host").asText("");
    if (host.isEmpty()) {
      throw VaultException.badRequest("no host provided");
    }
    String ca = body.path("kubernetes_ca_cert").asText("");
    if (!ca.isEmpty()) {
      trustFor(ca);
    }
    List<String> pemKeys = strings(body.get("pem_keys"));
    for (String pem : pemKeys) {
      parsePublicKey(pem);
    }
    ObjectNode config = Json.MAPPER.createObjectNode();
    config.put("kubernetes_host", host);
    config.put("kubernetes_ca_cert", ca);
    config.put("token_reviewer_jwt", body.path("token_reviewer_jwt").asText(""));
    pemKeys.forEach(config.putArray("pem_keys")::add);
    config.put("issuer", body.path("issuer").asText(""));
    config.put("disable_iss_validation", body.path("disable_iss_validation").asBoolean(true));
    config.put("disable_local_ca_jwt", body.path("disable_local_ca_jwt").asBoolean(false));
    config.put(
        "use_annotations_as_alias_metadata",
        body.path("use_annotations_as_alias_metadata").asBoolean(false));
    storage.put("config", config);
    return VaultResponse.noContent();
  }

  private VaultResponse readConfig() {
    JsonNode c = storage.get("config").orElseThrow(VaultException::notFound);
    ObjectNode view = Json.MAPPER.createObjectNode();
    view.put("disable_iss_validation", c.path("disable_iss_validation").asBoolean(true));
    view.put("disable_local_ca_jwt", c.path("disable_local_ca_jwt").asBoolean());
    view.put("issuer", c.path("issuer").asText());
    view.put("kubernetes_ca_cert", c.path("kubernetes_ca_cert").asText());
    view.put("kubernetes_host", c.path("kubernetes_host").asText());
    view.set(
        "pem_keys",
        c.path("pem_keys").isMissingNode() ? Json.MAPPER.createArrayNode() : c.get("pem_keys"));
    // The reviewer JWT is a secret: Vault only says whether one is set.
    view.put("token_reviewer_jwt_set", !c.path("token_reviewer_jwt").asText().isEmpty());
    view.put(
        "use_annotations_as_alias_metadata",
        c.path("use_annotations_as_alias_metadata").asBoolean());
    return VaultResponse.data(view);
  }

  // ---- roles ----

  private VaultResponse writeRole(String name, JsonNode body) {
    JsonNode existing = storage.get("role/" + name).orElse(Json.MAPPER.createObjectNode());
    List<String> names =
        body.has("bound_service_account_names")
            ? strings(body.get("bound_service_account_names"))
            : strings(existing.get("bound_service_account_names"));
    List<String> namespaces =
        body.has("bound_service_account_namespaces")
            ? strings(body.get("bound_service_account_namespaces"))
            : strings(existing.get("bound_service_account_namespaces"));
    String selector =
        body.has("bound_service_account_namespace_selector")
            ? body.path("bound_service_account_namespace_selector").asText()
            : existing.path("bound_service_account_namespace_selector").asText("");
    if (names.isEmpty()) {
      throw VaultException.badRequest("\"bound_service_account_names\" can not be empty");
    }
    if (namespaces.isEmpty() && selector.isEmpty()) {
      throw VaultException.badRequest(
          "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set");
    }
    if (names.size() > 1 && names.contains("*")) {
      throw VaultException.badRequest("can not mix \"*\" with values");
    }
    if (namespaces.size() > 1 && namespaces.contains("*")) {
      throw VaultException.badRequest("can not mix \"*\" with values");
    }
    String aliasSource = text(body, existing, "alias_name_source", "serviceaccount_uid");
    if (!aliasSource.equals("serviceaccount_uid") && !aliasSource.equals("serviceaccount_name")) {
      throw VaultException.badRequest("invalid alias_name_source: " + aliasSource);
    }
    Duration ttl = firstDuration(body, existing, "token_ttl", "ttl");
    Duration maxTtl = firstDuration(body, existing, "token_max_ttl", "max_ttl");
    if (!maxTtl.isZero() && ttl.compareTo(maxTtl) > 0) {
      throw VaultException.badRequest(
          "\"token_ttl\" value must be less than or equal to \"token_max_ttl\"");
    }
    List<String> policies =
        body.has("token_policies")
            ? strings(body.get("token_policies"))
            : body.has("policies")
                ? strings(body.get("policies"))
                : strings(existing.get("token_policies"));
    ObjectNode role = Json.MAPPER.createObjectNode();
    names.forEach(role.putArray("bound_service_account_names")::add);
    namespaces.forEach(role.putArray("bound_service_account_namespaces")::add);
    role.put("bound_service_account_namespace_selector", selector);
    String audience = text(body, existing, "audience", "");
    role.put("audience", audience);
    role.put("alias_name_source", aliasSource);
    role.put("token_ttl", ttl.getSeconds());
    role.put("token_max_ttl", maxTtl.getSeconds());
    role.put(
        "token_explicit_max_ttl",
        firstDuration(body, existing, "token_explicit_max_ttl", "token_explicit_max_ttl")
            .getSeconds());
    role.put("token_period", firstDuration(body, existing, "token_period", "period").getSeconds());
    policies.forEach(role.putArray("token_policies")::add);
    role.put("token_no_default_policy", bool(body, existing, "token_no_default_policy"));
    int numUses =
        body.has("token_num_uses")
            ? body.path("token_num_uses").asInt()
            : existing.path("token_num_uses").asInt(0);
    String tokenType = text(body, existing, "token_type", "default");
    refuseTokenSettingsNotModelled(tokenType, numUses, body);
    role.put("token_num_uses", numUses);
    role.put("token_type", tokenType);
    storage.put("role/" + name, role);
    VaultResponse response = VaultResponse.noContent();
    if (audience.isEmpty()) {
      response =
          response.withWarning(
              "Role "
                  + name
                  + " does not have an audience configured. While audiences are not required, consider"
                  + " specifying one if your use case would benefit from additional JWT claim verification.");
    }
    return response;
  }

  /**
   * A login with such a role would get, from Vault, a token this stand-in cannot give: a batch
   * token (not renewable, no children), one with a use count, or one bound to client addresses.
   * Like {@link TokenCreation}, the role is refused with a 400 that says so, rather than kept and
   * ignored at login, where a client would get a token real Vault would not give it.
   */
  private static void refuseTokenSettingsNotModelled(String tokenType, int numUses, JsonNode body) {
    switch (tokenType) {
      case "default", "service", "default-service" -> {}
      case "batch", "default-batch" ->
          throw VaultException.badRequest(
              "the dev-stack Vault stand-in does not issue batch tokens");
      default -> throw VaultException.badRequest("invalid 'token_type' value");
    }
    if (numUses < 0) {
      throw VaultException.badRequest("'token_num_uses' cannot be negative");
    }
    if (numUses > 0) {
      throw VaultException.badRequest(
          "the dev-stack Vault stand-in does not limit token uses (token_num_uses)");
    }
    for (String bound : List.of("token_bound_cidrs", "bound_cidrs")) {
      JsonNode cidrs = body.get(bound);
      if (cidrs != null && !strings(cidrs).isEmpty()) {
        throw VaultException.badRequest(
            "the dev-stack Vault stand-in does not bind tokens to client addresses ("
                + bound
                + ")");
      }
    }
  }

  private static ObjectNode roleView(JsonNode r) {
    ObjectNode v = Json.MAPPER.createObjectNode();
    v.put("alias_name_source", r.path("alias_name_source").asText());
    v.put("audience", r.path("audience").asText());
    v.set("bound_service_account_names", r.get("bound_service_account_names"));
    v.put(
        "bound_service_account_namespace_selector",
        r.path("bound_service_account_namespace_selector").asText());
    v.set("bound_service_account_namespaces", r.get("bound_service_account_namespaces"));
    v.put("max_ttl", r.path("token_max_ttl").asLong());
    v.put("num_uses", r.path("token_num_uses").asInt());
    v.put("period", r.path("token_period").asLong());
    v.set("policies", r.get("token_policies"));
    v.putArray("token_bound_cidrs");
    v.put("token_explicit_max_ttl", r.path("token_explicit_max_ttl").asLong());
    v.put("token_max_ttl", r.path("token_max_ttl").asLong());
    v.put("token_no_default_policy", r.path("token_no_default_policy").asBoolean());
    v.put("token_num_uses", r.path("token_num_uses").asInt());
    v.put("token_period", r.path("token_period").asLong());
    v.set("token_policies", r.get("token_policies"));
    v.put("token_ttl", r.path("token_ttl").asLong());
    v.put("token_type", r.path("token_type").asText());
    v.put("ttl", r.path("token_ttl").asLong());
    return v;
  }

  // ---- login ----

  private VaultResponse login(JsonNode body) {
    String roleName = body.path("role").asText("");
    String jwt = body.path("jwt").asText("");
    if (roleName.isEmpty()) {
      throw plain(400, "missing role");
    }
    if (jwt.isEmpty()) {
      throw plain(400, "missing jwt");
    }
    JsonNode role =
        storage
            .get("role/" + roleName)
            .orElseThrow(() -> plain(400, "invalid role name \"" + roleName + "\""));
    JsonNode config =
        storage.get("config").orElseThrow(() -> plain(500, "could not load backend configuration"));

    JWTClaimsSet claims = parseAndValidate(jwt, role, config);
    ServiceAccount sa = serviceAccount(claims);
    if (!globMatchAny(strings(role.get("bound_service_account_names")), sa.name())) {
      throw plain(403, "service account name not authorized");
    }
    if (!globMatchAny(strings(role.get("bound_service_account_namespaces")), sa.namespace())) {
      throw plain(403, "namespace not authorized");
    }
    List<String> audiences =
        role.path("audience").asText().isEmpty()
            ? claimAudiences(claims)
            : List.of(role.path("audience").asText());
    review(jwt, audiences, config, sa);

    List<String> policies = new ArrayList<>(strings(role.get("token_policies")));
    if (!role.path("token_no_default_policy").asBoolean()) {
      policies.add("default");
    }
    Duration ttl = Duration.ofSeconds(role.path("token_ttl").asLong());
    Duration maxTtl = Duration.ofSeconds(role.path("token_max_ttl").asLong());
    if (ttl.isZero()) {
      ttl = mount.effectiveDefaultTtl();
    }
    if (maxTtl.isZero() || maxTtl.compareTo(mount.effectiveMaxTtl()) > 0) {
      maxTtl = mount.effectiveMaxTtl();
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("role", roleName);
    meta.put("service_account_name", sa.name());
    meta.put("service_account_namespace", sa.namespace());
    meta.put("service_account_secret_name", sa.secretName());
    meta.put("service_account_uid", sa.uid());
    Tokens.Issued issued =
        tokens.create(
            policies,
            // Vault's LoginCreateToken prefixes the method's name with its mount path, each "/"
            // turned into "-".
            mount.path().replace('/', '-') + sa.namespace() + "-" + sa.name(),
            meta,
            "auth/" + mount.path() + "login",
            ttl,
            maxTtl,
            Duration.ofSeconds(role.path("token_explicit_max_ttl").asLong()),
            Duration.ofSeconds(role.path("token_period").asLong()),
            true,
            true,
            roleName,
            null);
    return VaultResponse.auth(tokens.authBlock(issued.id(), issued.token()));
  }

  /**
   * What renewing a token this method logged in with role {@code roleName} grants: the role's
   * settings as they are now, as the plugin's {@code pathLoginRenew} reads them again.
   *
   * @throws VaultException 500 when the role was deleted since the login, as Vault answers
   */
  Tokens.LoginTerms renewalTerms(String roleName) {
    JsonNode role =
        storage
            .get("role/" + roleName)
            .orElseThrow(
                () ->
                    VaultException.backendError(
                        "failed to renew entry: role "
                            + roleName
                            + " does not exist during renewal"));
    return new Tokens.LoginTerms(
        mount.effectiveDefaultTtl(),
        mount.effectiveMaxTtl(),
        Duration.ofSeconds(role.path("token_ttl").asLong()),
        Duration.ofSeconds(role.path("token_max_ttl").asLong()),
        Duration.ofSeconds(role.path("token_period").asLong()));
  }

  /** Login errors are not wrapped in a multierror (logical.ErrPermissionDenied aside). */
  private static VaultException plain(int status, String message) {
    return new VaultException(status, List.of(message));
  }

  private JWTClaimsSet parseAndValidate(String jwt, JsonNode role, JsonNode config) {
    SignedJWT signed;
    JWTClaimsSet claims;
    try {
      signed = SignedJWT.parse(jwt);
      claims = signed.getJWTClaimsSet();
    } catch (ParseException e) {
      throw plain(403, "failed to parse JWT: " + e.getMessage());
    }
    if (!ALGORITHMS.contains(signed.getHeader().getAlgorithm())) {
      throw plain(403, "unsupported JWT signing algorithm: " + signed.getHeader().getAlgorithm());
    }
    List<String> pemKeys = strings(config.get("pem_keys"));
    if (!pemKeys.isEmpty()) {
      boolean verified = false;
      for (String pem : pemKeys) {
        try {
          PublicKey key = parsePublicKey(pem);
          JWSVerifier verifier =
              key instanceof RSAPublicKey rsa
                  ? new RSASSAVerifier(rsa)
                  : new ECDSAVerifier((ECPublicKey) key);
          if (signed.verify(verifier)) {
            verified = true;
            break;
          }
        } catch (JOSEException | RuntimeException e) {
          log.debug("pem key did not verify the JWT: {}", e.toString());
        }
      }
      if (!verified) {
        throw plain(403, "permission denied");
      }
    }
    if (!config.path("disable_iss_validation").asBoolean(true)
        && !config.path("issuer").asText().isEmpty()
        && !config.path("issuer").asText().equals(claims.getIssuer())) {
      throw plain(403, "go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)");
    }
    String audience = role.path("audience").asText();
    if (!audience.isEmpty()
        && (claims.getAudience() == null || !claims.getAudience().contains(audience))) {
      throw plain(403, "go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)");
    }
    Instant now = clock.instant();
    Date exp = claims.getExpirationTime();
    if (exp != null && !now.isBefore(exp.toInstant())) {
      throw plain(403, "go-jose/go-jose/jwt: validation failed, token is expired (exp)");
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && now.isBefore(nbf.toInstant())) {
      throw plain(403, "go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)");
    }
    Date iat = claims.getIssueTime();
    if (iat != null && now.isBefore(iat.toInstant())) {
      throw plain(403, "go-jose/go-jose/jwt: validation failed, token issued in the future (iat)");
    }
    return claims;
  }

  private record ServiceAccount(String namespace, String name, String uid, String secretName) {}

  @SuppressWarnings("unchecked")
  private static ServiceAccount serviceAccount(JWTClaimsSet claims) {
    Object k8s = claims.getClaim("kubernetes.io");
    if (k8s instanceof Map<?, ?> map) {
      Map<String, Object> sa = (Map<String, Object>) map.get("serviceaccount");
      String ns = String.valueOf(map.get("namespace"));
      if (sa != null && map.get("namespace") != null) {
        return new ServiceAccount(
            ns, String.valueOf(sa.get("name")), String.valueOf(sa.get("uid")), "");
      }
    }
    // Legacy secret-based tokens carry flat claims.
    Object ns = claims.getClaim("kubernetes.io/serviceaccount/namespace");
    Object name = claims.getClaim("kubernetes.io/serviceaccount/service-account.name");
    Object uid = claims.getClaim("kubernetes.io/serviceaccount/service-account.uid");
    Object secret = claims.getClaim("kubernetes.io/serviceaccount/secret.name");
    if (ns == null || name == null || uid == null) {
      throw plain(403, "permission denied");
    }
    return new ServiceAccount(
        ns.toString(), name.toString(), uid.toString(), secret == null ? "" : secret.toString());
  }

  private static List<String> claimAudiences(JWTClaimsSet claims) {
    return claims.getAudience() == null ? List.of() : claims.getAudience();
  }

  /** The TokenReview Vault makes; any disagreement is a plain 403 permission denied. */
  private void review(String jwt, List<String> audiences, JsonNode config, ServiceAccount sa) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.putObject("metadata").putNull("creationTimestamp");
    ObjectNode spec = body.putObject("spec");
    spec.put("token", jwt);
    if (!audiences.isEmpty()) {
      audiences.forEach(spec.putArray("audiences")::add);
    }
    body.putObject("status").putObject("user");
    String reviewer = config.path("token_reviewer_jwt").asText("");
    String bearer = reviewer.isEmpty() ? jwt : reviewer;
    String host = config.path("kubernetes_host").asText().replaceAll("/+$", "");
    JsonNode answer;
    try {
      HttpClient client =
          clients.computeIfAbsent(config.path("kubernetes_ca_cert").asText(""), this::newClient);
      HttpResponse<String> response =
          client.send(
              HttpRequest.newBuilder(
                      URI.create(host + "/apis/authentication.k8s.io/v1/tokenreviews"))
                  .timeout(Duration.ofSeconds(10))
                  .header("Authorization", "Bearer " + bearer)
                  .header("Content-Type", "application/json")
                  .header("Accept", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(Json.MAPPER.writeValueAsString(body)))
                  .build(),
              HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      if (response.statusCode() < 200 || response.statusCode() > 206) {
        log.info("TokenReview answered HTTP {}", response.statusCode());
        throw plain(403, "permission denied");
      }
      answer = Json.MAPPER.readTree(response.body());
    } catch (VaultException e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw plain(403, "permission denied");
    } catch (Exception e) {
      log.info("TokenReview call failed: {}", e.toString());
      throw plain(403, "permission denied");
    }
    JsonNode status = answer.get("status");
    if (status == null || !status.isObject() || "Failure".equals(status.asText(null))) {
      throw plain(403, "permission denied");
    }
    if (!status.path("error").asText("").isEmpty()
        || !status.path("authenticated").asBoolean(false)) {
      log.debug("TokenReview rejected the token: {}", status.path("error").asText());
      throw plain(403, "permission denied");
    }
    if (!audiences.isEmpty()) {
      List<String> granted = strings(status.get("audiences"));
      if (granted.stream().noneMatch(audiences::contains)) {
        throw plain(403, "permission denied");
      }
    }
    String[] parts = status.path("user").path("username").asText("").split(":");
    if (parts.length != 4
        || !parts[0].equals("system")
        || !parts[1].equals("serviceaccount")
        || !parts[2].equals(sa.namespace())
        || !parts[3].equals(sa.name())
        || !status.path("user").path("uid").asText("").equals(sa.uid())) {
      throw plain(403, "permission denied");
    }
  }

  private HttpClient newClient(String caPem) {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
    if (!caPem.isEmpty()) {
      b.sslContext(trustFor(caPem));
    }
    return b.build();
  }

  private static SSLContext trustFor(String caPem) {
    try {
      Collection<? extends Certificate> certs =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(
                  new ByteArrayInputStream(caPem.getBytes(StandardCharsets.UTF_8)));
      if (certs.isEmpty()) {
        throw VaultException.badRequest("kubernetes_ca_cert: no certificates found");
      }
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (Certificate c : certs) {
        ks.setCertificateEntry("ca-" + i++, c);
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (VaultException e) {
      throw e;
    } catch (Exception e) {
      throw VaultException.badRequest("kubernetes_ca_cert: " + e.getMessage());
    }
  }

  private static PublicKey parsePublicKey(String pem) {
    try {
      if (pem.contains("CERTIFICATE")) {
        return CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.UTF_8)))
            .getPublicKey();
      }
      String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
      byte[] der = Base64.getDecoder().decode(b64);
      for (String alg : List.of("RSA", "EC")) {
        try {
          return java.security.KeyFactory.getInstance(alg)
              .generatePublic(new X509EncodedKeySpec(der));
        } catch (java.security.spec.InvalidKeySpecException ignored) {
          // try the next algorithm
        }
      }
      throw VaultException.badRequest("data does not contain any valid RSA or ECDSA public keys");
    } catch (VaultException e) {
      throw e;
    } catch (Exception e) {
      throw VaultException.badRequest("data does not contain any valid RSA or ECDSA public keys");
    }
  }

  /** Vault's glob: {@code *} anywhere matches any run of characters. */
  static boolean globMatchAny(List<String> patterns, String value) {
    for (String p : patterns) {
      String regex = ("\\Q" + p.replace("*", "\\E.*\\Q") + "\\E");
      if (value.matches(regex)) {
        return true;
      }
    }
    return false;
  }

  static List<String> strings(@Nullable JsonNode node) {
    List<String> out = new ArrayList<>();
    if (node == null || node.isNull() || node.isMissingNode()) {
      return out;
    }
    if (node.isArray()) {
      for (JsonNode n : (ArrayNode) node) {
        if (!n.asText().isBlank()) {
          out.add(n.asText().trim());
        }
      }
    } else {
      for (String s : node.asText().split(",")) {
        if (!s.isBlank()) {
          out.add(s.trim());
        }
      }
    }
    return out;
  }

  private static String text(JsonNode body, JsonNode existing, String field, String fallback) {
    return body.has(field) ? body.path(field).asText() : existing.path(field).asText(fallback);
  }

  private static boolean bool(JsonNode body, JsonNode existing, String field) {
    return body.has(field) ? body.path(field).asBoolean() : existing.path(field).asBoolean(false);
  }

  private static Duration firstDuration(
      JsonNode body, JsonNode existing, String field, String legacy) {
    if (body.has(field)) {
      return GoDuration.parse(body.get(field), Duration.ZERO);
    }
    if (body.has(legacy)) {
      return GoDuration.parse(body.get(legacy), Duration.ZERO);
    }
    return Duration.ofSeconds(existing.path(field).asLong(0));
  }
}
