package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import io.credbroker.devstack.http.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * Issues and validates bound service-account tokens the way kube-apiserver does: RS256 JWTs with
 * the {@code kubernetes.io} private claim, checked for issuer, signature, audience, time (with the
 * API server's 60 s leeway) and for the bound service account and pod still existing with the UIDs
 * in the token.
 *
 * <p>The signing key is kept in the state directory ({@code sa-signing-key.json}, owner-only) so
 * that the JWKS, and anything that cached it, stays valid across restarts. Thread-safe.
 */
final class ServiceAccountTokens {

  static final String SIGNING_KEY_FILE = "sa-signing-key.json";

  /** The issuer and default audience, as {@code --service-account-issuer} sets them on clusters. */
  static final String ISSUER = "https://kubernetes.default.svc.cluster.local";

  static final String INVALID_BEARER_TOKEN = "invalid bearer token";

  private final RSAKey signingKey;
  private final ClusterStore store;
  private final Clock clock;
  private volatile Duration leeway = Duration.ofSeconds(60);

  private ServiceAccountTokens(RSAKey signingKey, ClusterStore store, Clock clock) {
    this.signingKey = signingKey;
    this.store = store;
    this.clock = clock;
  }

  static ServiceAccountTokens loadOrCreate(Path stateDir, ClusterStore store, Clock clock) {
    Path file = stateDir.resolve(SIGNING_KEY_FILE);
    try {
      RSAKey key;
      if (Files.isRegularFile(file)) {
        key = RSAKey.parse(Files.readString(file));
      } else {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        KeyPair pair = generator.generateKeyPair();
        RSAPublicKey publicKey = (RSAPublicKey) pair.getPublic();
        key =
            new RSAKey.Builder(publicKey)
                .privateKey((RSAPrivateKey) pair.getPrivate())
                .keyID(keyId(publicKey))
                .keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.RS256)
                .build();
        StateFiles.writePrivate(file, key.toJSONString());
      }
      return new ServiceAccountTokens(key, store, clock);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or write " + file, e);
    } catch (ParseException e) {
      throw new IllegalStateException(file + " does not hold a JWK", e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("RSA is not available", e);
    }
  }

  /**
   * The key ID kube-apiserver derives: base64url of the SHA-256 of the public key's DER (PKIX)
   * encoding, so it is stable for a key.
   */
  static String keyId(RSAPublicKey publicKey) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(publicKey.getEncoded());
      return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The clock-skew allowance on exp/nbf; 60 s like the real server. Tests may lower it. */
  void leeway(Duration leeway) {
    if (leeway.isNegative()) {
      throw new IllegalArgumentException("leeway must not be negative");
    }
    this.leeway = leeway;
  }

  /** The public half, as {@code /openid/v1/jwks} serves it. */
  String jwksJson() {
    return new JWKSet(signingKey.toPublicJWK()).toString();
  }

  /**
   * Signs a token for a service account, optionally bound to a pod. The caller has already checked
   * that both exist with these UIDs.
   */
  IssuedToken issue(
      String namespace,
      String serviceAccount,
      String serviceAccountUid,
      @Nullable String podName,
      @Nullable String podUid,
      List<String> audiences,
      Duration ttl) {
    Instant now = clock.instant();
    long iat = now.getEpochSecond();
    long exp = now.plus(ttl).getEpochSecond();
    String jti = UUID.randomUUID().toString();
    Map<String, Object> kubernetes = new LinkedHashMap<>();
    kubernetes.put("namespace", namespace);
    if (podName != null && podUid != null) {
      kubernetes.put("node", Map.of("name", ClusterStore.NODE_NAME, "uid", store.nodeUid()));
      kubernetes.put("pod", Map.of("name", podName, "uid", podUid));
    }
    kubernetes.put("serviceaccount", Map.of("name", serviceAccount, "uid", serviceAccountUid));
    Map<String, Object> claims = new LinkedHashMap<>();
    claims.put("aud", List.copyOf(audiences)); // always an array, as the real server writes it
    claims.put("exp", exp);
    claims.put("iat", iat);
    claims.put("iss", ISSUER);
    claims.put("jti", jti);
    claims.put("kubernetes.io", kubernetes);
    claims.put("nbf", iat);
    claims.put("sub", "system:serviceaccount:" + namespace + ":" + serviceAccount);
    JWSHeader header =
        new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(signingKey.getKeyID()).build();
    JWSObject jws = new JWSObject(header, new Payload(claims));
    try {
      jws.sign(new RSASSASigner(signingKey));
    } catch (JOSEException e) {
      throw new IllegalStateException("cannot sign a service-account token", e);
    }
    return new IssuedToken(jws.serialize(), Instant.ofEpochSecond(exp), jti);
  }

  /**
   * Reviews a token for the given target audiences in the order kube-apiserver's service-account
   * authenticator checks: issuer, signature, audience, time, then the bound objects.
   */
  TokenReviewOutcome review(String token, List<String> targetAudiences) {
    JWSObject jws;
    JsonNode claims;
    try {
      jws = JWSObject.parse(token);
      claims = Json.MAPPER.readTree(jws.getPayload().toString());
    } catch (ParseException | IOException | RuntimeException e) {
      return TokenReviewOutcome.rejected(INVALID_BEARER_TOKEN);
    }
    if (claims == null || !ISSUER.equals(claims.path("iss").asText())) {
      // Not a token this issuer wrote: no authenticator claims it.
      return TokenReviewOutcome.rejected(INVALID_BEARER_TOKEN);
    }
    if (!verifies(jws)) {
      return rejected("square/go-jose: error in cryptographic primitive");
    }
    List<String> tokenAudiences = strings(claims.path("aud"));
    if (tokenAudiences.isEmpty()) {
      tokenAudiences = List.of(ISSUER); // legacy tokens: only the API server's audience
    }
    List<String> granted = new ArrayList<>(tokenAudiences);
    granted.retainAll(targetAudiences);
    if (granted.isEmpty()) {
      return rejected(
          "token audiences "
              + goQuoted(tokenAudiences)
              + " is invalid for the target audiences "
              + goQuoted(targetAudiences));
    }
    Instant now = clock.instant();
    Duration skew = leeway;
    JsonNode exp = claims.get("exp");
    if (exp != null
        && exp.canConvertToLong()
        && now.minus(skew).isAfter(Instant.ofEpochSecond(exp.asLong()))) {
      return rejected("service account token has expired");
    }
    JsonNode nbf = claims.get("nbf");
    if (nbf != null
        && nbf.canConvertToLong()
        && now.plus(skew).isBefore(Instant.ofEpochSecond(nbf.asLong()))) {
      return rejected("service account token is not valid yet");
    }
    JsonNode k8s = claims.path("kubernetes.io");
    String namespace = k8s.path("namespace").asText("");
    String saName = k8s.path("serviceaccount").path("name").asText("");
    String saUid = k8s.path("serviceaccount").path("uid").asText("");
    String liveSaUid = store.uidOf(ResourceKind.SERVICE_ACCOUNT, namespace, saName);
    if (liveSaUid == null) {
      return rejected("serviceaccounts \"" + saName + "\" not found");
    }
    if (!liveSaUid.equals(saUid)) {
      return rejected(
          "service account UID (" + liveSaUid + ") does not match claim (" + saUid + ")");
    }
    Map<String, List<String>> extra = new LinkedHashMap<>();
    JsonNode podRef = k8s.get("pod");
    if (podRef != null && podRef.isObject()) {
      String podName = podRef.path("name").asText("");
      String podUid = podRef.path("uid").asText("");
      String livePodUid = store.uidOf(ResourceKind.POD, namespace, podName);
      if (livePodUid == null) {
        return rejected("service account token has been invalidated");
      }
      if (!livePodUid.equals(podUid)) {
        return rejected(
            "pod UID ("
                + livePodUid
                + ") does not match service account pod ref claim ("
                + podUid
                + ")");
      }
      extra.put("authentication.kubernetes.io/pod-name", List.of(podName));
      extra.put("authentication.kubernetes.io/pod-uid", List.of(podUid));
    }
    String jti = claims.path("jti").asText("");
    if (!jti.isEmpty()) {
      extra.put("authentication.kubernetes.io/credential-id", List.of("JTI=" + jti));
    }
    JsonNode node = k8s.get("node");
    if (node != null && node.isObject()) {
      extra.put("authentication.kubernetes.io/node-name", List.of(node.path("name").asText("")));
      extra.put("authentication.kubernetes.io/node-uid", List.of(node.path("uid").asText("")));
    }
    UserInfo user =
        new UserInfo(
            "system:serviceaccount:" + namespace + ":" + saName,
            saUid,
            List.of(
                "system:serviceaccounts",
                "system:serviceaccounts:" + namespace,
                UserInfo.AUTHENTICATED),
            extra);
    return TokenReviewOutcome.authenticated(user, granted);
  }

  private boolean verifies(JWSObject jws) {
    if (!JWSAlgorithm.RS256.equals(jws.getHeader().getAlgorithm())) {
      return false;
    }
    try {
      return jws.verify(new RSASSAVerifier(signingKey.toRSAPublicKey()));
    } catch (JOSEException e) {
      return false;
    }
  }

  /** The aggregate text the real API server returns: the generic error, then the specific one. */
  private static TokenReviewOutcome rejected(String cause) {
    return TokenReviewOutcome.rejected("[" + INVALID_BEARER_TOKEN + ", " + cause + "]");
  }

  private static List<String> strings(JsonNode node) {
    if (node.isTextual()) {
      return List.of(node.asText());
    }
    if (!node.isArray()) {
      return List.of();
    }
    return Json.MAPPER.convertValue(node, new TypeReference<List<String>>() {});
  }

  /** Go's {@code %q} of a string slice: {@code ["a" "b"]}. */
  static String goQuoted(List<String> values) {
    StringBuilder out = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        out.append(' ');
      }
      out.append(ClusterStore.quote(values.get(i)));
    }
    return out.append(']').toString();
  }
}
