package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.client.ClientEventListener;
import io.credbroker.client.Credential;
import io.credbroker.client.agent.AgentSettings;
import io.credbroker.client.agent.CredentialAgent;
import io.credbroker.devstack.FreePorts;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The credential agent ({@code io.credbroker.client.agent}) against the real broker: the files it
 * renders log in to PostgreSQL, a rotation rewrites them before the application is told and is
 * acknowledged only after, a broker restart is survived with the same role, and the credential is
 * released when the agent stops, whether closed in this JVM or its runnable jar is sent SIGTERM.
 */
class CredentialAgentIT {

  private static final String AUDIENCE = "credbroker";

  /** Leases live 2 s, renewable up to 6 s after issue: a rotation every few seconds. */
  private static final String SHORT_ROLE = "db1agent";

  private static final Duration DRAIN = Duration.ofSeconds(1);
  private static final Pattern JSON_FIELD = Pattern.compile("\"(\\w+)\": \"?([^\",\\n]*)\"?");

  @TempDir static Path workDir;
  @TempDir Path dir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static final AtomicInteger pods = new AtomicInteger();
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.lease.poll-interval", "200ms");
    // Long enough for a broker in this JVM to restart (about 20 s here) plus the agent's backoff.
    properties.put("credbroker.lease.reconnect-grace", "60s");
    properties.put("credbroker.lease.drain-grace", DRAIN.toMillis() + "ms");
    properties.put("credbroker.lease.revocation-retry-initial", "500ms");
    properties.put("credbroker.cluster.heartbeat-interval", "300ms");
    properties.put("credbroker.cluster.stale-after", "2s");
    properties.putAll(BrokerFixture.secondBinding(SHORT_ROLE));
    fixture =
        BrokerFixture.start(
            workDir,
            properties,
            BrokerFixture.shortLivedVaultRole(
                SHORT_ROLE, Duration.ofSeconds(2), Duration.ofSeconds(6)));
    kubernetes = fixture.devStack.kubernetes();
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @AfterEach
  void settlesWithoutOrphans() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    toClose.clear();
    OrphanCheck.assertNoOrphans(
        fixture.devStack.postgres(), "db1", "credbroker", Duration.ofSeconds(20));
  }

  @Test
  void agentWritesEveryFormatWithModeOwnerOnlyAndWhatItWroteLogsIn() throws Exception {
    Path secrets = dir.resolve("secrets");
    Path template =
        Files.writeString(
            dir.resolve("database.yml.tmpl"),
            """
        production:
          adapter: postgresql
          username: "{{ username | json }}"
          password: "{{ password | json }}"
        """);
    CredentialAgent agent =
        start(
            fixture.grpcPort,
            newPodToken(),
            ClientEventListener.NONE,
            "--file",
            secrets.resolve(".pgpass") + "=pgpass",
            "--file",
            secrets.resolve("db.env") + "=env",
            "--file",
            secrets.resolve("db.json") + "=json",
            "--file",
            secrets.resolve("conninfo") + "=conninfo",
            "--file",
            secrets.resolve("database.yml") + "=template:" + template);

    Credential credential = agent.awaitFiles(Duration.ofSeconds(20));

    Map<String, String> json = json(secrets.resolve("db.json"));
    assertThat(json)
        .containsEntry("credential_id", credential.credentialId())
        .containsEntry("username", credential.username())
        .containsEntry("host", "127.0.0.1")
        .containsEntry("database", "db1");
    // What the JSON file holds is a working login.
    assertThat(currentUser(json.get("username"), json.get("password")))
        .isEqualTo(credential.username());
    assertThat(secrets.resolve(".pgpass"))
        .hasContent(
            "127.0.0.1:"
                + json.get("port")
                + ":db1:"
                + credential.username()
                + ":"
                + json.get("password"));
    assertThat(Files.readString(secrets.resolve("db.env")))
        .contains("PGUSER='" + credential.username() + "'")
        .contains("PGPASSWORD='" + json.get("password") + "'");
    assertThat(Files.readString(secrets.resolve("conninfo")))
        .startsWith(
            "host=127.0.0.1 port="
                + json.get("port")
                + " dbname=db1 user="
                + credential.username());
    assertThat(Files.readString(secrets.resolve("database.yml")))
        .contains("username: \"" + credential.username() + "\"");
    try (var listing = Files.list(secrets)) {
      assertThat(listing)
          .allSatisfy(
              file ->
                  assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
                      .isEqualTo("rw-------"));
    }

    agent.close();

    // Closing released the credential: the role is gone at once, not after the reconnect grace.
    assertThat(fixture.roleExists(credential.username())).isFalse();
    assertThat(fixture.record(credential.credentialId()).state())
        .isEqualTo(CredentialState.RELEASED);
  }

  @Test
  void rotationRewritesTheFilesThenTellsTheApplicationAndOnlyThenAcknowledges() throws Exception {
    Path secrets = dir.resolve("secrets");
    RecordingEvents events = new RecordingEvents();
    List<String> notifiedWithUser = new CopyOnWriteArrayList<>();
    List<String> acknowledgedBeforeNotified = new CopyOnWriteArrayList<>();
    HttpServer application =
        application(
            204,
            () -> {
              Map<String, String> files;
              try {
                files = json(secrets.resolve("db.json"));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
              notifiedWithUser.add(files.get("username"));
              if (events.acknowledged.contains(files.get("credential_id"))) {
                acknowledgedBeforeNotified.add(files.get("credential_id"));
              }
            });
    CredentialAgent agent =
        start(
            fixture.grpcPort,
            newPodToken(),
            events,
            "--database-role",
            SHORT_ROLE,
            "--file",
            secrets.resolve("db.json") + "=json",
            "--notify-http",
            "http://127.0.0.1:" + application.getAddress().getPort() + "/reload");
    Credential original = agent.awaitFiles(Duration.ofSeconds(20));

    await("a rotation, acknowledged")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> events.acknowledged.stream().anyMatch(id -> !id.equals(original.credentialId())));
    String replacementId = events.acknowledged.get(0);
    Map<String, String> files = json(secrets.resolve("db.json"));
    assertThat(files.get("credential_id")).isNotEqualTo(original.credentialId());
    // The application was told with the new user already in its files, and before the
    // acknowledgement.
    assertThat(notifiedWithUser).contains(fixture.record(replacementId).username());
    assertThat(notifiedWithUser).doesNotHaveDuplicates();
    assertThat(acknowledgedBeforeNotified).isEmpty();
    assertThat(currentUser(files.get("username"), files.get("password")))
        .isEqualTo(files.get("username"));
    // The acknowledgement let the broker drop the replaced role after the drain grace.
    await("replaced role dropped")
        .atMost(DRAIN.plusSeconds(5))
        .until(() -> !fixture.roleExists(original.username()));
    assertThat(fixture.record(original.credentialId()).endReason()).isEqualTo("ROTATION");
  }

  @Test
  void aRotationTheApplicationWasNotToldOfIsNotAcknowledged() throws Exception {
    Path secrets = dir.resolve("secrets");
    RecordingEvents events = new RecordingEvents();
    AtomicInteger calls = new AtomicInteger();
    HttpServer application = application(503, calls::incrementAndGet);
    CredentialAgent agent =
        start(
            fixture.grpcPort,
            newPodToken(),
            events,
            "--database-role",
            SHORT_ROLE,
            "--file",
            secrets.resolve("db.json") + "=json",
            "--notify-http",
            "http://127.0.0.1:" + application.getAddress().getPort() + "/reload");
    Credential original = agent.awaitFiles(Duration.ofSeconds(20));
    assertThat(calls).hasValue(1);

    await("a rotation written")
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                !json(secrets.resolve("db.json"))
                    .get("credential_id")
                    .equals(original.credentialId()));
    // Tried three times (the first credential's single failed call did not count against it).
    await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() >= 4);

    assertThat(events.acknowledged).isEmpty();
    // Unacknowledged, the replaced credential is not revoked for the rotation: it runs out on its
    // own.
    await("the replaced credential ran out")
        .atMost(Duration.ofSeconds(15))
        .until(() -> fixture.record(original.credentialId()).state() != CredentialState.ACTIVE);
    assertThat(fixture.record(original.credentialId()).endReason()).isEqualTo("EXPIRED");
    assertThat(events.acknowledged).isEmpty();
    agent.close();
  }

  @Test
  void anAgentStartedOverFilesAlreadyThereTellsTheApplicationUntilItIsHeard() throws Exception {
    // The agent container restarted while the application runs on the files the previous agent
    // wrote: its new credential replaces them, and the application must hear of it. Before, a new
    // process took its first credential for one the application had not read yet: one call, its
    // failure only logged, and the application kept a password its role would lose.
    Path secrets = Files.createDirectories(dir.resolve("secrets-restarted"));
    Files.writeString(secrets.resolve("db.json"), "{}");
    AtomicInteger calls = new AtomicInteger();
    HttpServer application = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    application.createContext(
        "/reload",
        exchange -> {
          exchange.sendResponseHeaders(calls.incrementAndGet() == 1 ? 503 : 204, -1);
          exchange.close();
        });
    application.start();
    toClose.add(() -> application.stop(0));

    CredentialAgent agent =
        start(
            fixture.grpcPort,
            newPodToken(),
            new RecordingEvents(),
            "--file",
            secrets.resolve("db.json") + "=json",
            "--notify-http",
            "http://127.0.0.1:" + application.getAddress().getPort() + "/reload");

    Credential written = agent.awaitFiles(Duration.ofSeconds(20));
    assertThat(calls.get()).isGreaterThanOrEqualTo(2);
    assertThat(json(secrets.resolve("db.json")).get("credential_id"))
        .isEqualTo(written.credentialId());
    agent.close();
  }

  @Test
  void rotationSignalsTheApplicationInThePidFileAfterTheFileWasReplaced() throws Exception {
    Path secrets = dir.resolve("secrets");
    Path pgpass = secrets.resolve(".pgpass");
    Path reloads = dir.resolve("reloads");
    // An application that, on a signal, reads its .pgpass, as pgbouncer re-reads its auth file on
    // SIGHUP. USR1 here: a build started under nohup ignores SIGHUP, and a shell cannot trap a
    // signal that was ignored when it started.
    Process application =
        new ProcessBuilder(
                "/bin/sh",
                "-c",
                "trap 'cut -d: -f4 \""
                    + pgpass
                    + "\" >> \""
                    + reloads
                    + "\"' USR1; echo $$ > \""
                    + dir.resolve("app.pid")
                    + "\"; while :; do sleep 0.1; done")
            .start();
    toClose.add(application::destroyForcibly);
    await().until(() -> Files.exists(dir.resolve("app.pid")));
    RecordingEvents events = new RecordingEvents();
    CredentialAgent agent =
        start(
            fixture.grpcPort,
            newPodToken(),
            events,
            "--database-role",
            SHORT_ROLE,
            "--file",
            pgpass + "=pgpass",
            "--notify-signal",
            "USR1",
            "--notify-pid-file",
            dir.resolve("app.pid").toString());
    Credential original = agent.awaitFiles(Duration.ofSeconds(20));

    await("a rotation, acknowledged")
        .atMost(Duration.ofSeconds(20))
        .until(() -> !events.acknowledged.isEmpty());
    String replacement = fixture.record(events.acknowledged.get(0)).username();

    await("the application re-read its file")
        .atMost(Duration.ofSeconds(5))
        .until(() -> Files.exists(reloads) && Files.readAllLines(reloads).contains(replacement));
    // Each signal found the file whole: every line the application read is a user the broker
    // issued.
    assertThat(Files.readAllLines(reloads)).allSatisfy(user -> assertThat(user).startsWith("v-"));
    assertThat(Files.readAllLines(reloads)).contains(original.username());
    assertThat(application.isAlive()).isTrue();
    agent.close();
  }

  @Test
  void agentResumesItsCredentialAfterTheBrokerRestartsAndKeepsTheFiles() throws Exception {
    int port = FreePorts.next();
    BrokerFixture.Replica broker = fixture.startReplica(Map.of("credbroker.grpc.port", port));
    RecordingEvents events = new RecordingEvents();
    Path secrets = dir.resolve("secrets");
    CredentialAgent agent =
        start(port, newPodToken(), events, "--file", secrets.resolve("db.json") + "=json");
    Credential credential = agent.awaitFiles(Duration.ofSeconds(20));
    Path json = secrets.resolve("db.json");
    Object inode = Files.getAttribute(json, "unix:ino");

    broker.close();
    await("the stream broke")
        .atMost(Duration.ofSeconds(10))
        .until(() -> !events.streamFailures.isEmpty());
    try (BrokerFixture.Replica restarted =
        fixture.startReplica(Map.of("credbroker.grpc.port", port))) {
      await("resumed on the restarted broker")
          .atMost(Duration.ofSeconds(90))
          .until(() -> events.resumed.contains(credential.credentialId()));

      assertThat(fixture.record(credential.credentialId()).state())
          .isEqualTo(CredentialState.ACTIVE);
      assertThat(agent.currentCredential()).isNotNull();
      assertThat(agent.currentCredential().username()).isEqualTo(credential.username());
      // Nothing new to write: the same role, the same file.
      assertThat(Files.getAttribute(json, "unix:ino")).isEqualTo(inode);
      assertThat(currentUser(json(json).get("username"), json(json).get("password")))
          .isEqualTo(credential.username());
      agent.close();
      assertThat(fixture.roleExists(credential.username())).isFalse();
    }
  }

  @Test
  void initContainerModeWritesOneCredentialAndExitsWithoutAStream() throws Exception {
    Path secrets = dir.resolve("secrets");
    AgentSettings settings =
        AgentSettings.parse(
            arguments(
                fixture.grpcPort,
                newPodToken(),
                "--once",
                "--file",
                secrets.resolve("db.json") + "=json"));

    Credential credential = CredentialAgent.writeOnce(settings, ClientEventListener.NONE);

    Map<String, String> json = json(secrets.resolve("db.json"));
    assertThat(json.get("credential_id")).isEqualTo(credential.credentialId());
    CredentialRecord record = fixture.record(credential.credentialId());
    assertThat(record.kind()).isEqualTo(CredentialKind.ONE_SHOT);
    assertThat(record.state()).isEqualTo(CredentialState.ACTIVE);
    assertThat(currentUser(json.get("username"), json.get("password")))
        .isEqualTo(credential.username());
    // What a job does when it is done with it.
    new BrokerTestClient(fixture.channel)
        .as(
            kubernetes.issueToken(
                "public", "application", lastPod(), List.of(AUDIENCE), Duration.ofMinutes(5)))
        .releaseCredential(
            ReleaseCredentialRequest.newBuilder()
                .setCredentialId(credential.credentialId())
                .build());
  }

  @Test
  void runnableJarWritesTheFilesAndReleasesTheCredentialOnSigterm() throws Exception {
    Path secrets = dir.resolve("secrets");
    AgentProcess agent =
        AgentProcess.start(
            LIGHT_FLAGS,
            arguments(
                fixture.grpcPort, newPodToken(), "--file", secrets.resolve("db.json") + "=json"),
            dir.resolve("agent.log"));
    toClose.add(agent);

    agent.awaitFile(secrets.resolve("db.json"));
    Map<String, String> json = json(secrets.resolve("db.json"));
    assertThat(fixture.roleExists(json.get("username"))).isTrue();

    assertThat(agent.terminate()).as("exit status after SIGTERM").isEqualTo(143);

    assertThat(fixture.roleExists(json.get("username"))).isFalse();
    assertThat(fixture.record(json.get("credential_id")).state())
        .isEqualTo(CredentialState.RELEASED);
    assertThat(agent.log()).contains("wrote").doesNotContain(json.get("password"));
  }

  /**
   * Start-up and memory of the runnable jar, for the figures in load-tests/REPORT.md; runs only
   * with {@code -Dcredbroker.agent.measure=true}, as it starts the agent a dozen times. Prints,
   * asserts nothing about speed.
   */
  @Test
  void measureStartUpAndMemory() throws Exception {
    assumeThat(Boolean.getBoolean("credbroker.agent.measure"))
        .as("-Dcredbroker.agent.measure=true")
        .isTrue();
    Path archive = dir.resolve("agent.jsa");
    // The training run: the classes a start-up loads go into a dynamic AppCDS archive at exit.
    List<String> training = new ArrayList<>(LIGHT_FLAGS);
    training.add("-XX:ArchiveClassesAtExit=" + archive);
    measure("training run for AppCDS", training);
    assertThat(archive).isRegularFile();
    List<String> withCds = new ArrayList<>(LIGHT_FLAGS);
    withCds.add("-XX:SharedArchiveFile=" + archive);
    for (int round = 1; round <= 3; round++) {
      measure("default JVM flags", List.of());
      measure("light flags", LIGHT_FLAGS);
      measure("light flags + AppCDS", withCds);
    }
  }

  private void measure(String name, List<String> jvmFlags) throws Exception {
    Path secrets = Files.createTempDirectory(dir, "measure");
    Path file = secrets.resolve("db.json");
    try (AgentProcess agent =
        AgentProcess.start(
            jvmFlags,
            arguments(fixture.grpcPort, newPodToken(), "--file", file + "=json"),
            secrets.resolve("agent.log"))) {
      long millis = agent.awaitFile(file);
      // Settled: the stream is open, heartbeats arrive, nothing else happens.
      Thread.sleep(5_000);
      System.out.printf(
          "agent [%s]: files written %d ms after process start; %s; %s%n",
          name, millis, agent.memory(), agent.heap());
      assertThat(agent.terminate()).isEqualTo(143);
    }
  }

  // ---- helpers ----

  /** The JVM options the agent's image uses (client-sdk/README.md, "Credential agent"). */
  private static final List<String> LIGHT_FLAGS =
      List.of(
          "-XX:TieredStopAtLevel=1",
          "-XX:+UseSerialGC",
          "-Xss256k",
          "-Xmx32m",
          "-XX:ReservedCodeCacheSize=16m",
          "-XX:MaxMetaspaceSize=64m");

  /** The agent's runnable jar as its own process, as a container runs it. */
  private static final class AgentProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final long started;

    private AgentProcess(Process process, Path log, long started) {
      this.process = process;
      this.log = log;
      this.started = started;
    }

    static AgentProcess start(List<String> jvmFlags, String[] arguments, Path log)
        throws IOException {
      Path jar = Path.of(System.getProperty("credbroker.agent.jar", "missing"));
      assertThat(jar).as("the agent jar, built by client-sdk's package phase").isRegularFile();
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(jvmFlags);
      command.addAll(List.of("-jar", jar.toString()));
      command.addAll(List.of(arguments));
      long started = System.nanoTime();
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      return new AgentProcess(process, log, started);
    }

    /** Waits for {@code file}; returns the milliseconds since the process started. */
    long awaitFile(Path file) {
      await("the files")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(10))
          .failFast("the agent exited; see " + log, () -> !process.isAlive())
          .until(() -> Files.exists(file));
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    }

    /** Resident set size now and at its peak, from /proc. */
    String memory() throws IOException {
      String status = Files.readString(Path.of("/proc", Long.toString(process.pid()), "status"));
      return "RSS " + field(status, "VmRSS") + " (peak " + field(status, "VmHWM") + ")";
    }

    /** The Java heap in use and committed, as jcmd reports it. */
    String heap() throws IOException, InterruptedException {
      Process jcmd =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                  Long.toString(process.pid()),
                  "GC.heap_info")
              .redirectErrorStream(true)
              .start();
      String out =
          new String(jcmd.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      jcmd.waitFor(30, TimeUnit.SECONDS);
      Matcher total = Pattern.compile("total (\\d+)K, used (\\d+)K").matcher(out);
      return total.find()
          ? "heap used " + total.group(2) + "K of " + total.group(1) + "K committed"
          : out.strip();
    }

    private static String field(String status, String name) {
      Matcher m = Pattern.compile(name + ":\\s+(\\d+ kB)").matcher(status);
      return m.find() ? m.group(1) : "?";
    }

    /** SIGTERM, as the kubelet stops a container; returns the exit status. */
    int terminate() throws InterruptedException {
      process.destroy();
      assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
      return process.exitValue();
    }

    String log() throws IOException {
      return Files.readString(log);
    }

    @Override
    public void close() {
      process.destroyForcibly();
    }
  }

  private CredentialAgent start(
      int port, Path tokenFile, ClientEventListener events, String... args) {
    CredentialAgent agent =
        CredentialAgent.start(AgentSettings.parse(arguments(port, tokenFile, args)), events);
    toClose.add(agent);
    return agent;
  }

  /**
   * The agent's command line: TLS to the broker with the dev-stack's CA, database role db1 unless
   * given.
   */
  private static String[] arguments(int port, Path tokenFile, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--target", "127.0.0.1:" + port,
                "--ca-file", fixture.devStack.caCertPath().toString(),
                "--token-file", tokenFile.toString()));
    if (!List.of(more).contains("--database-role")) {
      args.addAll(List.of("--database-role", "db1"));
    }
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  /** An application's reload endpoint: runs {@code onCall}, then answers {@code status}. */
  private HttpServer application(int status, Runnable onCall) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/reload",
        exchange -> {
          try {
            onCall.run();
          } finally {
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
          }
        });
    server.start();
    toClose.add(() -> server.stop(0));
    return server;
  }

  /** The flat JSON document the agent writes, as strings. */
  private static Map<String, String> json(Path file) throws IOException {
    Map<String, String> fields = new LinkedHashMap<>();
    Matcher matcher = JSON_FIELD.matcher(Files.readString(file));
    while (matcher.find()) {
      fields.put(matcher.group(1), matcher.group(2));
    }
    return fields;
  }

  private static String currentUser(String username, String password) throws SQLException {
    try (Connection connection =
            DriverManager.getConnection(fixture.jdbcUrl("db1"), username, password);
        Statement sql = connection.createStatement();
        ResultSet rs = sql.executeQuery("SELECT current_user")) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static String lastPod() {
    return "agent-" + pods.get();
  }

  /** A projected token file for a new pod, as the kubelet would write it. */
  private Path newPodToken() throws IOException {
    String pod = "agent-" + pods.incrementAndGet();
    kubernetes.createPod("public", pod, "application");
    Path file = dir.resolve("tokens").resolve(pod).resolve("token");
    Files.createDirectories(file.getParent());
    Files.writeString(
        file,
        kubernetes.issueToken(
            "public", "application", pod, List.of(AUDIENCE), Duration.ofMinutes(10)));
    return file;
  }

  /** What the agent's SDK reported on the wire. */
  private static final class RecordingEvents implements ClientEventListener {
    final List<String> resumed = new CopyOnWriteArrayList<>();
    final List<String> rotated = new CopyOnWriteArrayList<>();
    final List<String> acknowledged = new CopyOnWriteArrayList<>();
    final List<io.grpc.Status.Code> streamFailures = new CopyOnWriteArrayList<>();

    @Override
    public void credentialReceived(
        String databaseRole, String credentialId, CredentialSource source) {
      if (source == CredentialSource.RESUMED) {
        resumed.add(credentialId);
      } else if (source == CredentialSource.ROTATED) {
        rotated.add(credentialId);
      }
    }

    @Override
    public void rotationAcknowledged(String databaseRole, String credentialId) {
      acknowledged.add(credentialId);
    }

    @Override
    public void streamFailed(
        String databaseRole, io.grpc.Status.Code code, @Nullable String reason) {
      streamFailures.add(code);
    }
  }
}
