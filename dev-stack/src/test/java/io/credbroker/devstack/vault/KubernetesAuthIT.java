package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.SignedJWT;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.Json;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.authentication.KubernetesAuthentication;
import org.springframework.vault.authentication.KubernetesAuthenticationOptions;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultMount;
import org.springframework.vault.support.VaultResponse;
import org.springframework.vault.support.VaultToken;
import org.springframework.web.client.RestClient;

/**
 * Kubernetes auth end to end: pod tokens from the Kubernetes stand-in, Spring Vault's {@link
 * KubernetesAuthentication}, and the TokenReview the Vault stand-in makes over HTTPS.
 */
class KubernetesAuthIT {

  @TempDir static Path workDir;
  static DevStack stack;
  static VaultTemplate root;
  static KubernetesApiServer kube;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    stack = DevStack.builder().workDir(workDir).start();
    kube = stack.kubernetes();
    kube.tokenLeeway(Duration.ZERO);
    root =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication("root"));
    root.opsForSys().authMount("kubernetes", VaultMount.create("kubernetes"));
    String reviewer =
        kube.issueToken("credbroker", "credential-broker", null, List.of(), Duration.ofHours(1));
    root.write(
        "auth/kubernetes/config",
        Map.of(
            "kubernetes_host", stack.kubernetesUrl(),
            "kubernetes_ca_cert", Files.readString(stack.caCertPath()),
            "token_reviewer_jwt", reviewer));
    root.write(
        "auth/kubernetes/role/app",
        Map.of(
            "bound_service_account_names", List.of("application"),
            "bound_service_account_namespaces", List.of("public"),
            "audience", "vault",
            "token_policies", List.of("app-db"),
            "token_ttl", "1h"));
  }

  @AfterAll
  static void stop() {
    stack.close();
  }

  static VaultToken login(String role, String jwt) {
    RestClient client = RestClient.builder().baseUrl(stack.vaultAddress() + "/v1/").build();
    KubernetesAuthenticationOptions options =
        KubernetesAuthenticationOptions.builder().role(role).jwtSupplier(() -> jwt).build();
    return new KubernetesAuthentication(options, client).login();
  }

  static HttpResponse<String> rawLogin(String role, String jwt) throws Exception {
    String body = Json.MAPPER.writeValueAsString(Map.of("role", role, "jwt", jwt));
    return http.send(
        HttpRequest.newBuilder(URI.create(stack.vaultAddress() + "/v1/auth/kubernetes/login"))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void podTokenLogsInAndGetsAVaultTokenShapedLikeVaults() throws Exception {
    String podUid = kube.createPod("public", "app-login", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-login", List.of("vault"), Duration.ofMinutes(10));

    VaultToken token = login("app", jwt);
    assertThat(token.getToken()).startsWith("hvs.");

    HttpResponse<String> raw = rawLogin("app", jwt);
    JsonNode auth = Json.MAPPER.readTree(raw.body()).path("auth");
    assertThat(auth.path("policies"))
        .extracting(JsonNode::asText)
        .containsExactly("app-db", "default");
    assertThat(auth.path("lease_duration").asLong()).isEqualTo(3600);
    assertThat(auth.path("renewable").asBoolean()).isTrue();
    assertThat(auth.path("orphan").asBoolean()).isTrue();
    assertThat(auth.path("token_type").asText()).isEqualTo("service");
    assertThat(auth.at("/metadata/service_account_name").asText()).isEqualTo("application");
    assertThat(auth.at("/metadata/service_account_namespace").asText()).isEqualTo("public");
    assertThat(auth.at("/metadata/role").asText()).isEqualTo("app");
    assertThat(podUid).isNotBlank();

    VaultTemplate asPod =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication(token));
    VaultResponse self = asPod.read("auth/token/lookup-self");
    assertThat(self.getRequiredData())
        .containsEntry("display_name", "kubernetes-public-application")
        .containsEntry("path", "auth/kubernetes/login");
  }

  @Test
  void aLoginsDisplayNameStartsWithItsMountPath() throws Exception {
    root.opsForSys().authMount("team/k8s", VaultMount.create("kubernetes"));
    root.write(
        "auth/team/k8s/config",
        Map.of(
            "kubernetes_host", stack.kubernetesUrl(),
            "kubernetes_ca_cert", Files.readString(stack.caCertPath()),
            "token_reviewer_jwt",
                kube.issueToken(
                    "credbroker", "credential-broker", null, List.of(), Duration.ofHours(1))));
    root.write(
        "auth/team/k8s/role/app",
        Map.of(
            "bound_service_account_names", List.of("application"),
            "bound_service_account_namespaces", List.of("public"),
            "audience", "vault"));
    kube.createPod("public", "app-team", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-team", List.of("vault"), Duration.ofMinutes(5));
    HttpResponse<String> login =
        http.send(
            HttpRequest.newBuilder(URI.create(stack.vaultAddress() + "/v1/auth/team/k8s/login"))
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        Json.MAPPER.writeValueAsString(Map.of("role", "app", "jwt", jwt))))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    String token = Json.MAPPER.readTree(login.body()).at("/auth/client_token").asText();

    VaultResponse self =
        new VaultTemplate(
                VaultEndpoint.from(URI.create(stack.vaultAddress())),
                new TokenAuthentication(token))
            .read("auth/token/lookup-self");
    assertThat(self.getRequiredData())
        .containsEntry("display_name", "team-k8s-public-application")
        .containsEntry("path", "auth/team/k8s/login");
  }

  @Test
  void wrongAudienceIsRefused() throws Exception {
    kube.createPod("public", "app-aud", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-aud", List.of("other"), Duration.ofMinutes(10));
    HttpResponse<String> r = rawLogin("app", jwt);
    assertThat(r.statusCode()).isEqualTo(403);
    assertThatThrownBy(() -> login("app", jwt))
        .isInstanceOf(org.springframework.vault.VaultException.class);
  }

  @Test
  void expiredTokenIsRefused() throws Exception {
    kube.createPod("public", "app-exp", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-exp", List.of("vault"), Duration.ofSeconds(1));
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(rawLogin("app", jwt).statusCode()).isEqualTo(403));
  }

  @Test
  void tokenSignedByAnotherKeyIsRefused() throws Exception {
    kube.createPod("public", "app-sig", "application");
    SignedJWT real =
        SignedJWT.parse(
            kube.issueToken(
                "public", "application", "app-sig", List.of("vault"), Duration.ofMinutes(10)));
    RSAKey foreign = new RSAKeyGenerator(2048).generate();
    SignedJWT forged =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(real.getHeader().getKeyID()).build(),
            real.getJWTClaimsSet());
    forged.sign(new RSASSASigner(foreign));
    HttpResponse<String> r = rawLogin("app", forged.serialize());
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("{\"errors\":[\"permission denied\"]}");
  }

  @Test
  void deletedPodsTokenIsRefused() throws Exception {
    kube.createPod("public", "app-del", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-del", List.of("vault"), Duration.ofMinutes(10));
    assertThat(rawLogin("app", jwt).statusCode()).isEqualTo(200);
    kube.deletePod("public", "app-del");
    HttpResponse<String> r = rawLogin("app", jwt);
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("{\"errors\":[\"permission denied\"]}");
  }

  @Test
  void serviceAccountOutsideTheRoleIsRefusedWithVaultsText() throws Exception {
    kube.createServiceAccount("public", "intruder");
    kube.createPod("public", "intruder-pod", "intruder");
    String jwt =
        kube.issueToken(
            "public", "intruder", "intruder-pod", List.of("vault"), Duration.ofMinutes(10));
    HttpResponse<String> r = rawLogin("app", jwt);
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("{\"errors\":[\"service account name not authorized\"]}");
  }

  @Test
  void missingFieldsAndUnknownRolesAreBadRequests() throws Exception {
    assertThat(rawLogin("", "x").body()).isEqualTo("{\"errors\":[\"missing role\"]}");
    assertThat(rawLogin("app", "").body()).isEqualTo("{\"errors\":[\"missing jwt\"]}");
    HttpResponse<String> r = rawLogin("nope", "x.y.z");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).isEqualTo("{\"errors\":[\"invalid role name \\\"nope\\\"\"]}");
  }

  @Test
  void roleWithoutAudienceIsSavedWithVaultsWarningAndReadsBack() {
    VaultResponse w =
        root.write(
            "auth/kubernetes/role/noaud",
            Map.of(
                "bound_service_account_names", "application",
                "bound_service_account_namespaces", "public"));
    assertThat(w.getWarnings())
        .singleElement()
        .asString()
        .startsWith("Role noaud does not have an audience configured");
    VaultResponse read = root.read("auth/kubernetes/role/noaud");
    assertThat(read.getRequiredData())
        .containsEntry("bound_service_account_names", List.of("application"));
    assertThat(root.read("auth/kubernetes/config").getRequiredData())
        .containsEntry("token_reviewer_jwt_set", true)
        .doesNotContainKey("token_reviewer_jwt");
  }

  @Test
  void loginTokenRenewsAndRevocationEndsIt() throws Exception {
    kube.createPod("public", "app-renew", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-renew", List.of("vault"), Duration.ofMinutes(10));
    VaultToken token = login("app", jwt);
    VaultTemplate asPod =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())), new TokenAuthentication(token));
    VaultResponse renewed = asPod.write("auth/token/renew-self", Map.of());
    assertThat(renewed.getAuth()).containsEntry("client_token", token.getToken());
    asPod.write("auth/token/revoke-self", Map.of());
    assertThatThrownBy(() -> asPod.read("auth/token/lookup-self"))
        .isInstanceOf(org.springframework.vault.VaultException.class)
        .hasMessageContaining("invalid token");
  }

  @Test
  void aRenewalGrantsWhatTheRoleSaysNowAndARoleDeletedSinceRefusesIt() throws Exception {
    // The plugin's pathLoginRenew reads the role again at every renewal: its TTL now, not the
    // login's, and no renewal once the role is gone (an operator removed the broker's access).
    Map<String, Object> role =
        Map.of(
            "bound_service_account_names", List.of("application"),
            "bound_service_account_namespaces", List.of("public"),
            "audience", "vault",
            "token_policies", List.of("app-db"),
            "token_ttl", "1h");
    root.write("auth/kubernetes/role/changing", role);
    kube.createPod("public", "app-changing", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-changing", List.of("vault"), Duration.ofMinutes(10));
    VaultTemplate asPod =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())),
            new TokenAuthentication(login("changing", jwt)));

    Map<String, Object> shorter = new java.util.HashMap<>(role);
    shorter.put("token_ttl", "60s");
    root.write("auth/kubernetes/role/changing", shorter);
    VaultResponse renewed = asPod.write("auth/token/renew-self", Map.of());
    assertThat(((Number) renewed.getAuth().get("lease_duration")).longValue()).isEqualTo(60);

    root.delete("auth/kubernetes/role/changing");
    assertThatThrownBy(() -> asPod.write("auth/token/renew-self", Map.of()))
        .isInstanceOf(org.springframework.vault.VaultException.class)
        .hasMessageContaining("Status 500")
        .hasMessageContaining("failed to renew entry: role changing does not exist during renewal");
  }

  @Test
  void aRoleAskingForTokensTheStandInCannotGiveIsRefusedNotIgnored() {
    // Vault would log such a role's pods in with a batch token, a token of limited uses or one
    // bound to client addresses; the stand-in gives none of these, so it says so when the role is
    // written instead of handing out an ordinary service token at login.
    for (Map.Entry<String, Object> setting :
        List.of(
            Map.<String, Object>entry("token_type", "batch"),
            Map.<String, Object>entry("token_num_uses", 3),
            Map.<String, Object>entry("token_bound_cidrs", List.of("10.0.0.0/8")))) {
      Map<String, Object> role = new java.util.HashMap<>();
      role.put("bound_service_account_names", List.of("application"));
      role.put("bound_service_account_namespaces", List.of("public"));
      role.put("audience", "vault");
      role.put(setting.getKey(), setting.getValue());
      assertThatThrownBy(() -> root.write("auth/kubernetes/role/unsupported", role))
          .as(setting.getKey())
          .isInstanceOf(org.springframework.vault.VaultException.class)
          .hasMessageContaining("Status 400")
          .hasMessageContaining("the dev-stack Vault stand-in does not");
    }
    assertThat(root.read("auth/kubernetes/role/unsupported")).isNull();
  }

  @Test
  void aRoleWithATokenPeriodGivesPeriodicTokensThatRenewForThePeriod() throws Exception {
    // Vault's login hands the role's token_period to the token: its TTL is the period, and only
    // an explicit max TTL bounds it. Before, the period was stored with the role and ignored.
    root.write(
        "auth/kubernetes/role/periodic",
        Map.of(
            "bound_service_account_names", List.of("application"),
            "bound_service_account_namespaces", List.of("public"),
            "audience", "vault",
            "token_policies", List.of("app-db"),
            "token_ttl", "30s",
            "token_max_ttl", "2h",
            "token_period", "1h"));
    kube.createPod("public", "app-periodic", "application");
    String jwt =
        kube.issueToken(
            "public", "application", "app-periodic", List.of("vault"), Duration.ofMinutes(10));

    JsonNode auth = Json.MAPPER.readTree(rawLogin("periodic", jwt).body()).path("auth");
    assertThat(auth.path("lease_duration").asLong()).isEqualTo(3600);
    assertThat(auth.path("renewable").asBoolean()).isTrue();
    VaultTemplate asPod =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(stack.vaultAddress())),
            new TokenAuthentication(auth.path("client_token").asText()));
    VaultResponse self = asPod.read("auth/token/lookup-self");
    assertThat(((Number) self.getRequiredData().get("period")).longValue()).isEqualTo(3600);
    assertThat(((Number) self.getRequiredData().get("explicit_max_ttl")).longValue()).isZero();

    // A renewal asking for 10 s gets the period again, not the increment.
    VaultResponse renewed = asPod.write("auth/token/renew-self", Map.of("increment", "10s"));
    assertThat(((Number) renewed.getAuth().get("lease_duration")).longValue()).isEqualTo(3600);
  }
}
