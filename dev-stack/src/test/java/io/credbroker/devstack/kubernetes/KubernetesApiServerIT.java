package io.credbroker.devstack.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import io.credbroker.devstack.http.Json;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.LocalSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.LocalSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.VersionInfo;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stand-in against clients we did not write: fabric8's KubernetesClient built from the
 * kubeconfig the server wrote, and the JDK HttpClient sending what Vault sends.
 */
class KubernetesApiServerIT {

  @TempDir static Path stateDir;

  static KubernetesApiServer server;
  static KubernetesClient admin;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    server = KubernetesApiServer.start("127.0.0.1", 0, stateDir, null);
    admin = clientWithKubeconfig();
    http = HttpClient.newBuilder().sslContext(trusting(server.caCertPath())).build();
  }

  @AfterAll
  static void stop() {
    if (admin != null) {
      admin.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @Test
  void kubeconfigAndCaAreWrittenForStandardClients() throws Exception {
    assertThat(server.kubeconfigPath()).exists();
    assertThat(server.caCertPath()).exists();
    String kubeconfig = Files.readString(server.kubeconfigPath());
    assertThat(kubeconfig)
        .contains(server.url().toString())
        .contains("certificate-authority-data")
        .contains("current-context");
    assertThat(admin.getKubernetesVersion().getGitVersion()).isEqualTo("v1.33.0");
  }

  @Test
  void versionAnswersAnonymousCallersWithEveryFieldOfA133ApiServer() throws Exception {
    HttpResponse<String> raw =
        http.send(
            HttpRequest.newBuilder(server.url().resolve("/version")).GET().build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(raw.statusCode()).isEqualTo(200);
    assertThat(raw.headers().firstValue("content-type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    assertThat(Json.MAPPER.readTree(raw.body()).fieldNames())
        .toIterable()
        .containsExactly(
            "major",
            "minor",
            "emulationMajor",
            "emulationMinor",
            "minCompatibilityMajor",
            "minCompatibilityMinor",
            "gitVersion",
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform");
    VersionInfo version = admin.getKubernetesVersion();
    assertThat(version.getMajor()).isEqualTo("1");
    assertThat(version.getMinor()).isEqualTo("33");
    assertThat(version.getEmulationMajor() + "." + version.getEmulationMinor()).isEqualTo("1.33");
    assertThat(version.getMinCompatibilityMajor() + "." + version.getMinCompatibilityMinor())
        .isEqualTo("1.32");
    assertThat(version.getBuildDate()).isNotNull();
  }

  @Test
  void adminCreatesGetsListsAndDeletesNamespacesServiceAccountsAndPods() {
    admin
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName("crud").endMetadata().build())
        .create();
    admin
        .serviceAccounts()
        .inNamespace("crud")
        .resource(
            new ServiceAccountBuilder().withNewMetadata().withName("worker").endMetadata().build())
        .create();
    Pod created =
        admin
            .pods()
            .inNamespace("crud")
            .resource(pod("worker-1", "worker", Map.of("app", "worker")))
            .create();
    admin
        .pods()
        .inNamespace("crud")
        .resource(pod("other-1", "worker", Map.of("app", "other")))
        .create();

    assertThat(created.getMetadata().getUid()).isNotBlank();
    assertThat(created.getMetadata().getResourceVersion()).isNotBlank();
    assertThat(created.getStatus().getPhase()).isEqualTo("Running");
    assertThat(created.getStatus().getPodIP()).isNotBlank();
    assertThat(
            admin.pods().inNamespace("crud").withName("worker-1").get().getSpec().getContainers())
        .singleElement()
        .satisfies(c -> assertThat(c.getImage()).isEqualTo("example/app:1"));
    assertThat(admin.namespaces().withName("crud").get().getStatus().getPhase())
        .isEqualTo("Active");
    assertThat(admin.serviceAccounts().inNamespace("crud").list().getItems())
        .extracting(sa -> sa.getMetadata().getName())
        .containsExactly("worker");
    assertThat(admin.pods().inNamespace("crud").withLabel("app", "worker").list().getItems())
        .extracting(p -> p.getMetadata().getName())
        .containsExactly("worker-1");

    admin.pods().inNamespace("crud").withName("worker-1").delete();
    assertThat(admin.pods().inNamespace("crud").withName("worker-1").get()).isNull();
    admin.namespaces().withName("crud").delete();
    assertThat(admin.namespaces().withName("crud").get()).isNull();
    assertThat(admin.pods().inNamespace("crud").list().getItems()).isEmpty();
  }

  @Test
  void creatingAPodTwiceAnswersAlreadyExistsLikeTheRealServer() {
    server.createPod("public", "dup", "application");
    assertThatThrownBy(
            () ->
                admin
                    .pods()
                    .inNamespace("public")
                    .resource(pod("dup", "application", Map.of()))
                    .create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(409);
              assertThat(e.getStatus().getReason()).isEqualTo("AlreadyExists");
              assertThat(e.getStatus().getMessage()).isEqualTo("pods \"dup\" already exists");
            });
  }

  @Test
  void tokenRequestReturnsAnRs256JwtShapedLikeAProjectedToken() throws Exception {
    String podUid = server.createPod("public", "shaped", "application");
    TokenRequest response =
        admin
            .serviceAccounts()
            .inNamespace("public")
            .withName("application")
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withAudiences("credbroker")
                    .withExpirationSeconds(900L)
                    .withNewBoundObjectRef()
                    .withKind("Pod")
                    .withApiVersion("v1")
                    .withName("shaped")
                    .endBoundObjectRef()
                    .endSpec()
                    .build());

    String token = response.getStatus().getToken();
    assertThat(response.getStatus().getExpirationTimestamp()).isNotBlank();
    JWSObject jws = JWSObject.parse(token);
    assertThat(jws.getHeader().getAlgorithm()).isEqualTo(JWSAlgorithm.RS256);
    assertThat(jws.getHeader().getKeyID()).isNotBlank();
    assertThat(jws.getHeader().getType()).isNull();
    JsonNode claims = Json.MAPPER.readTree(jws.getPayload().toString());
    assertThat(claims.get("aud").isArray()).isTrue();
    assertThat(claims.get("aud").get(0).asText()).isEqualTo("credbroker");
    assertThat(claims.get("iss").asText())
        .isEqualTo("https://kubernetes.default.svc.cluster.local");
    assertThat(claims.get("sub").asText()).isEqualTo("system:serviceaccount:public:application");
    assertThat(claims.get("exp").asLong() - claims.get("iat").asLong()).isEqualTo(900);
    assertThat(claims.get("nbf").asLong()).isEqualTo(claims.get("iat").asLong());
    assertThat(claims.get("jti").asText()).hasSize(36);
    JsonNode k8s = claims.get("kubernetes.io");
    assertThat(k8s.get("namespace").asText()).isEqualTo("public");
    assertThat(k8s.get("pod").get("name").asText()).isEqualTo("shaped");
    assertThat(k8s.get("pod").get("uid").asText()).isEqualTo(podUid);
    assertThat(k8s.get("serviceaccount").get("name").asText()).isEqualTo("application");
  }

  @Test
  void tokenRequestShorterThanTenMinutesIsRejectedAsInvalid() {
    assertThatThrownBy(
            () ->
                admin
                    .serviceAccounts()
                    .inNamespace("public")
                    .withName("application")
                    .tokenRequest(
                        new TokenRequestBuilder()
                            .withNewSpec()
                            .withExpirationSeconds(60L)
                            .endSpec()
                            .build()))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getStatus().getMessage())
                  .contains("may not specify a duration less than 10 minutes");
            });
  }

  @Test
  void tokenReviewAuthenticatesAPodBoundTokenWithPodExtras() {
    String podUid = server.createPod("public", "reviewed", "application");
    String token =
        server.issueToken(
            "public", "application", "reviewed", List.of("credbroker"), Duration.ofMinutes(10));

    TokenReview review = review(admin, token, "credbroker");

    assertThat(review.getStatus().getAuthenticated()).isTrue();
    assertThat(review.getStatus().getAudiences()).containsExactly("credbroker");
    assertThat(review.getStatus().getUser().getUsername())
        .isEqualTo("system:serviceaccount:public:application");
    assertThat(review.getStatus().getUser().getUid())
        .isEqualTo(
            admin
                .serviceAccounts()
                .inNamespace("public")
                .withName("application")
                .get()
                .getMetadata()
                .getUid());
    assertThat(review.getStatus().getUser().getGroups())
        .containsExactly(
            "system:serviceaccounts", "system:serviceaccounts:public", "system:authenticated");
    assertThat(review.getStatus().getUser().getExtra())
        .containsEntry("authentication.kubernetes.io/pod-name", List.of("reviewed"))
        .containsEntry("authentication.kubernetes.io/pod-uid", List.of(podUid))
        .containsKey("authentication.kubernetes.io/credential-id");
  }

  @Test
  void deletedPodTokenStopsValidating() {
    server.createPod("public", "doomed", "application");
    String token =
        server.issueToken(
            "public", "application", "doomed", List.of("credbroker"), Duration.ofMinutes(10));
    assertThat(review(admin, token, "credbroker").getStatus().getAuthenticated()).isTrue();

    admin.pods().inNamespace("public").withName("doomed").delete();

    TokenReview review = review(admin, token, "credbroker");
    assertThat(review.getStatus().getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(review.getStatus().getError())
        .isEqualTo("[invalid bearer token, service account token has been invalidated]");
  }

  @Test
  void recreatedPodDoesNotRevalidateTheOldPodsToken() {
    String oldUid = server.createPod("public", "phoenix", "application");
    String token =
        server.issueToken(
            "public", "application", "phoenix", List.of("credbroker"), Duration.ofMinutes(10));
    server.deletePod("public", "phoenix");
    String newUid = server.createPod("public", "phoenix", "application");

    assertThat(newUid).isNotEqualTo(oldUid);
    assertThat(review(admin, token, "credbroker").getStatus().getError())
        .isEqualTo(
            "[invalid bearer token, pod UID ("
                + newUid
                + ") does not match service account pod ref claim ("
                + oldUid
                + ")]");
  }

  @Test
  void aPersonsStaticTokenIsReviewedAsThatPersonForTheServersOwnAudienceOnly() throws Exception {
    TokenReview own =
        admin
            .resource(
                new TokenReviewBuilder()
                    .withNewSpec()
                    .withToken(server.sreToken())
                    .endSpec()
                    .build())
            .create();
    TokenReview other = review(admin, server.sreToken(), "credbroker");

    assertThat(own.getStatus().getAuthenticated()).isTrue();
    assertThat(own.getStatus().getUser().getUsername())
        .isEqualTo(KubernetesApiServer.SRE_USER)
        .isEqualTo("jane@example.com");
    assertThat(own.getStatus().getUser().getGroups())
        .containsExactly("sre", "system:authenticated");
    assertThat(own.getStatus().getAudiences()).containsExactly(KubernetesApiServer.API_AUDIENCE);
    assertThat(other.getStatus().getAuthenticated()).isNotEqualTo(Boolean.TRUE);

    // The kubeconfig's context for that person: requests act as jane@example.com, whom RBAC
    // allows the admin API's verbs (unblock included) and nothing else.
    Config config =
        Config.fromKubeconfig(KubernetesApiServer.SRE_CONTEXT, server.kubeconfigPath().toFile());
    try (KubernetesClient jane = new KubernetesClientBuilder().withConfig(config).build()) {
      assertThatThrownBy(() -> jane.namespaces().list())
          .isInstanceOf(KubernetesClientException.class)
          .hasMessageContaining("User \"jane@example.com\" cannot list resource \"namespaces\"");
    }
    SubjectAccessReview unblock =
        admin
            .authorization()
            .v1()
            .subjectAccessReview()
            .create(
                new SubjectAccessReviewBuilder()
                    .withNewSpec()
                    .withUser("jane@example.com")
                    .withGroups("sre", "system:authenticated")
                    .withNewResourceAttributes()
                    .withGroup("credbroker.io")
                    .withResource("credentials")
                    .withVerb("unblock")
                    .withNamespace("public")
                    .endResourceAttributes()
                    .endSpec()
                    .build());
    assertThat(unblock.getStatus().getAllowed()).isTrue();
  }

  @Test
  void wrongAudienceTokenIsRejected() {
    String token =
        server.issueToken("public", "application", null, List.of("vault"), Duration.ofMinutes(10));

    TokenReview review = review(admin, token, "x");

    assertThat(review.getStatus().getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(review.getStatus().getError())
        .isEqualTo(
            "[invalid bearer token, token audiences [\"vault\"] is invalid for the target audiences [\"x\"]]");
  }

  @Test
  void tokenSignedByAnotherKeyIsRejected() throws Exception {
    String genuine =
        server.issueToken(
            "public", "application", null, List.of("credbroker"), Duration.ofMinutes(10));
    JWSObject original = JWSObject.parse(genuine);
    RSAKey foreign = new RSAKeyGenerator(2048).keyID(original.getHeader().getKeyID()).generate();
    JWSObject forged =
        new JWSObject(
            new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(foreign.getKeyID()).build(),
            new Payload(original.getPayload().toJSONObject()));
    forged.sign(new RSASSASigner(foreign));

    TokenReview review = review(admin, forged.serialize(), "credbroker");

    assertThat(review.getStatus().getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(review.getStatus().getError())
        .isEqualTo("[invalid bearer token, square/go-jose: error in cryptographic primitive]");
  }

  @Test
  void brokerServiceAccountMayReviewTokensAndApplicationMayNot() throws Exception {
    String brokerToken =
        server.issueToken(
            "credbroker", "credential-broker", null, List.of(), Duration.ofMinutes(10));
    String appToken =
        server.issueToken("public", "application", null, List.of(), Duration.ofMinutes(10));
    String reviewed =
        server.issueToken(
            "public", "application", null, List.of("credbroker"), Duration.ofMinutes(10));

    try (KubernetesClient broker = clientWithToken(brokerToken);
        KubernetesClient app = clientWithToken(appToken)) {
      assertThat(review(broker, reviewed, "credbroker").getStatus().getAuthenticated()).isTrue();
      assertThatThrownBy(() -> review(app, reviewed, "credbroker"))
          .isInstanceOfSatisfying(
              KubernetesClientException.class,
              e -> {
                assertThat(e.getCode()).isEqualTo(403);
                assertThat(e.getStatus().getMessage())
                    .isEqualTo(
                        "tokenreviews.authentication.k8s.io is forbidden: User"
                            + " \"system:serviceaccount:public:application\" cannot create resource \"tokenreviews\""
                            + " in API group \"authentication.k8s.io\" at the cluster scope");
              });
    }
  }

  @Test
  void subjectAccessReviewFollowsTheRbacBindings() {
    SubjectAccessReview sre =
        admin
            .authorization()
            .v1()
            .subjectAccessReview()
            .create(
                new SubjectAccessReviewBuilder()
                    .withNewSpec()
                    .withUser("system:serviceaccount:ops:sre")
                    .withGroups(
                        "system:serviceaccounts",
                        "system:serviceaccounts:ops",
                        "system:authenticated")
                    .withNewResourceAttributes()
                    .withGroup("credbroker.io")
                    .withResource("credentials")
                    .withVerb("revoke")
                    .withNamespace("public")
                    .endResourceAttributes()
                    .endSpec()
                    .build());
    SubjectAccessReview app =
        admin
            .authorization()
            .v1()
            .subjectAccessReview()
            .create(
                new SubjectAccessReviewBuilder()
                    .withNewSpec()
                    .withUser("system:serviceaccount:public:application")
                    .withNewResourceAttributes()
                    .withGroup("credbroker.io")
                    .withResource("credentials")
                    .withVerb("revoke")
                    .endResourceAttributes()
                    .endSpec()
                    .build());

    assertThat(sre.getStatus().getAllowed()).isTrue();
    assertThat(sre.getStatus().getReason())
        .isEqualTo(
            "RBAC: allowed by ClusterRoleBinding \"ops-sre:credbroker-revoker\" of ClusterRole"
                + " \"credbroker-revoker\" to ServiceAccount \"sre/ops\"");
    assertThat(app.getStatus().getAllowed()).isFalse();
  }

  @Test
  void tokenReviewWithoutApiVersionOrKindAsVaultSendsItIsAnswered201WithEchoedAudiences()
      throws Exception {
    String token =
        server.issueToken("public", "application", null, List.of("vault"), Duration.ofMinutes(10));
    String body =
        "{\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"token\":\""
            + token
            + "\",\"audiences\":[\"vault\"]},\"status\":{\"user\":{}}}";

    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(
                    server.url().resolve("/apis/authentication.k8s.io/v1/tokenreviews"))
                .header("Authorization", "Bearer " + server.adminToken())
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(201);
    JsonNode json = Json.MAPPER.readTree(response.body());
    assertThat(json.get("kind").asText()).isEqualTo("TokenReview");
    assertThat(json.get("apiVersion").asText()).isEqualTo("authentication.k8s.io/v1");
    assertThat(json.at("/spec/token").asText()).isEqualTo(token);
    assertThat(json.at("/status/authenticated").asBoolean()).isTrue();
    assertThat(json.at("/status/audiences/0").asText()).isEqualTo("vault");
    assertThat(json.at("/status/user/uid").asText())
        .isEqualTo(
            Json.MAPPER
                .readTree(JWSObject.parse(token).getPayload().toString())
                .at("/kubernetes.io/serviceaccount/uid")
                .asText());
  }

  @Test
  void requestsWithoutAValidBearerTokenGetA401Status() throws Exception {
    for (String authorization : new String[] {null, "Bearer not-a-token"}) {
      HttpRequest.Builder request =
          HttpRequest.newBuilder(server.url().resolve("/api/v1/namespaces")).GET();
      if (authorization != null) {
        request.header("Authorization", authorization);
      }
      HttpResponse<String> response =
          http.send(request.build(), HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(401);
      JsonNode status = Json.MAPPER.readTree(response.body());
      assertThat(status.get("kind").asText()).isEqualTo("Status");
      assertThat(status.get("reason").asText()).isEqualTo("Unauthorized");
      assertThat(status.get("code").asInt()).isEqualTo(401);
    }
  }

  @Test
  void oidcDiscoveryLetsAVerifierCheckTokensOffline() throws Exception {
    // Any service account may read it (the default binding of the issuer-discovery role).
    String serviceAccount =
        "Bearer "
            + server.issueToken("public", "application", null, List.of(), Duration.ofMinutes(10));
    HttpResponse<String> discovery =
        http.send(
            HttpRequest.newBuilder(server.url().resolve("/.well-known/openid-configuration"))
                .header("Authorization", serviceAccount)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(discovery.statusCode()).isEqualTo(200);
    JsonNode config = Json.MAPPER.readTree(discovery.body());
    assertThat(config.get("issuer").asText())
        .isEqualTo("https://kubernetes.default.svc.cluster.local");

    HttpResponse<String> jwks =
        http.send(
            HttpRequest.newBuilder(URI.create(config.get("jwks_uri").asText()))
                .header("Authorization", serviceAccount)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(jwks.statusCode()).isEqualTo(200);
    assertThat(jwks.headers().firstValue("Content-Type")).hasValue("application/jwk-set+json");
    assertThat(jwks.headers().firstValue("Cache-Control")).hasValue("public, max-age=3600");

    String token =
        server.issueToken(
            "public", "application", null, List.of("credbroker"), Duration.ofMinutes(10));
    JWSObject jws = JWSObject.parse(token);
    RSAKey key = (RSAKey) JWKSet.parse(jwks.body()).getKeyByKeyId(jws.getHeader().getKeyID());
    assertThat(jws.verify(new RSASSAVerifier(key))).isTrue();
  }

  @Test
  void oidcDiscoveryIsNotForAnonymousCallersNorForPeopleWithoutTheRole() throws Exception {
    for (String path : List.of("/.well-known/openid-configuration", "/openid/v1/jwks")) {
      HttpResponse<String> anonymous =
          http.send(
              HttpRequest.newBuilder(server.url().resolve(path)).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(anonymous.statusCode()).as(path).isEqualTo(401);

      HttpResponse<String> person =
          http.send(
              HttpRequest.newBuilder(server.url().resolve(path))
                  .header("Authorization", "Bearer " + server.sreToken())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(person.statusCode()).as(path).isEqualTo(403);
      assertThat(Json.MAPPER.readTree(person.body()).get("reason").asText()).isEqualTo("Forbidden");
    }
  }

  @Test
  void expiredTokenIsRejectedOnceTheLeewayIsSpent() {
    server.tokenLeeway(Duration.ZERO);
    try {
      // Long enough to be reviewed once on a busy machine, short enough to wait out.
      String token =
          server.issueToken(
              "public", "application", null, List.of("credbroker"), Duration.ofSeconds(4));
      assertThat(review(admin, token, "credbroker").getStatus().getAuthenticated()).isTrue();

      Awaitility.await()
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () ->
                  assertThat(review(admin, token, "credbroker").getStatus().getError())
                      .isEqualTo("[invalid bearer token, service account token has expired]"));
    } finally {
      server.tokenLeeway(Duration.ofSeconds(60));
    }
  }

  @Test
  void deletingANamespaceInvalidatesTheTokensOfItsServiceAccountsAndPods() {
    server.createNamespace("short-lived");
    server.createServiceAccount("short-lived", "worker");
    server.createPod("short-lived", "w-1", "worker");
    String podToken =
        server.issueToken(
            "short-lived", "worker", "w-1", List.of("credbroker"), Duration.ofMinutes(10));

    admin.namespaces().withName("short-lived").delete();

    TokenReview review = review(admin, podToken, "credbroker");
    assertThat(review.getStatus().getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(review.getStatus().getError())
        .isEqualTo("[invalid bearer token, serviceaccounts \"worker\" not found]");
  }

  @Test
  void podsCannotBeCreatedInAMissingNamespaceOrWithAMissingServiceAccount() {
    assertThatThrownBy(
            () ->
                admin
                    .pods()
                    .inNamespace("nowhere")
                    .resource(pod("p", "default", Map.of()))
                    .create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(404);
              assertThat(e.getStatus().getMessage()).isEqualTo("namespaces \"nowhere\" not found");
            });
    assertThatThrownBy(
            () -> admin.pods().inNamespace("public").resource(pod("p", "ghost", Map.of())).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
    assertThat(admin.pods().inNamespace("public").withName("p").get()).isNull();
  }

  @Test
  void localSubjectAccessReviewEvaluatesRoleBindingsOfItsNamespace() {
    LocalSubjectAccessReview review =
        admin
            .authorization()
            .v1()
            .localSubjectAccessReview()
            .inNamespace("ops")
            .create(
                new LocalSubjectAccessReviewBuilder()
                    .withNewMetadata()
                    .withNamespace("ops")
                    .endMetadata()
                    .withNewSpec()
                    .withUser("system:serviceaccount:ops:sre")
                    .withNewResourceAttributes()
                    .withNamespace("ops")
                    .withGroup("credbroker.io")
                    .withResource("credentials")
                    .withVerb("list")
                    .endResourceAttributes()
                    .endSpec()
                    .build());

    assertThat(review.getStatus().getAllowed()).isTrue();
  }

  @Test
  void subjectAccessReviewWithoutUserOrGroupsIsInvalid() {
    assertThatThrownBy(
            () ->
                admin
                    .authorization()
                    .v1()
                    .subjectAccessReview()
                    .create(
                        new SubjectAccessReviewBuilder()
                            .withNewSpec()
                            .withNewNonResourceAttributes()
                            .withPath("/api")
                            .withVerb("get")
                            .endNonResourceAttributes()
                            .endSpec()
                            .build()))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getStatus().getReason()).isEqualTo("Invalid");
              assertThat(e.getStatus().getMessage())
                  .contains("at least one of user or group must be specified");
            });
  }

  @Test
  void discoveryListsTheServedGroupsAndResources() {
    assertThat(admin.getApiGroups().getGroups())
        .extracting(g -> g.getName())
        .contains("authentication.k8s.io", "authorization.k8s.io");
    assertThat(admin.getApiResources("v1").getResources())
        .extracting(r -> r.getName())
        .contains("pods", "namespaces", "serviceaccounts", "serviceaccounts/token");
    assertThat(admin.getApiResources("authentication.k8s.io/v1").getResources())
        .extracting(r -> r.getName())
        .contains("tokenreviews");
  }

  // ---------------------------------------------------------------- helpers

  static TokenReview review(KubernetesClient client, String token, String audience) {
    return client
        .resource(
            new TokenReviewBuilder()
                .withNewSpec()
                .withToken(token)
                .withAudiences(audience)
                .endSpec()
                .build())
        .create();
  }

  static Pod pod(String name, String serviceAccount, Map<String, String> labels) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withServiceAccountName(serviceAccount)
        .addNewContainer()
        .withName("app")
        .withImage("example/app:1")
        .endContainer()
        .endSpec()
        .build();
  }

  static KubernetesClient clientWithKubeconfig() throws Exception {
    Config config = Config.fromKubeconfig(Files.readString(server.kubeconfigPath()));
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  static KubernetesClient clientWithToken(String token) throws Exception {
    Config config =
        new ConfigBuilder(Config.fromKubeconfig(Files.readString(server.kubeconfigPath())))
            .withOauthToken(token)
            .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  static SSLContext trusting(Path caCert) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(caCert)) {
      trust.setCertificateEntry(
          "ca", (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    return ssl;
  }
}
