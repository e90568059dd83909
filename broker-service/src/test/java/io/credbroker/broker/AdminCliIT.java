package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.assertRefused;
import static io.credbroker.broker.BrokerTestClient.login;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.credbroker.api.v1.Credential;
import io.credbroker.broker.cli.AdminCli;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code admin} command line against a real broker, through the real wire: the CLI reads the
 * dev stack's kubeconfig (context {@code credbroker-dev-sre}: the person {@code jane@example.com},
 * a static token, bound to {@code credbroker-revoker}), calls the admin API over TLS verified for
 * the Service's name, and the broker asks the Kubernetes stand-in (TokenReview,
 * SubjectAccessReview), Vault and PostgreSQL. Each command runs in-process with its output
 * captured.
 */
class AdminCliIT {

  private static final Duration TOKEN_TTL = Duration.ofMinutes(10);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PERSON = KubernetesApiServer.SRE_USER;

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static BrokerTestClient client;
  private static HttpClient http;
  private static final AtomicInteger pods = new AtomicInteger();

  @BeforeAll
  static void startBroker() {
    // Namespace batch (service accounts worker and application) may have db1 too, so that the
    // bulk revocations have a namespace of their own.
    fixture =
        BrokerFixture.start(
            workDir,
            Map.of(
                "credbroker.bindings[0].namespaces[1]", "batch",
                "credbroker.bindings[0].service-accounts[1]", "worker"),
            devStack -> {
              devStack.kubernetes().createNamespace("batch");
              devStack.kubernetes().createServiceAccount("batch", "worker");
              devStack.kubernetes().createServiceAccount("batch", "application");
            });
    kubernetes = fixture.devStack.kubernetes();
    client = new BrokerTestClient(fixture.channel);
    http = fixture.adminHttpClient();
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void whoFindsThePodOfAPostgresUserAndRevokePodEndsItsSessionsAsThePerson() throws Exception {
    String pod = newPod("public", "application");
    String token = podToken("public", "application", pod);
    Credential credential = client.issue(token, BrokerFixture.DATABASE_ROLE);

    try (Connection session = login(credential)) {
      // The README's walkthrough: the user name as pg_stat_activity shows it to the DBA.
      String seen = pgStatActivityUser();
      assertThat(seen).isEqualTo(credential.getUsername());

      Run who = cli("", "who", seen);
      assertThat(who.code).as(who.err).isZero();
      assertThat(who.out).contains("public", pod, credential.getUsername(), "ACTIVE");
      assertThat(who.out).contains("revoke pod public/" + pod + " --reason");
      assertThat(who.out).doesNotContain(credential.getPassword());

      Run revoke =
          cli(
              "",
              "revoke",
              "pod",
              "public/" + pod,
              "--reason",
              "INC-7: user seen in pg_stat_activity");
      assertThat(revoke.code).as(revoke.err).isZero();
      assertThat(revoke.out)
          .contains("Pod public/" + pod + " is blocked", PERSON, credential.getUsername());
      assertThat(session.isValid(2)).isFalse();
    }
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
    assertRefused(
        () -> client.issue(token, BrokerFixture.DATABASE_ROLE),
        Status.Code.PERMISSION_DENIED,
        "POD_REVOKED");

    // The audit trail names the person, not a shared account: in the CLI and in the API itself.
    Run audit = cli("", "audit", "-n", "public", "--pod", pod);
    assertThat(audit.out)
        .contains(
            PERSON,
            "POD_REVOKED",
            "INC-7: user seen in pg_stat_activity",
            credential.getUsername());
    JsonNode events =
        JSON.readTree(get("/admin/v1/audit-events?namespace=public&pod=" + pod).body())
            .path("items");
    assertThat(events).hasSize(1);
    assertThat(events.get(0).path("actor").asText()).isEqualTo(PERSON);

    Run show = cli("", "pod", "public/" + pod);
    assertThat(show.code).isZero();
    assertThat(show.out).contains("BLOCKED", "REVOKED", PERSON, "POD_REVOKED");
  }

  @Test
  void bulkRevocationShowsWhatItWillRevokeAndChangesNothingUnlessTheOperatorSaysYes()
      throws Exception {
    String worker1 = newPod("batch", "worker");
    String worker2 = newPod("batch", "worker");
    String other = newPod("batch", "application");
    Credential w1 = client.issue(podToken("batch", "worker", worker1), BrokerFixture.DATABASE_ROLE);
    Credential w2 = client.issue(podToken("batch", "worker", worker2), BrokerFixture.DATABASE_ROLE);
    Credential a =
        client.issue(podToken("batch", "application", other), BrokerFixture.DATABASE_ROLE);

    Run declined =
        cli("no\n", "revoke", "service-account", "worker", "-n", "batch", "--reason", "INC-8");
    assertThat(declined.code).isEqualTo(3);
    assertThat(declined.out)
        .contains("Would revoke", worker1, worker2, w1.getUsername(), w2.getUsername());
    assertThat(declined.out).doesNotContain(other);
    assertThat(declined.err).contains("Revoke 2 pod(s)", "Nothing changed.");
    try (Connection s1 = login(w1);
        Connection s2 = login(w2)) {
      assertThat(s1.isValid(2)).isTrue();
      assertThat(s2.isValid(2)).isTrue();
    }
    assertThat(JSON.readTree(get("/admin/v1/audit-events?namespace=batch").body()).path("items"))
        .isEmpty();

    Run confirmed =
        cli("yes\n", "revoke", "service-account", "worker", "-n", "batch", "--reason", "INC-8");
    assertThat(confirmed.code).as(confirmed.err).isZero();
    assertThat(confirmed.out).contains("Revoked 2 pod(s)", worker1, worker2);
    assertThatThrownBy(() -> login(w1).close()).isInstanceOf(SQLException.class);
    assertThatThrownBy(() -> login(w2).close()).isInstanceOf(SQLException.class);
    try (Connection untouched = login(a)) {
      assertThat(untouched.isValid(2)).isTrue();
    }
    JsonNode events =
        JSON.readTree(get("/admin/v1/audit-events?namespace=batch").body()).path("items");
    assertThat(events).hasSize(2);
    events.forEach(
        e -> {
          assertThat(e.path("actor").asText()).isEqualTo(PERSON);
          assertThat(e.path("reason").asText()).isEqualTo("INC-8");
        });

    // --yes: no question; the rest of the namespace goes.
    Run namespace = cli("", "revoke", "namespace", "batch", "--reason", "INC-8 widened", "--yes");
    assertThat(namespace.code).as(namespace.err).isZero();
    assertThat(namespace.err).doesNotContain("Type 'yes'");
    assertThat(namespace.out).contains("Revoked 1 pod(s)", other);
    assertThatThrownBy(() -> login(a).close()).isInstanceOf(SQLException.class);

    Run nothingLeft = cli("", "revoke", "namespace", "batch", "--reason", "again", "--yes");
    assertThat(nothingLeft.code).isZero();
    assertThat(nothingLeft.err).contains("Nothing to revoke");
  }

  @Test
  void oneCredentialIsRevokedWithoutBlockingItsPodAndADatabaseRoleIsPreviewedAcrossItsPods()
      throws Exception {
    String pod = newPod("public", "application");
    String token = podToken("public", "application", pod);
    Credential credential = client.issue(token, BrokerFixture.DATABASE_ROLE);

    Run revoke =
        cli(
            "",
            "revoke",
            "credential",
            credential.getCredentialId(),
            "--reason",
            "INC-10: leaked in a log");
    assertThat(revoke.code).as(revoke.err).isZero();
    assertThat(revoke.out).contains(credential.getUsername(), "REVOKED", "revoked in Vault");
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
    Credential next = client.issue(token, BrokerFixture.DATABASE_ROLE);

    Run preview =
        cli(
            "no\n",
            "revoke",
            "database-role",
            BrokerFixture.DATABASE_ROLE,
            "-n",
            "public",
            "--reason",
            "x");
    assertThat(preview.code).isEqualTo(3);
    assertThat(preview.out)
        .contains("database role db1 in namespace public", pod, next.getUsername());
    try (Connection session = login(next)) {
      assertThat(session.isValid(2)).isTrue();
    }
  }

  @Test
  void liftingABlockIsConfirmedAuditedAndLetsThePodObtainCredentialsAgain() throws Exception {
    String pod = newPod("public", "application");
    String token = podToken("public", "application", pod);
    client.issue(token, BrokerFixture.DATABASE_ROLE);
    assertThat(cli("", "revoke", "pod", pod, "-n", "public", "--reason", "INC-9").code).isZero();

    Run declined = cli("\n", "unblock", "public/" + pod, "--reason", "INC-9 false alarm");
    assertThat(declined.code).isEqualTo(3);
    assertThat(declined.out).contains("is blocked", "INC-9");
    assertRefused(
        () -> client.issue(token, BrokerFixture.DATABASE_ROLE),
        Status.Code.PERMISSION_DENIED,
        "POD_REVOKED");

    Run lifted = cli("yes\n", "unblock", "public/" + pod, "--reason", "INC-9 false alarm");
    assertThat(lifted.code).as(lifted.err).isZero();
    assertThat(lifted.out).contains("Lifted 1 block(s)");
    assertThat(client.issue(token, BrokerFixture.DATABASE_ROLE).getUsername()).isNotBlank();

    JsonNode latest =
        JSON.readTree(get("/admin/v1/audit-events?namespace=public&pod=" + pod).body())
            .path("items")
            .get(0);
    assertThat(latest.path("action").asText()).isEqualTo("POD_UNBLOCKED");
    assertThat(latest.path("actor").asText()).isEqualTo(PERSON);
    assertThat(latest.path("reason").asText()).isEqualTo("INC-9 false alarm");

    Run again = cli("", "unblock", "public/" + pod, "--reason", "x", "--yes");
    assertThat(again.code).isEqualTo(1);
    assertThat(again.err).contains("404", "POD_NOT_BLOCKED");
  }

  @Test
  void aCallerWithoutRbacIsRefusedAndNothingChanges() throws Exception {
    String pod = newPod("public", "application");
    Credential credential =
        client.issue(podToken("public", "application", pod), BrokerFixture.DATABASE_ROLE);
    Path kubeconfig =
        kubeconfig(
            "token: " + kubernetes.issueToken("public", "application", null, List.of(), TOKEN_TTL));

    Run revoke = cliWith(kubeconfig, "", "revoke", "pod", "public/" + pod, "--reason", "x");
    Run unblock = cliWith(kubeconfig, "", "unblock", "public/" + pod, "--reason", "x", "--yes");
    Run bulk = cliWith(kubeconfig, "", "revoke", "namespace", "public", "--reason", "x", "--yes");

    for (Run run : List.of(revoke, unblock, bulk)) {
      assertThat(run.code).isEqualTo(1);
      assertThat(run.err)
          .contains("HTTP 403 ACCESS_DENIED", "system:serviceaccount:public:application");
    }
    try (Connection session = login(credential)) {
      assertThat(session.isValid(2)).isTrue();
    }
  }

  @Test
  void aKubeconfigUserWithOnlyAClientCertificateIsRefusedWithTheReason() throws Exception {
    Path kubeconfig =
        kubeconfig(
            "client-certificate-data: "
                + Base64.getEncoder()
                    .encodeToString(Files.readAllBytes(fixture.devStack.caCertPath()))
                + "\n      client-key-data: "
                + Base64.getEncoder().encodeToString("k".getBytes()));

    Run run = cliWith(kubeconfig, "", "queue");

    assertThat(run.code).isEqualTo(1);
    assertThat(run.err).contains("client certificate", "bearer tokens", "TokenReview");
  }

  @Test
  void listsPageWithACursorAndATimeWindow() throws Exception {
    // The window starts now, so that the other tests' actions are outside it.
    String since = java.time.Instant.now().minusMillis(500).toString();
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      String pod = newPod("public", "application");
      client.issue(podToken("public", "application", pod), BrokerFixture.DATABASE_ROLE);
      assertThat(cli("", "revoke", "pod", "public/" + pod, "--reason", "page-" + i).code).isZero();
      names.add(pod);
    }

    Run first = cli("", "audit", "-n", "public", "--since", since, "--limit", "2");
    assertThat(first.out).contains(names.get(2), names.get(1)).doesNotContain("page-0");
    String more = first.err.lines().filter(l -> l.startsWith("More:")).findFirst().orElseThrow();
    assertThat(more).contains("--since " + java.time.Instant.parse(since));
    List<String> next = new ArrayList<>(List.of("audit", "-n", "public", "--limit", "2"));
    next.addAll(List.of(more.substring(more.indexOf("--cursor")).split(" ")));
    Run second = cli("", next.toArray(String[]::new));
    assertThat(second.code).as(second.err).isZero();
    assertThat(second.out).contains("page-0").doesNotContain("page-1", "page-2");

    Run future = cli("", "audit", "-n", "public", "--since", "2099-01-01T00:00:00Z");
    assertThat(future.err).contains("Nothing found.");

    Run json = cli("", "-o", "json", "credentials", "-n", "public", "--pod", names.get(0));
    JsonNode answer = JSON.readTree(json.out);
    assertThat(answer.path("items")).hasSize(1);
    assertThat(answer.path("items").get(0).path("state").asText()).isEqualTo("REVOKED");
    assertThat(answer.path("nextCursor").isNull()).isTrue();
  }

