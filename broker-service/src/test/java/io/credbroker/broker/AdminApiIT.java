package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.assertRefused;
import static io.credbroker.broker.BrokerTestClient.login;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.credbroker.api.v1.Credential;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Status;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The REST admin API on one broker through the real wire: HTTP to the broker, TokenReview and
 * SubjectAccessReview over HTTPS to the Kubernetes stand-in (its dev RBAC binds {@code ops/sre} to
 * {@code credbroker-revoker}), Vault's revocation running the role's revocation statements, and
 * PostgreSQL over JDBC.
 */
class AdminApiIT {

  private static final Duration TOKEN_TTL = Duration.ofMinutes(10);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static BrokerTestClient client;
  private static HttpClient http;
  private static String sreToken;
  private static TestPods pods;

  @BeforeAll
  static void startBroker() {
    fixture =
        BrokerFixture.start(
            workDir,
            Map.of("credbroker.revocation.undropped-check-interval", "1s"),
            devStack -> {});
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "admin-app-");
    client = new BrokerTestClient(fixture.channel);
    http = fixture.adminHttpClient();
    // What an SRE gets from `kubectl create token sre -n ops`: the API server's own audience.
    sreToken = kubernetes.issueToken("ops", "sre", null, List.of(), TOKEN_TTL);
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void sreRevokesPodSessionsEndLoginIsRefusedAndThePodGetsNothingNew() throws Exception {
    String pod = pods.create();
    String token = pods.token(pod);
    Credential credential = client.issue(token, BrokerFixture.DATABASE_ROLE);
    String neighbour = pods.create();
    Credential untouched = client.issue(pods.token(neighbour), BrokerFixture.DATABASE_ROLE);

    try (Connection session = login(credential)) {
      assertThat(session.isValid(2)).isTrue();

      HttpResponse<String> response =
          post(
              "/admin/v1/namespaces/public/pods/" + pod + "/revocations",
              sreToken,
              reason("INC-1"));

      assertThat(response.statusCode()).isEqualTo(200);
      JsonNode body = JSON.readTree(response.body());
      assertThat(body.path("namespace").asText()).isEqualTo("public");
      assertThat(body.path("podName").asText()).isEqualTo(pod);
      assertThat(body.path("blocks")).hasSize(1);
      assertThat(body.path("blocks").get(0).path("blockedBy").asText())
          .isEqualTo("system:serviceaccount:ops:sre");
      assertThat(body.path("credentials")).hasSize(1);
      JsonNode revoked = body.path("credentials").get(0);
      assertThat(revoked.path("credentialId").asText()).isEqualTo(credential.getCredentialId());
      assertThat(revoked.path("username").asText()).isEqualTo(credential.getUsername());
      assertThat(revoked.path("revokedInVault").asBoolean()).isTrue();
      assertThat(response.body()).doesNotContain(credential.getPassword());

      // Vault ran the revocation statements before the call answered: the open session is gone
      // and the role cannot log in any more.
      assertThat(session.isValid(2)).isFalse();
    }
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
    assertRefused(
        () -> client.issue(token, BrokerFixture.DATABASE_ROLE),
        Status.Code.PERMISSION_DENIED,
        "POD_REVOKED");

    // Another pod of the same service account is not affected.
    try (Connection other = login(untouched)) {
      assertThat(other.isValid(2)).isTrue();
    }
    assertThat(client.issue(pods.token(neighbour), BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotBlank();
  }

  /**
   * A revocation whose drop waits on a lock (a long report on a table the role owns) does not wait
   * for it: its roles can no longer log in at once, the role that could not be handed over is kept
   * for a later drop, and the Vault connection, which runs one operation at a time, is free again.
   */
  @Test
  void aRevocationBlockedByALockRefusesTheLoginsAtOnceAndDropsTheRoleLater() throws Exception {
    String pod = pods.create();
    String token = pods.token(pod);
    Credential slow = client.issue(token, BrokerFixture.DATABASE_ROLE);
    Credential other = client.issue(token, BrokerFixture.DATABASE_ROLE);
    String table = "held_" + pod.replace('-', '_');
    try (Connection admin = fixture.devStack.postgres().connect("db1")) {
      try (Statement sql = admin.createStatement()) {
        sql.execute("CREATE TABLE " + table + " (id int)");
        sql.execute("ALTER TABLE " + table + " OWNER TO \"" + slow.getUsername() + "\"");
      }
      // A long report holds the table: handing it to the group, in its revocation, waits for it.
      admin.setAutoCommit(false);
      try (Statement sql = admin.createStatement()) {
        sql.executeQuery("SELECT count(*) FROM " + table).close();
      }

      HttpResponse<String> response =
          post(
              "/admin/v1/namespaces/public/pods/" + pod + "/revocations",
              sreToken,
              reason("INC-9"));

      // Answered while the report still holds its lock.
      assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
      assertThat(JSON.readTree(response.body()).path("credentials")).hasSize(2);
      assertThatThrownBy(() -> login(slow).close()).isInstanceOf(SQLException.class);
      assertThatThrownBy(() -> login(other).close()).isInstanceOf(SQLException.class);
      assertThat(fixture.roleExists(slow.getUsername())).isTrue();
      assertThat(client.issue(pods.token(pods.create()), BrokerFixture.DATABASE_ROLE).getUsername())
          .as("another pod's issuance on the same Vault connection")
          .isNotBlank();
      admin.commit();
    }
    // The next revocation retries the drop, now that nothing holds the table.
    String next = pods.create();
    client.issue(pods.token(next), BrokerFixture.DATABASE_ROLE);
    assertThat(
            post("/admin/v1/namespaces/public/pods/" + next + "/revocations", sreToken, reason("x"))
                .statusCode())
        .isEqualTo(200);
    await().atMost(Duration.ofSeconds(30)).until(() -> !fixture.roleExists(slow.getUsername()));
    assertThat(fixture.roleExists(other.getUsername())).isFalse();
  }

  @Test
  void revokedRoleThatCannotBeDroppedIsListedAndCountedUntilALaterRevocationDropsIt()
      throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    String table = "kept_" + pod.replace('-', '_');
    try (Connection admin = fixture.devStack.postgres().connect("postgres");
        Statement sql = admin.createStatement()) {
      // Something of the role in another database, which DROP ROLE run in db1 cannot remove.
      sql.execute("CREATE TABLE " + table + " (id int)");
      sql.execute("ALTER TABLE " + table + " OWNER TO \"" + credential.getUsername() + "\"");
    }

    HttpResponse<String> revoked =
        post(
            "/admin/v1/namespaces/public/pods/" + pod + "/revocations", sreToken, reason("INC-10"));

    assertThat(revoked.statusCode()).as(revoked.body()).isEqualTo(200);
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
    assertThat(fixture.roleExists(credential.getUsername())).isTrue();
    await("listed by the admin API")
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                get("/admin/v1/undropped-roles", sreToken)
                    .body()
                    .contains(credential.getUsername()));
    JsonNode listed = JSON.readTree(get("/admin/v1/undropped-roles", sreToken).body());
    assertThat(listed.path("checkTime").asText()).isNotBlank();
    JsonNode item = listed.path("items").get(0);
    assertThat(item.path("username").asText()).isEqualTo(credential.getUsername());
    assertThat(item.path("databaseRole").asText()).isEqualTo(BrokerFixture.DATABASE_ROLE);
    assertThat(item.path("attempts").asInt()).isPositive();
    assertThat(item.path("lastError").asText()).contains("cannot be dropped");
    assertThat(fixture.httpGet("/actuator/prometheus").body())
        .containsPattern(
            "credbroker_revocation_undropped_roles\\{[^}]*database_role=\"db1\"[^}]*} 1\\.0");
    assertProblem(get("/admin/v1/undropped-roles", null), 401, "TOKEN_MISSING");

    try (Connection admin = fixture.devStack.postgres().connect("postgres");
        Statement sql = admin.createStatement()) {
      sql.execute("DROP TABLE " + table);
    }
    // No pod is revoked meanwhile: the broker's own check credential, revoked after each read,
    // retries the drop.
    await("dropped and no longer listed")
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                !fixture.roleExists(credential.getUsername())
                    && !get("/admin/v1/undropped-roles", sreToken)
                        .body()
                        .contains(credential.getUsername()));
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                fixture
                    .httpGet("/actuator/prometheus")
                    .body()
                    .matches(
                        "(?s).*credbroker_revocation_undropped_roles\\{[^}]*database_role=\"db1\"[^}]*} 0\\.0.*"));
  }

  @Test
  void revokingAPodTwiceRevokesNothingNewAndAnswersTheSame() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    String path = "/admin/v1/namespaces/public/pods/" + pod + "/revocations";

    HttpResponse<String> first = post(path, sreToken, reason("first"));
    HttpResponse<String> second = post(path, sreToken, reason("second"));

    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(second.body())).isEqualTo(JSON.readTree(first.body()));
    JsonNode audit =
        JSON.readTree(get("/admin/v1/audit-events?namespace=public&pod=" + pod, sreToken).body())
            .path("items");
    assertThat(audit).hasSize(2);
    // Newest first: the repeated call is on record but revoked nothing.
    assertThat(audit.get(0).path("reason").asText()).isEqualTo("second");
    assertThat(audit.get(0).path("credentialIds")).isEmpty();
    assertThat(audit.get(1).path("reason").asText()).isEqualTo("first");
    assertThat(audit.get(1).path("actor").asText()).isEqualTo("system:serviceaccount:ops:sre");
    assertThat(audit.get(1).path("usernames").get(0).asText()).isEqualTo(credential.getUsername());
  }

  @Test
  void aRevocationRepeatedOnceVaultIsBackRevokesAtOnceWhatWaitedForVault() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    String path = "/admin/v1/namespaces/public/pods/" + pod + "/revocations";

    fixture.devStack.stopVault();
    HttpResponse<String> first;
    try {
      first = post(path, sreToken, reason("INC-11"));
    } finally {
      fixture.devStack.startVault();
    }
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    assertThat(revokedInVault(first)).isFalse();
    // Vault never ran the revocation statements: the compromised pod's role still logs in. The
    // queue's next attempt is far off, as after a long outage (its backoff grows up to
    // lease.revocation-retry-max, 10 minutes by default).
    try (Connection session = login(credential)) {
      assertThat(session.isValid(2)).isTrue();
    }
    try (Connection state = fixture.devStack.postgres().connect("credbroker");
        Statement sql = state.createStatement()) {
      sql.execute(
          "UPDATE revocation_retry SET next_attempt_time = now() + interval '10 minutes'"
              + " WHERE credential_id = '"
              + credential.getCredentialId()
              + "'");
    }
    // Vault answers the broker again (its circuit to Vault has closed).
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () ->
                !client
                    .issue(pods.token(pods.create()), BrokerFixture.DATABASE_ROLE)
                    .getUsername()
                    .isBlank());

    HttpResponse<String> again = post(path, sreToken, reason("INC-11: Vault is back"));

    assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
    assertThat(revokedInVault(again)).isTrue();
    assertThat(fixture.roleExists(credential.getUsername())).isFalse();
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
  }

  private static boolean revokedInVault(HttpResponse<String> podRevocation) throws Exception {
    JsonNode credentials = JSON.readTree(podRevocation.body()).path("credentials");
    assertThat(credentials).hasSize(1);
    return credentials.get(0).path("revokedInVault").asBoolean();
  }

  @Test
  void podThatNeverAskedIsBlockedByItsUidFromKubernetesBeforeItsFirstRequest() throws Exception {
    String pod = pods.nextName();
    String uid = kubernetes.createPod("public", pod, "application");

    HttpResponse<String> response =
        post(
            "/admin/v1/namespaces/public/pods/" + pod + "/revocations",
            sreToken,
            reason("pre-emptive"));

    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.path("blocks")).hasSize(1);
    assertThat(body.path("blocks").get(0).path("podUid").asText()).isEqualTo(uid);
    assertThat(body.path("credentials")).isEmpty();
    assertRefused(
        () -> client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE),
        Status.Code.PERMISSION_DENIED,
        "POD_REVOKED");

    // The name is not blocked: a later pod of that name is another pod.
    kubernetes.deletePod("public", pod);
    kubernetes.createPod("public", pod, "application");
    assertThat(client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotBlank();
  }

  @Test
  void replacementPodWithANewUidIsNotBlocked() throws Exception {
    String pod = pods.create();
    client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    assertThat(
            post("/admin/v1/namespaces/public/pods/" + pod + "/revocations", sreToken, reason("x"))
                .statusCode())
        .isEqualTo(200);

    kubernetes.deletePod("public", pod);
    kubernetes.createPod("public", pod, "application");

    Credential replacement = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    try (Connection session = login(replacement)) {
      assertThat(session.isValid(2)).isTrue();
    }
  }

  @Test
  void whichPodHoldsPostgresUserXIsAnsweredWithoutPassword() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);

    HttpResponse<String> response =
        get("/admin/v1/credentials?username=" + credential.getUsername(), sreToken);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode items = JSON.readTree(response.body()).path("items");
    assertThat(items).hasSize(1);
    assertThat(items.get(0).path("podName").asText()).isEqualTo(pod);
    assertThat(items.get(0).path("namespace").asText()).isEqualTo("public");
    assertThat(items.get(0).path("state").asText()).isEqualTo("ACTIVE");
    assertThat(response.body()).doesNotContain(credential.getPassword()).doesNotContain("password");
    // Which replica holds it, and when the Vault token that created it dies: an issuing token of
    // the setup's default 48 h, used while more than half of its life is left.
    assertThat(items.get(0).path("ownerReplica").asText())
        .isEqualTo(fixture.broker.getBean(ReplicaId.class).value());
    Instant tokenExpire = Instant.parse(items.get(0).path("tokenExpireTime").asText());
    assertThat(tokenExpire)
        .isBetween(
            Instant.now().plus(Duration.ofHours(24)), Instant.now().plus(Duration.ofHours(48)));

    JsonNode podView =
        JSON.readTree(get("/admin/v1/namespaces/public/pods/" + pod, sreToken).body());
    assertThat(podView.path("blocks")).isEmpty();
    assertThat(podView.path("credentials").get(0).path("id").asText())
        .isEqualTo(credential.getCredentialId());
  }

  @Test
  void singleCredentialRevocationEndsItButDoesNotBlockThePod() throws Exception {
    String pod = pods.create();
    String token = pods.token(pod);
    Credential credential = client.issue(token, BrokerFixture.DATABASE_ROLE);

    HttpResponse<String> response =
        post(
            "/admin/v1/credentials/" + credential.getCredentialId() + "/revocations",
            sreToken,
            reason("leaked"));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.path("credential").path("state").asText()).isEqualTo("REVOKED");
    assertThat(body.path("revokedInVault").asBoolean()).isTrue();
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
    assertThat(client.issue(token, BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotEqualTo(credential.getUsername());
  }

  @Test
  void missingTokenIs401Problem() throws Exception {
    HttpResponse<String> response =
        post("/admin/v1/namespaces/public/pods/app-1/revocations", null, reason("x"));

    assertProblem(response, 401, "TOKEN_MISSING");
    assertThat(response.headers().firstValue("WWW-Authenticate")).contains("Bearer");
  }

  @Test
  void bareRevocationCallsAreProblemsAndAuthenticationComesFirst() throws Exception {
    String path = "/admin/v1/namespaces/public/pods/app-1/revocations";
    // No token, no body, no content type (`curl -X POST`): the token is checked first.
    assertProblem(bare(path, null, null, null), 401, "TOKEN_MISSING");
    // Authenticated, still no body: the body is what is missing.
    assertProblem(bare(path, sreToken, null, null), 400, "INVALID_REQUEST");
    // A body that is not JSON is refused as a problem too, not with the servlet's error page.
    HttpResponse<String> text = bare(path, sreToken, "text/plain", "compromised");
    assertThat(text.statusCode()).isEqualTo(415);
    assertThat(text.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).contains("application/problem+json"));
  }

  @Test
  void withoutAValidTokenAMalformedCallIs401AndItsInputIsNotJudged() throws Exception {
    String path = "/admin/v1/namespaces/public/pods/app-1/revocations";
    // Spring reads the body, the parameters and the path before the handler runs: the token must
    // be checked before that, or a caller without one learns what the API accepts.
    assertProblem(bare(path, null, "text/plain", "compromised"), 401, "TOKEN_MISSING");
    assertProblem(bare(path, null, "application/json", "{\"reason\":"), 401, "TOKEN_MISSING");
    assertProblem(bare(path, null, "application/json", "{\"reason\":\" \"}"), 401, "TOKEN_MISSING");
    assertProblem(get("/admin/v1/credentials?limit=many", null), 401, "TOKEN_MISSING");
    assertProblem(get("/admin/v1/credentials?limit=many", "not-a-token"), 401, "TOKEN_REJECTED");
    assertProblem(
        post("/admin/v1/credentials/not-a-uuid/revocations", null, reason("x")),
        401,
        "TOKEN_MISSING");
    // Authenticated, the same input is judged (Spring's own problems for a body or parameter it
    // cannot read or validate).
    for (HttpResponse<String> judged :
        List.of(
            bare(path, sreToken, "application/json", "{\"reason\":"),
            bare(path, sreToken, "application/json", "{\"reason\":\" \"}"),
            get("/admin/v1/credentials?limit=many", sreToken))) {
      assertThat(judged.statusCode()).as(judged.body()).isEqualTo(400);
      assertThat(judged.headers().firstValue("Content-Type"))
          .hasValueSatisfying(v -> assertThat(v).contains("application/problem+json"));
    }
  }

  @Test
  void rejectedTokenIs401Problem() throws Exception {
    assertProblem(get("/admin/v1/credentials", "not-a-token"), 401, "TOKEN_REJECTED");
  }

  @Test
  void callerWithoutRbacIs403ProblemAndNothingChanges() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    // A pod's own service account has no role for credentials.credbroker.io.
    String unprivileged =
        kubernetes.issueToken("public", "application", null, List.of(), TOKEN_TTL);

    HttpResponse<String> response =
        post("/admin/v1/namespaces/public/pods/" + pod + "/revocations", unprivileged, reason("x"));

    assertProblem(response, 403, "ACCESS_DENIED");
    try (Connection session = login(credential)) {
      assertThat(session.isValid(2)).isTrue();
    }
    assertThat(
            JSON.readTree(get("/admin/v1/namespaces/public/pods/" + pod, sreToken).body())
                .path("blocks"))
        .isEmpty();
  }

  @Test
  void aCallerAllowedInOneNamespaceCannotTellAForeignCredentialFromAnUnknownOne() throws Exception {
    kubernetes.createServiceAccount("ops", "auditor");
    // ops/auditor may get and list credentials in namespace ops only (the dev-stack's RBAC).
    String auditor = kubernetes.issueToken("ops", "auditor", null, List.of(), TOKEN_TTL);
    Credential foreign = client.issue(pods.token(pods.create()), BrokerFixture.DATABASE_ROLE);
    String unknown = java.util.UUID.randomUUID().toString();

    HttpResponse<String> showForeign =
        get("/admin/v1/credentials/" + foreign.getCredentialId(), auditor);
    HttpResponse<String> showUnknown = get("/admin/v1/credentials/" + unknown, auditor);
    HttpResponse<String> revokeForeign =
        post(
            "/admin/v1/credentials/" + foreign.getCredentialId() + "/revocations",
            auditor,
            reason("x"));
    HttpResponse<String> revokeUnknown =
        post("/admin/v1/credentials/" + unknown + "/revocations", auditor, reason("x"));

    for (HttpResponse<String> response :
        List.of(showForeign, showUnknown, revokeForeign, revokeUnknown)) {
      assertProblem(response, 403, "ACCESS_DENIED");
      assertThat(response.body()).doesNotContain("public");
    }
    assertThat(JSON.readTree(showForeign.body()).path("detail"))
        .isEqualTo(JSON.readTree(showUnknown.body()).path("detail"));
    assertThat(JSON.readTree(revokeForeign.body()).path("detail"))
        .isEqualTo(JSON.readTree(revokeUnknown.body()).path("detail"));
    try (Connection session = login(foreign)) {
      assertThat(session.isValid(2)).isTrue();
    }
    // Whoever may act in every namespace learns that an ID is unknown.
    assertProblem(get("/admin/v1/credentials/" + unknown, sreToken), 404, "CREDENTIAL_NOT_FOUND");
  }

  @Test
  void credentialListsPageByCursorWithinATimeWindow() throws Exception {
    String since = java.time.Instant.now().minusMillis(500).toString();
    String pod = pods.create();
    String token = pods.token(pod);
    List<String> issued = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      issued.add(client.issue(token, BrokerFixture.DATABASE_ROLE).getCredentialId());
    }
    String filter = "/admin/v1/credentials?pod=" + pod + "&since=" + since + "&limit=2";

    JsonNode first = JSON.readTree(get(filter, sreToken).body());
    assertThat(first.path("items")).hasSize(2);
    assertThat(first.path("nextCursor").isTextual()).isTrue();
    JsonNode second =
        JSON.readTree(
            get(filter + "&cursor=" + first.path("nextCursor").asText(), sreToken).body());
    assertThat(second.path("items")).hasSize(1);
    assertThat(second.path("nextCursor").isNull()).isTrue();

    List<String> seen = new ArrayList<>();
    first.path("items").forEach(c -> seen.add(c.path("id").asText()));
    second.path("items").forEach(c -> seen.add(c.path("id").asText()));
    assertThat(seen).containsExactlyInAnyOrderElementsOf(issued);
    // Newest first, across the page boundary.
    List<java.time.Instant> times = new ArrayList<>();
    first
        .path("items")
        .forEach(c -> times.add(java.time.Instant.parse(c.path("issueTime").asText())));
    second
        .path("items")
        .forEach(c -> times.add(java.time.Instant.parse(c.path("issueTime").asText())));
    assertThat(times).isSortedAccordingTo(java.util.Comparator.reverseOrder());

    JsonNode before =
        JSON.readTree(get("/admin/v1/credentials?pod=" + pod + "&until=" + since, sreToken).body());
    assertThat(before.path("items")).isEmpty();
  }

  @Test
  void malformedPagingParametersAre400Problems() throws Exception {
    String token = pods.token(pods.create());
    client.issue(token, BrokerFixture.DATABASE_ROLE);
    client.issue(token, BrokerFixture.DATABASE_ROLE);
    String credentialCursor =
        JSON.readTree(get("/admin/v1/credentials?limit=1", sreToken).body())
            .path("nextCursor")
            .asText();
    assertProblem(
        get("/admin/v1/credentials?cursor=bm90LWEtY3Vyc29y", sreToken), 400, "INVALID_REQUEST");
    // A cursor of one list is no cursor of another.
    assertProblem(
        get("/admin/v1/audit-events?cursor=" + credentialCursor, sreToken), 400, "INVALID_REQUEST");
    assertProblem(get("/admin/v1/audit-events?since=yesterday", sreToken), 400, "INVALID_REQUEST");
    assertProblem(
        get(
            "/admin/v1/revocation-queue?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            sreToken),
        400,
        "INVALID_REQUEST");
    // Authentication still comes first.
    assertProblem(get("/admin/v1/audit-events?since=yesterday", null), 401, "TOKEN_MISSING");
  }

  @Test
  void bulkDryRunListsThePodsThatWouldBeRevokedAndChangesNothing() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);

    HttpResponse<String> preview =
        post(
            "/admin/v1/revocations?dryRun=true",
            sreToken,
            "{\"namespace\":\"public\",\"serviceAccount\":\"application\"}");

    assertThat(preview.statusCode()).as(preview.body()).isEqualTo(200);
    JsonNode body = JSON.readTree(preview.body());
    assertThat(body.path("dryRun").asBoolean()).isTrue();
    List<String> usernames = new ArrayList<>();
    body.path("pods")
        .forEach(
            p -> p.path("credentials").forEach(c -> usernames.add(c.path("username").asText())));
    assertThat(usernames).contains(credential.getUsername());
    assertThat(preview.body()).doesNotContain(credential.getPassword());
    assertUntouched(pod, credential);
  }

  @Test
  void bulkRevocationWithoutASelectionOrAReasonIsA400AndRevokesNothing() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);

    assertProblem(post("/admin/v1/revocations", sreToken, reason("x")), 400, "INVALID_REQUEST");
    assertProblem(
        post(
            "/admin/v1/revocations",
            sreToken,
            "{\"serviceAccount\":\"application\",\"reason\":\"x\"}"),
        400,
        "INVALID_REQUEST");
    assertProblem(
        post("/admin/v1/revocations", sreToken, "{\"namespace\":\"public\"}"),
        400,
        "INVALID_REQUEST");
    assertProblem(
        post("/admin/v1/revocations", sreToken, "{\"namespace\":\"Public!\",\"reason\":\"x\"}"),
        400,
        "INVALID_REQUEST");
    assertProblem(bare("/admin/v1/revocations", sreToken, null, null), 400, "INVALID_REQUEST");
    assertProblem(bare("/admin/v1/revocations", null, null, null), 401, "TOKEN_MISSING");
    // A field the API does not know is refused, not dropped: before, a misspelled filter widened
    // the revocation to the whole namespace, and a dry run asked for in the body revoked for real.
    assertProblem(
        post(
            "/admin/v1/revocations",
            sreToken,
            "{\"namespace\":\"public\",\"service_account\":\"nobody\",\"reason\":\"x\"}"),
        400,
        "INVALID_REQUEST");
    assertProblem(
        post(
            "/admin/v1/revocations",
            sreToken,
            "{\"namespace\":\"public\",\"dryRun\":true,\"reason\":\"x\"}"),
        400,
        "INVALID_REQUEST");
    assertProblem(
        post(
            "/admin/v1/namespaces/public/pods/" + pod + "/revocations",
            sreToken,
            "{\"reason\":\"x\",\"dry_run\":true}"),
        400,
        "INVALID_REQUEST");

    try (Connection session = login(credential)) {
      assertThat(session.isValid(2)).isTrue();
    }
  }

  @Test
  void aReasonThatSaysNothingIsA400AndRevokesNothing() throws Exception {
    String pod = pods.create();
    Credential credential = client.issue(pods.token(pod), BrokerFixture.DATABASE_ROLE);
    String path = "/admin/v1/namespaces/public/pods/" + pod + "/revocations";

    // No-break spaces alone, which neither @NotBlank nor strip() count as white space, and no word
    // at all.
    assertProblem(post(path, sreToken, reason("\u00A0\u00A0")), 400, "INVALID_REQUEST");
    assertProblem(post(path, sreToken, reason("...")), 400, "INVALID_REQUEST");
    assertProblem(
        post("/admin/v1/revocations", sreToken, "{\"namespace\":\"nobody\",\"reason\":\"-\"}"),
        400,
        "INVALID_REQUEST");
    // A right-to-left override would show the reason reversed in the audit trail.
    HttpResponse<String> reversed = post(path, sreToken, reason("\u202Ekcah"));
    assertThat(reversed.statusCode()).as(reversed.body()).isEqualTo(400);

    assertUntouched(pod, credential);
  }

  @Test
  void viewersMayNeitherRevokeInBulkNorLiftABlock() throws Exception {
    kubernetes.createServiceAccount("ops", "auditor");
    String auditor = kubernetes.issueToken("ops", "auditor", null, List.of(), TOKEN_TTL);

    assertProblem(
        post("/admin/v1/revocations?dryRun=true", auditor, "{\"namespace\":\"ops\"}"),
        403,
        "ACCESS_DENIED");
    assertProblem(
        post("/admin/v1/namespaces/ops/pods/app/unblock", auditor, reason("x")),
        403,
        "ACCESS_DENIED");
    assertThat(post("/admin/v1/namespaces/public/pods/app/unblock", sreToken, "{}").statusCode())
        .isEqualTo(400);
    assertProblem(
        post("/admin/v1/namespaces/public/pods/never-blocked/unblock", sreToken, reason("x")),
        404,
        "POD_NOT_BLOCKED");
  }

  @Test
  void unknownPodIs404Problem() throws Exception {
    assertProblem(
        post("/admin/v1/namespaces/public/pods/never-seen/revocations", sreToken, reason("x")),
        404,
        "POD_NOT_FOUND");
    assertProblem(
        post(
            "/admin/v1/credentials/" + java.util.UUID.randomUUID() + "/revocations",
            sreToken,
            reason("x")),
        404,
        "CREDENTIAL_NOT_FOUND");
  }

  @Test
  void malformedNamesAndBodiesAre400Problems() throws Exception {
    assertProblem(
        post("/admin/v1/namespaces/Public_NS/pods/app/revocations", sreToken, reason("x")),
        400,
        "INVALID_REQUEST");
    assertProblem(
        post("/admin/v1/namespaces/public/pods/-app/revocations", sreToken, reason("x")),
        400,
        "INVALID_REQUEST");
    assertProblem(
        get("/admin/v1/credentials?username=x%27%3B%20DROP%20TABLE%20credential%3B--", sreToken),
        400,
        "INVALID_REQUEST");
    assertProblem(
        post("/admin/v1/credentials/not-a-uuid/revocations", sreToken, reason("x")),
        400,
        "INVALID_REQUEST");

    HttpResponse<String> noReason =
        post("/admin/v1/namespaces/public/pods/app/revocations", sreToken, "{}");
    assertThat(noReason.statusCode()).isEqualTo(400);
    assertThat(noReason.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).contains("application/problem+json"));
  }

  @Test
  void openApiDocumentMatchesTheCommittedCopy() throws Exception {
    HttpResponse<String> served = get("/v3/api-docs.yaml", null);
    assertThat(served.statusCode()).isEqualTo(200);
    // Kept next to the build output so that a changed API is one copy away from the committed file.
    Path copy = Path.of("target", "openapi", "admin-v1.yaml");
    Files.createDirectories(copy.getParent());
    Files.writeString(copy, served.body());

    JsonNode committed;
    try (InputStream in = AdminApiIT.class.getResourceAsStream("/openapi/admin-v1.yaml")) {
      assertThat(in).as("src/main/resources/openapi/admin-v1.yaml").isNotNull();
      committed = new YAMLMapper().readTree(in);
    }
    JsonNode live = new YAMLMapper().readTree(served.body());

    assertThat(operations(live))
        .as(
            "paths, methods, parameters and response codes; the served document is in "
                + copy.toAbsolutePath())
        .isEqualTo(operations(committed));
    assertThat(live.path("paths").size()).isEqualTo(10);
  }

  /** "METHOD path" → parameters (in:name:required), request body, response codes; sorted. */
  private static Map<String, List<String>> operations(JsonNode document) {
    Map<String, List<String>> operations = new TreeMap<>();
    document
        .path("paths")
        .fields()
        .forEachRemaining(
            path ->
                path.getValue()
                    .fields()
                    .forEachRemaining(
                        op -> {
                          List<String> facts = new ArrayList<>();
                          TreeSet<String> parameters = new TreeSet<>();
                          op.getValue()
                              .path("parameters")
                              .forEach(
                                  p ->
                                      parameters.add(
                                          p.path("in").asText()
                                              + ":"
                                              + p.path("name").asText()
                                              + ":"
                                              + p.path("required").asBoolean(false)));
                          facts.add("parameters=" + parameters);
                          facts.add(
                              "body="
                                  + op.getValue()
                                      .path("requestBody")
                                      .path("required")
                                      .asBoolean(false));
                          TreeSet<String> responses = new TreeSet<>();
                          op.getValue()
                              .path("responses")
                              .fieldNames()
                              .forEachRemaining(responses::add);
                          facts.add("responses=" + responses);
                          operations.put(op.getKey().toUpperCase() + " " + path.getKey(), facts);
                        }));
    return operations;
  }

  private static void assertProblem(HttpResponse<String> response, int status, String reason)
      throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).contains("application/problem+json"));
    JsonNode problem = JSON.readTree(response.body());
    assertThat(problem.path("status").asInt()).isEqualTo(status);
    assertThat(problem.path("reason").asText()).isEqualTo(reason);
    assertThat(problem.path("type").asText())
        .isEqualTo("/problems/" + reason.toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
    assertThat(problem.path("detail").asText()).isNotBlank();
  }

  /** The pod's credential still logs in and nothing about the pod was audited. */
  private static void assertUntouched(String pod, Credential credential) throws Exception {
    try (Connection session = login(credential)) {
      assertThat(session.isValid(2)).isTrue();
    }
    assertThat(
            JSON.readTree(
                    get("/admin/v1/audit-events?namespace=public&pod=" + pod, sreToken).body())
                .path("items"))
        .isEmpty();
  }

  private static String reason(String reason) {
    return "{\"reason\":\"" + reason + "\"}";
  }

  private static HttpResponse<String> post(String path, String token, String body)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri(path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> bare(
      String path, String token, String contentType, String body) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri(path))
            .POST(
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (contentType != null) {
      request.header("Content-Type", contentType);
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).GET();
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static URI uri(String path) {
    return fixture.adminUri(path);
  }
}
