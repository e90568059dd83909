package io.credbroker.loadtest.stack;

import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.FreePorts;
import io.credbroker.devstack.PostgresInfo;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Everything a scenario runs against, started in order: the dev-stack (embedded PostgreSQL, Vault
 * and Kubernetes stand-ins) in this process on free ports; the target database {@value #DATABASE}
 * and Vault's database engine set up by the broker's own {@code setup} command (run from the
 * broker's jar as a process: the product's real interface); the broker as a separate process.
 *
 * <p>Lifecycle: {@link #start} starts everything or, on failure, stops what it started; {@link
 * #close} stops the broker, then the dev-stack, and deletes PostgreSQL's data directory. Methods
 * may be called from any thread after start.
 */
public final class LoadStack implements AutoCloseable {

  /** The target database, its Vault role and the broker's database role share this name. */
  public static final String DATABASE = "db1";

  /** The Vault mount of the database secrets engine. */
  public static final String MOUNT = "database";

  /** The namespace and service account the broker's binding allows. */
  public static final String NAMESPACE = "public";

  public static final String SERVICE_ACCOUNT = "application";

  /** The audience the broker requires in pod tokens. */
  public static final String AUDIENCE = "credbroker";

  /**
   * The broker's limits, lifted: the load generator's few pods ask far more often than any real pod
   * may, so the per-pod limits and the review rate are lifted so that the figures measure the
   * broker and Vault, not the limiters (LimitsIT proves the limiters), and as many creations go to
   * Vault at once as the Vault client allows (its shared bulkhead). Applied when {@link
   * StackSettings#liftLimits()}; a scenario's broker properties still override each.
   */
  public static final Map<String, String> LIFTED_LIMITS =
      Map.of(
          "credbroker.limits.issuance-burst", "1000000",
          "credbroker.limits.issuances-per-minute", "1000000",
          "credbroker.limits.streams-per-pod-role", "100000",
          "credbroker.limits.token-reviews-per-second", "100000",
          "credbroker.limits.concurrent-token-reviews", "10000",
          "credbroker.vault.max-concurrent-creations", "128");

  private static final Duration SETUP_TIMEOUT = Duration.ofMinutes(3);

  /**
   * The broker's identity and Vault role, as the setup command's defaults and the Helm chart have
   * them.
   */
  private static final String BROKER_NAMESPACE = "credbroker";

  private static final String BROKER_SERVICE_ACCOUNT = "credential-broker";
  private static final String BROKER_VAULT_ROLE = "credential-broker";

  /**
   * Longer than any load run: the broker re-reads the file at each login but nothing refreshes it.
   */
  private static final Duration BROKER_TOKEN_LIFETIME = Duration.ofHours(12);

  /** How long each part took to start, for the report. */
  public record StartTimes(double devStackSeconds, double setupSeconds, double brokerSeconds) {}

  private final StackSettings settings;
  private final DevStack devStack;
  private final List<BrokerProcess> brokers;
  private final VaultClient vault;
  private final StartTimes startTimes;
  private final String jarSha256;
  private final String jarModified;

  private LoadStack(
      StackSettings settings,
      DevStack devStack,
      List<BrokerProcess> brokers,
      StartTimes startTimes,
      Path jar) {
    this.settings = settings;
    this.devStack = devStack;
    this.brokers = List.copyOf(brokers);
    // Over TLS like the broker's calls, so that the direct path pays for TLS as the broker does.
    this.vault =
        new VaultClient(
            devStack.vaultTlsAddress(), devStack.vaultRootToken(), devStack.clientTls());
    this.startTimes = startTimes;
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(jar));
      this.jarSha256 = HexFormat.of().formatHex(digest).substring(0, 16);
      this.jarModified =
          Files.getLastModifiedTime(settings.brokerJar())
              .toInstant()
              .truncatedTo(ChronoUnit.SECONDS)
              .toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + jar, e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * @throws IllegalStateException when the broker jar is missing, setup fails or the broker does
   *     not become ready (the message says which, with the end of the relevant log)
   */
  public static LoadStack start(StackSettings settings) {
    if (!Files.isRegularFile(settings.brokerJar())) {
      throw new IllegalStateException(
          "the broker jar "
              + settings.brokerJar().toAbsolutePath()
              + " does not exist; build it first: ./mvnw -q -pl broker-service -am install -DskipTests");
    }
    Path workDir = settings.workDir().toAbsolutePath();
    Path jar = workDir.resolve("credential-broker.jar");
    try {
      Files.createDirectories(workDir);
      // A copy: a rebuild of broker-service during a long run must not change the jar under the
      // broker.
      Files.copy(settings.brokerJar(), jar, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the work directory " + workDir, e);
    }
    long t0 = System.nanoTime();
    DevStack devStack =
        DevStack.builder()
            .workDir(workDir.resolve("dev-stack"))
            .createDatabase("credbroker")
            .start();
    try {
      long t1 = System.nanoTime();
      runSetup(settings, devStack, jar, workDir.resolve("setup.log"));
      long t2 = System.nanoTime();
      List<BrokerProcess> brokers = startBrokers(settings, devStack, jar, workDir);
      long t3 = System.nanoTime();
      return new LoadStack(
          settings,
          devStack,
          brokers,
          new StartTimes(seconds(t1 - t0), seconds(t2 - t1), seconds(t3 - t2)),
          jar);
    } catch (RuntimeException e) {
      devStack.close();
      deletePostgresData(workDir);
      throw e;
    }
  }

  private static void runSetup(StackSettings settings, DevStack devStack, Path jar, Path log) {
    PostgresInfo pg = devStack.postgres();
    List<String> command =
        List.of(
            BrokerProcess.javaExecutable("java").toString(),
            "-jar",
            jar.toString(),
            "setup",
            "--postgres-url",
            pg.jdbcUrl("postgres"),
            "--database",
            DATABASE,
            "--vault-address",
            devStack.vaultAddress(),
            // The embedded PostgreSQL serves no TLS (the default is sslmode=verify-full).
            "--vault-postgres-parameters",
            "sslmode=disable",
            // The broker logs in as in production: Kubernetes auth with its own service account.
            "--kubernetes-host",
            devStack.kubernetesUrl(),
            "--kubernetes-ca-file",
            devStack.caCertPath().toAbsolutePath().toString(),
            "--default-ttl",
            settings.credentialTtl().toSeconds() + "s",
            "--max-ttl",
            settings.credentialMaxTtl().toSeconds() + "s");
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    // Secrets through the environment, never the command line.
    builder.environment().put("PGUSER", pg.adminUser());
    builder.environment().put("PGPASSWORD", pg.adminPassword());
    builder.environment().put("VAULT_TOKEN", devStack.vaultRootToken());
    try {
      Process process = builder.start();
      if (!process.waitFor(SETUP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(
            "setup did not finish within " + SETUP_TIMEOUT + "; see " + log);
      }
      if (process.exitValue() != 0) {
        throw new IllegalStateException(
            "setup failed with exit code " + process.exitValue() + ":\n" + Files.readString(log));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run setup", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted during setup", e);
    }
  }

  /**
   * Starts {@link StackSettings#replicas} brokers on one state database: the first alone (it
   * migrates the schema), the others at once after it. On failure, stops those that started.
   */
  private static List<BrokerProcess> startBrokers(
      StackSettings settings, DevStack devStack, Path jar, Path workDir) {
    Path token = brokerServiceAccountToken(devStack, workDir.resolve("broker-sa-token"));
    int replicas = settings.replicas();
    List<BrokerProcess> brokers = new ArrayList<>();
    brokers.add(
        startBroker(
            settings, devStack, jar, token, workDir.resolve("broker.log"), replicaId(0, replicas)));
    List<java.util.concurrent.CompletableFuture<BrokerProcess>> others = new ArrayList<>();
    for (int i = 1; i < replicas; i++) {
      int index = i;
      others.add(
          java.util.concurrent.CompletableFuture.supplyAsync(
              () ->
                  startBroker(
                      settings,
                      devStack,
                      jar,
                      token,
                      workDir.resolve("broker-" + index + ".log"),
                      replicaId(index, replicas))));
    }
    RuntimeException failure = null;
    for (var other : others) {
      try {
        brokers.add(other.join());
      } catch (java.util.concurrent.CompletionException e) {
        failure =
            e.getCause() instanceof RuntimeException r
                ? r
                : new IllegalStateException(e.getCause());
      }
    }
    if (failure != null) {
      brokers.forEach(BrokerProcess::close);
      throw failure;
    }
    return brokers;
  }

  /**
   * {@code load-test} for a single broker (as before replicas existed), else {@code load-test-i}.
   */
  static String replicaId(int index, int replicas) {
    return replicas == 1 ? "load-test" : "load-test-" + index;
  }

  private static BrokerProcess startBroker(
      StackSettings settings,
      DevStack devStack,
      Path jar,
      Path serviceAccountToken,
      Path log,
      String replicaId) {
    PostgresInfo pg = devStack.postgres();
    int grpcPort = FreePorts.next();
    int adminPort = FreePorts.next();
    int managementPort = FreePorts.next();
    Map<String, String> p = new LinkedHashMap<>();
    // Vault over TLS, as the chart configures it: its handshakes and records are part of the cost.
    p.put("spring.cloud.vault.uri", devStack.vaultTlsAddress());
    p.put("spring.cloud.vault.ssl.trust-store", "file:" + devStack.caCertPath());
    p.put("spring.cloud.vault.ssl.trust-store-type", "PEM");
    p.put("spring.cloud.vault.authentication", "KUBERNETES");
    p.put("spring.cloud.vault.kubernetes.role", BROKER_VAULT_ROLE);
    p.put(
        "spring.cloud.vault.kubernetes.service-account-token-file", serviceAccountToken.toString());
    p.put("spring.datasource.url", pg.jdbcUrl("credbroker"));
    p.put("spring.datasource.username", pg.adminUser());
    p.put("spring.grpc.server.host", "127.0.0.1");
    p.put("credbroker.grpc.port", Integer.toString(grpcPort));
    p.put("credbroker.grpc.heartbeat-interval", settings.heartbeatInterval().toMillis() + "ms");
    // The load generator's pods share connections (a real pod has its own), so one connection
    // carries as many calls as the pods on it; the broker's per-connection limit is for real pods.
    p.put("credbroker.grpc.max-calls-per-connection", "1000000");
    p.put("server.address", "127.0.0.1");
    p.put("server.port", Integer.toString(adminPort));
    p.put("management.server.address", "127.0.0.1");
    p.put("management.server.port", Integer.toString(managementPort));
    // TLS as in production, with the dev-stack's certificate: the handshakes are part of the cost.
    p.put("credbroker.tls.certificate-file", devStack.brokerCertificatePath().toString());
    p.put("credbroker.tls.private-key-file", devStack.brokerPrivateKeyPath().toString());
    p.put("credbroker.replica.id", replicaId);
    p.put(
        "credbroker.kubernetes.kubeconfig", devStack.kubeconfigPath().toAbsolutePath().toString());
    p.put("credbroker.kubernetes.cache-max-ttl", settings.tokenCacheTtl().toMillis() + "ms");
    p.put("credbroker.bindings[0].database-role", DATABASE);
    p.put("credbroker.bindings[0].vault-mount", MOUNT);
    p.put("credbroker.bindings[0].vault-role", DATABASE);
    p.put("credbroker.bindings[0].namespaces[0]", NAMESPACE);
    p.put("credbroker.bindings[0].service-accounts[0]", SERVICE_ACCOUNT);
    p.put("credbroker.bindings[0].connection.host", pg.host());
    p.put("credbroker.bindings[0].connection.port", Integer.toString(pg.port()));
    p.put("credbroker.bindings[0].connection.database", DATABASE);
    p.put("credbroker.bindings[0].connection.sslmode", "disable");
    if (settings.liftLimits()) {
      p.putAll(LIFTED_LIMITS);
    }
    p.putAll(settings.brokerProperties());
    // Secrets through the environment (relaxed binding), never the command line.
    Map<String, String> env = Map.of("SPRING_DATASOURCE_PASSWORD", pg.adminPassword());
    List<String> jvm = new ArrayList<>();
    jvm.add("-Xmx" + settings.brokerHeap());
    jvm.addAll(settings.brokerJvmArgs());
    return BrokerProcess.start(
        jar,
        log,
        jvm,
        p,
        env,
        grpcPort,
        managementPort,
        devStack.caCertPath(),
        settings.startTimeout());
  }

  /**
   * Writes a token of the broker's service account ({@code credbroker/credential-broker}, API
   * server audience, as the kube-api-access token the chart mounts) to {@code file}, readable by
   * its owner only; the broker reads it at every Vault login.
   */
  private static Path brokerServiceAccountToken(DevStack devStack, Path file) {
    String token =
        devStack
            .kubernetes()
            .issueToken(
                BROKER_NAMESPACE,
                BROKER_SERVICE_ACCOUNT,
                null,
                List.of(KubernetesApiServer.API_AUDIENCE),
                BROKER_TOKEN_LIFETIME);
    try {
      Files.deleteIfExists(file);
      Files.createFile(
          file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(file, token);
      return file.toAbsolutePath();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write the broker's service-account token to " + file, e);
    }
  }

  /** The first broker replica: the only one unless {@link StackSettings#replicas} is above 1. */
  public BrokerProcess broker() {
    return brokers.get(0);
  }

  /** Every broker replica, in start order; a killed one stays in the list. */
  public List<BrokerProcess> brokers() {
    return brokers;
  }

  public VaultClient vault() {
    return vault;
  }

  public DevStack devStack() {
    return devStack;
  }

  public StackSettings settings() {
    return settings;
  }

  public StartTimes startTimes() {
    return startTimes;
  }

  /** The first 16 hex digits of the SHA-256 of the broker jar that runs. */
  public String brokerJarSha256() {
    return jarSha256;
  }

  /** When the broker jar was built (its modification time). */
  public String brokerJarModified() {
    return jarModified;
  }

  /**
   * Creates {@code count} running pods named {@code <prefix>-<i>} of the bound service account,
   * each with its own projected token for the broker's audience.
   */
  public List<PodToken> createPods(String prefix, int count, Duration tokenTtl) {
    var kubernetes = devStack.kubernetes();
    List<PodToken> pods = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String name = prefix + "-" + i;
      kubernetes.createPod(NAMESPACE, name, SERVICE_ACCOUNT);
      pods.add(
          new PodToken(
              NAMESPACE,
              name,
              kubernetes.issueToken(
                  NAMESPACE, SERVICE_ACCOUNT, name, List.of(AUDIENCE), tokenTtl)));
    }
    return pods;
  }

  /** Deletes the pod object of {@code pod} from the Kubernetes stand-in. */
  public void deletePod(PodToken pod) {
    devStack.kubernetes().deletePod(pod.namespace(), pod.podName());
  }

  /** How many dynamic PostgreSQL roles (Vault's {@code v-...} names) exist right now. */
  public long dynamicRoles() {
    try (Connection c = devStack.postgres().connect("postgres");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-%'")) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot count dynamic roles: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      brokers.forEach(BrokerProcess::close);
    } finally {
      devStack.close();
      deletePostgresData(settings.workDir().toAbsolutePath());
    }
  }

  /** PostgreSQL's data directory holds thousands of dropped roles' traces; the logs stay. */
  private static void deletePostgresData(Path workDir) {
    Path data = workDir.resolve("dev-stack").resolve("postgres");
    if (!Files.exists(data)) {
      return;
    }
    try (var paths = Files.walk(data)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(LoadStack::deleteQuietly);
    } catch (IOException e) {
      // Leftover data in target/ is harmless; the next run uses a new work dir or overwrites it.
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // See deletePostgresData.
    }
  }

  private static double seconds(long nanos) {
    return Math.round(nanos / 1e7) / 100.0;
  }

  @Override
  public String toString() {
    return "LoadStack["
        + devStack
        + ", broker pids "
        + brokers.stream().map(b -> Long.toString(b.pid())).toList()
        + "]";
  }
}