  @Test
  void theSmallCliJarRunsOnItsOwnAgainstTheBroker() throws Exception {
    Path jar = Path.of("target", "credential-broker-cli.jar");
    assertThat(jar).as("built by the package phase").exists();
    String pod = newPod("public", "application");
    Credential credential =
        client.issue(podToken("public", "application", pod), BrokerFixture.DATABASE_ROLE);

    Process process =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                jar.toString(),
                "--kubeconfig",
                fixture.devStack.kubeconfigPath().toString(),
                "--context",
                KubernetesApiServer.SRE_CONTEXT,
                "--server",
                "https://127.0.0.1:" + fixture.adminPort,
                "--ca-file",
                fixture.devStack.caCertPath().toString(),
                "--tls-server-name",
                "credential-broker.credbroker.svc",
                "who",
                credential.getUsername())
            .redirectErrorStream(true)
            .start();
    process.getOutputStream().close();
    String output =
        new String(
            process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);

    assertThat(process.waitFor()).as(output).isZero();
    assertThat(output).contains(pod, credential.getUsername(), "ACTIVE");
    // Only the command line and what it needs: no Spring, no broker.
    try (java.util.jar.JarFile file = new java.util.jar.JarFile(jar.toFile())) {
      assertThat(file.stream().map(java.util.jar.JarEntry::getName))
          .noneMatch(name -> name.startsWith("org/springframework/"))
          .noneMatch(name -> name.startsWith("io/credbroker/broker/revocation/"))
          .contains("io/credbroker/broker/cli/AdminCli.class");
    }
  }

  @Test
  void theQueueSaysWhenVaultConfirmedEverything() {
    Run run = cli("", "queue");
    assertThat(run.code).as(run.err).isZero();
    assertThat(run.out).contains("The revocation queue is empty");
  }

  @Test
  void aServerNameTheBrokersCertificateDoesNotCarryIsRefusedBeforeAnyRequest() {
    // Signed by the same CA, and valid for the URL's host 127.0.0.1, but not for this name.
    Run run =
        cliForName(
            fixture.devStack.kubeconfigPath(),
            "another-service.credbroker.svc",
            "",
            "--context",
            KubernetesApiServer.SRE_CONTEXT,
            "queue");

    assertThat(run.code).as(run.err).isNotZero();
    assertThat(run.err)
        .contains("TLS to https://127.0.0.1:" + fixture.adminPort + " failed")
        .contains("--tls-server-name");
    assertThat(run.out).doesNotContain("revocation queue");
  }

  /** The README's query, as the database superuser: the brokered user of the one session on db1. */
  private static String pgStatActivityUser() throws SQLException {
    var postgres = fixture.devStack.postgres();
    try (Connection dba =
            java.sql.DriverManager.getConnection(
                postgres.jdbcUrl("db1"), postgres.adminUser(), postgres.adminPassword());
        var rows =
            dba.createStatement()
                .executeQuery(
                    "select usename, client_addr, backend_start, query from pg_stat_activity"
                        + " where usename like 'v-%' and datname = 'db1'")) {
      List<String> users = new ArrayList<>();
      while (rows.next()) {
        users.add(rows.getString("usename"));
      }
      assertThat(users).hasSize(1);
      return users.get(0);
    }
  }

  private record Run(int code, String out, String err) {}

  /** The CLI as the dev stack's SRE, through a TLS connection verified for the Service's name. */
  private static Run cli(String stdin, String... args) {
    return cliWith(
        fixture.devStack.kubeconfigPath(),
        stdin,
        prepend(args, "--context", KubernetesApiServer.SRE_CONTEXT));
  }

  private static Run cliWith(Path kubeconfig, String stdin, String... args) {
    return cliForName(kubeconfig, "credential-broker.credbroker.svc", stdin, args);
  }

  /** The CLI verifying the broker's certificate for {@code tlsServerName}. */
  private static Run cliForName(
      Path kubeconfig, String tlsServerName, String stdin, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all =
        prepend(
            args,
            "--kubeconfig",
            kubeconfig.toString(),
            "--server",
            "https://127.0.0.1:" + fixture.adminPort,
            "--ca-file",
            fixture.devStack.caCertPath().toString(),
            "--tls-server-name",
            tlsServerName);
    int code =
        AdminCli.run(
            all,
            new BufferedReader(new StringReader(stdin)),
            new PrintWriter(out),
            new PrintWriter(err),
            Clock.systemUTC());
    return new Run(code, out.toString(), err.toString());
  }

  private static String[] prepend(String[] args, String... first) {
    List<String> all = new ArrayList<>(List.of(first));
    all.addAll(List.of(args));
    return all.toArray(String[]::new);
  }

  /** A kubeconfig for the dev stack's cluster whose one user has {@code userYaml}. */
  private static Path kubeconfig(String userYaml) throws Exception {
    Path file = Files.createTempFile(workDir, "kubeconfig", ".yaml");
    Files.writeString(
        file,
        "apiVersion: v1\nkind: Config\ncurrent-context: other\n"
            + "clusters:\n- name: dev\n  cluster:\n    server: "
            + kubernetes.url()
            + "\n"
            + "    certificate-authority: "
            + fixture.devStack.caCertPath()
            + "\n"
            + "users:\n- name: other\n  user:\n      "
            + userYaml
            + "\n"
            + "contexts:\n- name: other\n  context:\n    cluster: dev\n    user: other\n");
    return file;
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(fixture.adminUri(path))
            .header("Authorization", "Bearer " + kubernetes.sreToken())
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String newPod(String namespace, String serviceAccount) {
    String name = "cli-app-" + pods.incrementAndGet();
    kubernetes.createPod(namespace, name, serviceAccount);
    return name;
  }

  private static String podToken(String namespace, String serviceAccount, String pod) {
    return kubernetes.issueToken(namespace, serviceAccount, pod, List.of("credbroker"), TOKEN_TTL);
  }
}
