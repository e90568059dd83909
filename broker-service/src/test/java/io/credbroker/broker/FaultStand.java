package io.credbroker.broker;

import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import io.credbroker.broker.setup.VaultSetupOptions;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.hikari.RotatingDataSource;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import io.credbroker.devstack.network.ServiceProxy;
import io.credbroker.devstack.network.TcpProxy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The system the fault suite breaks: the dev-stack (embedded PostgreSQL, the Vault and Kubernetes
 * stand-ins), three broker replicas from the packaged jar, and applications that run queries the
 * whole time through the client SDK's {@link RotatingDataSource}.
 *
 * <p>Every path a fault can cut goes through a {@link TcpProxy}: each replica reaches its state
 * database, Vault and the Kubernetes API through proxies of its own (so one replica can be cut off
 * from everything while its clients stay connected to it), and Vault reaches the target database
 * through one more (so Vault can fail to create and drop roles while the applications still reach
 * it). The applications connect to PostgreSQL directly, and to the replicas through a Kubernetes
 * Service ({@link ServiceProxy}) whose endpoints are the replicas' gRPC ports, each in it while its
 * management port's {@code /actuator/health/readiness} passes the kubelet's probe ({@link
 * #READINESS}). Slow and failing answers come from the stand-ins' own {@code HttpFaults}.
 *
 * <p>Every replica logs at DEBUG what could carry a secret: the broker, Spring, gRPC, Netty, the
 * Vault HTTP client (headers and wire), the Kubernetes client and the JDBC driver.
 *
 * <p>Lifecycle: {@link #start} brings everything up and waits until every application has run a
 * query; {@link #close} stops it all. Used from the test thread only, except the applications' own
 * query threads.
 */
final class FaultStand implements AutoCloseable {

  static final String ROLE = "db1";

  /**
   * Vault's default and maximum credential lifetimes. The broker renews at about 2/3 of the TTL (up
   * to 10 % earlier), so a lease survives an outage of Vault of up to about a quarter of it: {@code
   * FaultSuiteIT}'s outages stay shorter.
   */
  static final Duration CREDENTIAL_TTL = Duration.ofSeconds(30);

  static final Duration CREDENTIAL_MAX_TTL = Duration.ofSeconds(90);

  /** When the broker first renews a lease of {@link #CREDENTIAL_TTL} (renewal-fraction 0.66). */
  static final Duration RENEWAL_INTERVAL = Duration.ofMillis(CREDENTIAL_TTL.toMillis() * 66 / 100);

  static final Duration STALE_AFTER = Duration.ofSeconds(3);
  static final Duration RECONNECT_GRACE = Duration.ofSeconds(5);
  static final Duration DRAIN_GRACE = Duration.ofSeconds(1);
  static final Duration VAULT_READ_TIMEOUT = Duration.ofMillis(3000);
  static final int APPLICATIONS = 6;

  /**
   * Each replica's {@code credbroker.limits.token-reviews-per-second}, below the chart's 100. With
   * 100, a burst of junk tokens on this small machine got about 250 TokenReviews a second done,
   * close to the three replicas' bound of 300 and near what the machine can do at all, so a check
   * of the bound could hardly fail. At 25 (a bound of 75 a second) it can. The applications' own
   * reviews are a few a minute.
   */
  static final int TOKEN_REVIEWS_PER_SECOND = 25;

  /**
   * Each replica's readiness probe, scaled with the timings above the way the Helm chart's defaults
   * relate to the chart's own: {@code probes.readiness} (every 5 s, 3 s timeout, out after 3
   * failures) with {@code staleAfter} 15 s and {@code reconnectGrace} 2 m. There a replica that
   * stops answering (a frozen JVM, a node cut off) is out of the Service after at most 3 x 5 s (+3
   * s), at about the time the others claim its credentials, and its clients, whose new connections
   * the Service then sends to a ready replica, have the whole reconnect grace after the claim to
   * resume. Here the reconnect grace is less than twice the stale timeout (there eight times), so
   * the replica must be out well before the claim, not at about it: every 1 s, 1 s timeout (the
   * kubelet's minimum), out after 2 failures, so 2-3 s after its last answer (2.1-3.0 s seen), by
   * the time {@link #STALE_AFTER} has passed, and the whole {@link #RECONNECT_GRACE} is left after
   * the claim. With 3 failures as in the chart it would leave only at about the claim, and a client
   * whose new connection went to it once more would lose one more stream idle timeout (3 s) of the
   * 5 s grace. Back in after one success, as in the chart.
   */
  static final ServiceProxy.ReadinessProbe READINESS =
      new ServiceProxy.ReadinessProbe(Duration.ofSeconds(1), Duration.ofSeconds(1), 2, 1);

  private static final String AUDIENCE = "credbroker";
  private static final List<String> STARTUP_DEBUG_LOGGERS =
      List.of(
          "io.credbroker",
          "org.springframework.vault",
          "org.springframework.web",
          "io.grpc",
          "io.netty",
          "org.apache.hc.client5.http",
          "org.apache.hc.client5.http.wire",
          "org.apache.hc.client5.http.headers",
          "io.fabric8",
          "io.vertx",
          "com.zaxxer.hikari",
          "org.postgresql");

  final DevStack devStack;

  /** Between Vault's database engine and the target database. */
  final TcpProxy vaultToTarget;

  /** The Service the applications reach the replicas through. */
  final ServiceProxy service;

  final List<Replica> replicas = new ArrayList<>();
  final List<Application> applications = new ArrayList<>();
  final Path logDir;
  final BrokerFixture.CapturedLogs testLogs = new BrokerFixture.CapturedLogs();
  final String sreToken;
  private final Path tokenDir;
  private final AtomicInteger pods = new AtomicInteger();
  private final AtomicInteger successors = new AtomicInteger();

  private FaultStand(DevStack devStack, TcpProxy vaultToTarget, Path workDir, Path logDir) {
    this.devStack = devStack;
    this.vaultToTarget = vaultToTarget;
    this.service = ServiceProxy.start("credential-broker", READINESS);
    this.logDir = logDir;
    this.tokenDir = workDir.resolve("pod-tokens");
    this.sreToken =
        devStack.kubernetes().issueToken("ops", "sre", null, List.of(), Duration.ofMinutes(30));
  }

  static FaultStand start(Path workDir, Path logDir) {
    DevStack devStack = DevStack.builder().workDir(workDir.resolve("dev-stack")).start();
    PostgresInfo postgres = devStack.postgres();
    TcpProxy vaultToTarget = TcpProxy.start("vault-to-db1", postgres.host(), postgres.port());
    BrokerFixture.setUp(
        devStack,
        CREDENTIAL_TTL,
        CREDENTIAL_MAX_TTL,
        Duration.ofHours(1),
        Duration.ofHours(24),
        VaultSetupOptions.BrokerAccess.DEFAULT_ISSUING_TOKEN_TTL,
        vaultToTarget.port());
    FaultStand stand = new FaultStand(devStack, vaultToTarget, workDir, logDir);
    stand.testLogs.attach();
    try {
      for (String id : List.of("replica-a", "replica-b", "replica-c")) {
        stand.replicas.add(stand.newReplica(id));
      }
      for (Replica replica : stand.replicas) {
        replica.process.awaitReady(Duration.ofSeconds(300));
        debugEverything(replica.process);
      }
      stand.awaitEveryReplicaInTheService();
      for (int i = 0; i < APPLICATIONS; i++) {
        stand.applications.add(stand.newApplication());
      }
      for (Application application : stand.applications) {
        application.awaitRunning();
      }
      return stand;
    } catch (RuntimeException | Error e) {
      stand.close();
      throw e;
    }
  }

  private Replica newReplica(String id) {
    PostgresInfo postgres = devStack.postgres();
    TcpProxy stateDb = TcpProxy.start(id + "-state-db", postgres.host(), postgres.port());
    TcpProxy vault =
        TcpProxy.start(
            id + "-vault",
            "127.0.0.1",
            Integer.parseInt(devStack.vaultTlsAddress().replaceAll(".*:", "")));
    TcpProxy kubernetes =
        TcpProxy.start(id + "-kubernetes", "127.0.0.1", devStack.kubernetes().port());
    Map<String, String> properties = new LinkedHashMap<>(BrokerFixture.replicaProperties(devStack));
    properties.put(
        "spring.datasource.url", "jdbc:postgresql://127.0.0.1:" + stateDb.port() + "/credbroker");
    // TLS through the proxy: the certificate is for 127.0.0.1, whatever the port.
    properties.put("spring.cloud.vault.uri", "https://127.0.0.1:" + vault.port());
    // The Kubernetes API through this replica's proxy (same host, same certificate).
    properties.put(
        BrokerProcess.ENVIRONMENT + "KUBERNETES_SERVICE_PORT", Integer.toString(kubernetes.port()));
    properties.put("spring.cloud.vault.read-timeout", Long.toString(VAULT_READ_TIMEOUT.toMillis()));
    properties.put("credbroker.cluster.stale-after", STALE_AFTER.toMillis() + "ms");
    properties.put("credbroker.lease.reconnect-grace", RECONNECT_GRACE.toMillis() + "ms");
    properties.put("credbroker.lease.drain-grace", DRAIN_GRACE.toMillis() + "ms");
    properties.put("credbroker.lease.revocation-retry-initial", "500ms");
    properties.put(
        "credbroker.limits.token-reviews-per-second", Integer.toString(TOKEN_REVIEWS_PER_SECOND));
    properties.put("resilience4j.circuitbreaker.instances.vault.wait-duration-in-open-state", "1s");
    // Everything that could print a secret, at DEBUG: the invariant is that none does. All of
    // Spring at DEBUG would slow three starting JVMs on a small machine by minutes, so it is turned
    // on through the actuator once the replica is ready (see debugEverything), as an operator
    // would; Spring Vault, which logs in at start, is at DEBUG from the start.
    properties.put("management.endpoints.web.exposure.include", "health,info,prometheus,loggers");
    for (String logger : STARTUP_DEBUG_LOGGERS) {
      properties.put("logging.level." + logger, "DEBUG");
    }
    BrokerProcess process = BrokerProcess.start(id, logDir, properties);
    addToService(id, process);
    return new Replica(id, stateDb, vault, kubernetes, process);
  }

  /**
   * Makes {@code process} the Service's endpoint {@code id}: a new pod, not ready until its
   * readiness probe passes.
   */
  private void addToService(String id, BrokerProcess process) {
    service.putEndpoint(
        id, "127.0.0.1", process.grpcPort, process.managementUri("/actuator/health/readiness"));
  }

  /** Waits until the Service sends new connections to every replica. */
  void awaitEveryReplicaInTheService() {
    await("every replica ready in the Service")
        .atMost(Duration.ofSeconds(60))
        .until(() -> service.readyEndpoints().size() == replicas.size());
  }

  /** Kills replica {@code index} ({@code kill -9}) and starts its successor on the same ports. */
  void killAndReplace(int index) throws InterruptedException {
    replicas.get(index).process.kill();
    startSuccessor(index, Map.of());
  }

  /**
   * Stops replica {@code index} as a rolling update does (SIGTERM, a graceful shutdown) and starts
   * its successor on the same ports with {@code environment} added (see {@link #skewedClock}).
   */
  void restart(int index, Map<String, String> environment) throws InterruptedException {
    // A deleted pod leaves the Service's endpoints before its containers get SIGTERM.
    service.removeEndpoint(replicas.get(index).id);
    replicas.get(index).process.stop(Duration.ofSeconds(60));
    startSuccessor(index, environment);
  }

  /**
   * Starts the successor of replica {@code index}, a new pod in place of the old one in the Service
   * (unready until its probe passes, on the same ports), and waits until it is ready.
   */
  private void startSuccessor(int index, Map<String, String> environment)
      throws InterruptedException {
    Replica replica = replicas.get(index);
    replica.process =
        replica.process.successor(replica.id + "-" + successors.incrementAndGet(), environment);
    addToService(replica.id, replica.process);
    replica.process.awaitReady(Duration.ofSeconds(180));
    debugEverything(replica.process);
    awaitEveryReplicaInTheService();
  }

  /** Where Debian's libfaketime package puts its multithreaded library, by architecture. */
  private static final List<String> LIBFAKETIME =
      List.of(
          "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
          "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
          "/usr/lib/faketime/libfaketimeMT.so.1");

  /** libfaketime's library, when installed (Debian's {@code faketime} package). */
  static java.util.Optional<Path> libfaketime() {
    return LIBFAKETIME.stream().map(Path::of).filter(Files::isReadable).findFirst();
  }

  /**
   * The environment that runs a JVM with its wall clock {@code offset} away from the machine's:
   * {@code System.currentTimeMillis()} and {@code Instant.now()} move, elapsed times do not.
   * libfaketime shifts the monotonic clock by the same offset, which changes no difference; its
   * {@code FAKETIME_DONT_FAKE_MONOTONIC} is not set, since with it (libfaketime 0.9.10) every timed
   * wait of a JDK 17 JVM ({@code Object.wait(ms)}, {@code parkNanos}) returns at once.
   */
  static Map<String, String> skewedClock(Path libfaketime, Duration offset) {
    return Map.of(
        "LD_PRELOAD",
        libfaketime.toString(),
        "FAKETIME",
        (offset.isNegative() ? "-" : "+") + offset.abs().toSeconds() + "s");
  }

  /**
   * Sets the root logger and all of Spring to DEBUG through the replica's actuator, once the
   * replica's own log says it started (a free port picked for its actuator may have been taken by
   * another process on a busy machine, whose readiness would answer in its place).
   */
  static void debugEverything(BrokerProcess replica) {
    await("start of " + replica + " in its log")
        .atMost(Duration.ofSeconds(120))
        .until(
            () ->
                Files.readString(replica.log, java.nio.charset.StandardCharsets.ISO_8859_1)
                    .contains("Started CredentialBrokerApplication"));
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    for (String logger : List.of("org.springframework", "ROOT")) {
      try {
        int status =
            http.send(
                    java.net.http.HttpRequest.newBuilder(
                            replica.managementUri("/actuator/loggers/" + logger))
                        .header("Content-Type", "application/json")
                        .POST(
                            java.net.http.HttpRequest.BodyPublishers.ofString(
                                "{\"configuredLevel\":\"DEBUG\"}"))
                        .timeout(Duration.ofSeconds(30))
                        .build(),
                    java.net.http.HttpResponse.BodyHandlers.discarding())
                .statusCode();
        if (status != 204) {
          throw new IllegalStateException(
              "setting " + logger + " to DEBUG on " + replica + " answered " + status);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  /** The Service's address as a gRPC target; 127.0.0.1 is in the replicas' certificate. */
  String serviceTarget() {
    return "dns:///127.0.0.1:" + service.port();
  }

  String newPod() {
    String name = "fault-app-" + pods.incrementAndGet();
    devStack.kubernetes().createPod("public", name, "application");
    return name;
  }

  /** A pod token as the kubelet projects it for the broker's audience. */
  String podToken(String pod) {
    return devStack
        .kubernetes()
        .issueToken("public", "application", pod, List.of(AUDIENCE), Duration.ofMinutes(30));
  }

  private Application newApplication() {
    String pod = newPod();
    String token = podToken(pod);
    Path tokenFile = tokenDir.resolve(pod).resolve("token");
    try {
      Files.createDirectories(tokenFile.getParent());
      Files.writeString(tokenFile, token);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    CredentialBrokerClient client =
        CredentialBrokerClient.builder()
            .target(serviceTarget())
            .trustedCertificates(devStack.caCertPath())
            .tokenFile(tokenFile)
            .backoff(Duration.ofMillis(200), Duration.ofSeconds(2))
            // Scaled with the broker's timings as the defaults are (idle timeout = reconnect
            // grace): a client whose replica froze must give up its stream and resume elsewhere,
            // over a new connection the Service sends to a ready replica, before the replica that
            // claimed its credential revokes it.
            .streamIdleTimeout(Duration.ofSeconds(3))
            .build();
    HikariConfig pool = new HikariConfig();
    pool.setMaximumPoolSize(2);
    pool.setConnectionTimeout(5_000);
    RotatingDataSource dataSource =
        RotatingDataSource.builder(client, ROLE)
            .hikariConfig(pool)
            .initialCredentialTimeout(Duration.ofSeconds(30))
            .build();
    return new Application(pod, token, client, dataSource);
  }

  /** Every password the applications were given, every JWT and token the test knows of. */
  Map<String, String> knownSecrets() {
    Map<String, String> secrets = new LinkedHashMap<>();
    for (Application application : applications) {
      application.passwords.forEach(p -> secrets.put(p, "password of " + application.pod));
      secrets.put(application.token, "JWT of pod " + application.pod);
    }
    secrets.put(sreToken, "JWT of the SRE");
    secrets.put(devStack.kubernetesAdminToken(), "Kubernetes admin token");
    try {
      secrets.put(
          Files.readString(BrokerFixture.brokerServiceAccountTokenFile(devStack)).strip(),
          "broker's service-account JWT");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return secrets;
  }

  /** Every log file the replicas (and their predecessors) wrote. */
  List<Path> logFiles() throws IOException {
    try (var files = Files.list(logDir)) {
      return files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
    }
  }

  Connection stateDatabase() throws SQLException {
    return devStack.postgres().connect("credbroker");
  }

  long stateCount(String sql, Object... parameters) throws SQLException {
    try (Connection state = stateDatabase();
        PreparedStatement query = state.prepareStatement(sql)) {
      for (int i = 0; i < parameters.length; i++) {
        query.setObject(i + 1, parameters[i]);
      }
      try (ResultSet rs = query.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  @Override
  public void close() {
    for (Application application : applications) {
      application.close();
    }
    service.close();
    for (Replica replica : replicas) {
      try {
        replica.process.thaw();
      } catch (IOException | InterruptedException e) {
        // Not frozen, or already gone.
      }
      try {
        replica.process.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      replica.stateDb.close();
      replica.vault.close();
      replica.kubernetes.close();
    }
    vaultToTarget.close();
    testLogs.detach();
    devStack.close();
  }

  /**
   * One broker replica, its process (replaced when killed) and the proxies it reaches everything
   * through.
   */
  static final class Replica {
    final String id;
    final TcpProxy stateDb;
    final TcpProxy vault;
    final TcpProxy kubernetes;
    volatile BrokerProcess process;

    Replica(
        String id, TcpProxy stateDb, TcpProxy vault, TcpProxy kubernetes, BrokerProcess process) {
      this.id = id;
      this.stateDb = stateDb;
      this.vault = vault;
      this.kubernetes = kubernetes;
      this.process = process;
    }

    /** Holds everything between this replica and its state database, Vault and Kubernetes. */
    void cutOff() {
      stateDb.blackhole();
      vault.blackhole();
      kubernetes.blackhole();
    }

    void reconnect() {
      stateDb.pass();
      vault.pass();
      kubernetes.pass();
    }
  }

  /**
   * One application pod: a client, a rotating pool, and a thread that borrows a connection, asks
   * who it is and returns it every 50 ms, remembering every user and password it was given and
   * every failure, with when it happened.
   */
  static final class Application implements AutoCloseable {
    final String pod;
    final String token;
    final CredentialBrokerClient client;
    final RotatingDataSource dataSource;
    final Set<String> users = ConcurrentHashMap.newKeySet();
    final Set<String> passwords = ConcurrentHashMap.newKeySet();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final AtomicInteger queries = new AtomicInteger();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    Application(
        String pod, String token, CredentialBrokerClient client, RotatingDataSource dataSource) {
      this.pod = pod;
      this.token = token;
      this.client = client;
      this.dataSource = dataSource;
      this.thread = new Thread(this::loop, "app-" + pod);
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      while (running.get()) {
        try (Connection connection = dataSource.getConnection();
            Statement sql = connection.createStatement();
            ResultSet rs = sql.executeQuery("SELECT current_user")) {
          rs.next();
          users.add(rs.getString(1));
          queries.incrementAndGet();
        } catch (SQLException | RuntimeException e) {
          if (running.get()) {
            failures.add(Instant.now() + " " + e);
          }
        }
        dataSource.currentCredential().map(Credential::password).ifPresent(passwords::add);
        LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
      }
    }

    void awaitRunning() {
      await("first query of " + pod).atMost(Duration.ofSeconds(60)).until(() -> queries.get() > 0);
    }

    @Override
    public void close() {
      running.set(false);
      try {
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      dataSource.close();
      client.close();
    }
  }
}
