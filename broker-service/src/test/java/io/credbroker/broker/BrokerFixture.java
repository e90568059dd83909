package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import io.credbroker.api.v1.Credential;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.setup.Secret;
import io.credbroker.broker.setup.Setup;
import io.credbroker.broker.setup.TargetDatabaseOptions;
import io.credbroker.broker.setup.VaultSetupOptions;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.credbroker.devstack.kubernetes.StateFiles;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.LoggerFactory;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;

/**
 * One dev-stack (embedded PostgreSQL, Vault and Kubernetes stand-ins), the {@code db1} target set
 * up the way the setup command does it, and one broker process-in-JVM on free ports, for a test
 * class. Every broker logs in to Vault the way production does, by Kubernetes auth with its own
 * service account, so that its leases belong to a token that expires (see {@link
 * #stackProperties}).
 */
final class BrokerFixture implements AutoCloseable {

  static final String DATABASE_ROLE = "db1";

  /** The broker's identity as the Helm chart and the setup command's defaults make it. */
  static final String BROKER_NAMESPACE = "credbroker";

  static final String BROKER_SERVICE_ACCOUNT = "credential-broker";
  static final String BROKER_VAULT_ROLE = "credential-broker";
  static final String BROKER_VAULT_POLICY = "credential-broker";
  static final String BROKER_KUBERNETES_AUTH_PATH = "kubernetes";

  /** The pod the broker's first service-account token is bound to. */
  static final String BROKER_POD = "credential-broker-0";

  final DevStack devStack;
  final ConfigurableApplicationContext broker;
  final ManagedChannel channel;
  final int grpcPort;

  /** The admin API's port (TLS). */
  final int adminPort;

  /** The actuator's port (plain HTTP: health, metrics). */
  final int managementPort;

  final CapturedLogs logs = new CapturedLogs();

  /**
   * What every broker of this fixture is started with (the first one and {@link #startReplica}).
   */
  private final Map<String, Object> brokerProperties;

  private BrokerFixture(
      Path workDir, Map<String, Object> extraProperties, Consumer<DevStack> prepare) {
    devStack = startDevStack(workDir, Duration.ofMinutes(1), Duration.ofMinutes(5));
    prepare.accept(devStack);

    Map<String, Object> properties = new LinkedHashMap<>(stackProperties(devStack));
    // One JVM has one environment: brokers inside the test's JVM reach the Kubernetes API through
    // a kubeconfig of the broker's service account (processes: see replicaProperties).
    properties.put("credbroker.kubernetes.kubeconfig", brokerKubeconfig(devStack).toString());
    properties.put("spring.grpc.server.host", "127.0.0.1");
    properties.put("credbroker.grpc.port", "0");
    properties.put("credbroker.grpc.heartbeat-interval", "300ms");
    properties.put("server.address", "127.0.0.1");
    properties.put("server.port", "0");
    properties.put("management.server.address", "127.0.0.1");
    properties.put("management.server.port", "0");
    properties.put("credbroker.kubernetes.cache-max-ttl", "2s");
    properties.put("credbroker.kubernetes.failure-cache-ttl", "1s");
    properties.put("resilience4j.circuitbreaker.instances.vault.wait-duration-in-open-state", "1s");
    properties.put("resilience4j.circuitbreaker.instances.vault.minimum-number-of-calls", "3");
    properties.put("logging.level.io.credbroker", "DEBUG");
    properties.put("logging.level.org.springframework.vault", "DEBUG");
    properties.putAll(extraProperties);
    brokerProperties = Map.copyOf(properties);

    broker = startBroker(properties);
    // Spring Boot configures Logback while starting, so the capture is attached afterwards; the
    // broker sees no password before its first request.
    logs.attach();
    grpcPort = broker.getBean(GrpcServerLifecycle.class).getPort();
    adminPort = Integer.parseInt(broker.getEnvironment().getRequiredProperty("local.server.port"));
    managementPort =
        Integer.parseInt(broker.getEnvironment().getRequiredProperty("local.management.port"));
    channel = TestTls.channel(grpcPort, devStack.caCertPath());
  }

  static BrokerFixture start(Path workDir) {
    return new BrokerFixture(workDir, Map.of(), devStack -> {});
  }

  /**
   * A fixture whose brokers get {@code extraProperties} on top of the defaults; {@code prepare}
   * runs against the dev-stack after the standard setup and before the broker starts (e.g. to add a
   * Vault role that an extra binding names).
   */
  static BrokerFixture start(
      Path workDir, Map<String, Object> extraProperties, Consumer<DevStack> prepare) {
    return new BrokerFixture(workDir, extraProperties, prepare);
  }

  /**
   * A fixture whose brokers get {@code extraProperties} and bind database role {@code role}
   * (binding 1, see {@link #secondBinding}) to a Vault role of that name with the given TTLs.
   */
  static BrokerFixture startWithShortRole(
      Path workDir,
      Map<String, Object> extraProperties,
      String role,
      Duration ttl,
      Duration maxTtl) {
    Map<String, Object> properties = new LinkedHashMap<>(extraProperties);
    properties.putAll(secondBinding(role));
    return start(workDir, properties, shortLivedVaultRole(role, ttl, maxTtl));
  }

  /**
   * Broker settings that bind database role {@code role} as binding 1, with binding 0's Vault
   * mount, namespace, service account and database, so tests can use a Vault role with short TTLs.
   */
  static Map<String, Object> secondBinding(String role) {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.bindings[1].database-role", role);
    properties.put("credbroker.bindings[1].vault-mount", "database");
    properties.put("credbroker.bindings[1].vault-role", role);
    properties.put("credbroker.bindings[1].namespaces[0]", "public");
    properties.put("credbroker.bindings[1].service-accounts[0]", "application");
    properties.put("credbroker.bindings[1].connection.host", "127.0.0.1");
    properties.put("credbroker.bindings[1].connection.database", "db1");
    properties.put("credbroker.bindings[1].connection.sslmode", "disable");
    return properties;
  }

  /**
   * A preparation step that adds Vault role {@code role}: the {@code db1} role's statements with
   * the given TTLs, allowed on {@code db1}'s connection.
   */
  static Consumer<DevStack> shortLivedVaultRole(String role, Duration ttl, Duration maxTtl) {
    return devStack -> {
      VaultTemplate vault =
          new VaultTemplate(
              VaultEndpoint.from(URI.create(devStack.vaultAddress())),
              new TokenAuthentication(devStack.vaultRootToken()));
      Map<String, Object> db1 = vault.read("database/roles/db1").getRequiredData();
      Map<String, Object> shortRole = new LinkedHashMap<>();
      db1.forEach(
          (key, value) -> {
            if (value != null && !key.endsWith("ttl")) {
              shortRole.put(key, value);
            }
          });
      shortRole.put("default_ttl", ttl.toSeconds() + "s");
      shortRole.put("max_ttl", maxTtl.toSeconds() + "s");
      vault.write("database/roles/" + role, shortRole);
      vault.write(
          "database/config/" + db1.get("db_name"), Map.of("allowed_roles", List.of("db1", role)));
    };
  }

  /**
   * Waits until the fixture's broker lets Vault calls through again after an outage: the failures
   * opened its Vault circuit breaker, which would otherwise refuse the next test's first call for
   * up to the open state's wait (1 s here).
   */
  void awaitVaultCallsAdmitted() {
    CircuitBreaker vault = broker.getBean(CircuitBreakerRegistry.class).circuitBreaker("vault");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> vault.getState() != CircuitBreaker.State.OPEN);
  }

  /**
   * A broker in this JVM with {@code properties} as command-line arguments, which outrank
   * application.yaml (builder properties would not).
   */
  static ConfigurableApplicationContext startBroker(Map<String, Object> properties) {
    return new SpringApplicationBuilder(CredentialBrokerApplication.class)
        .run(
            properties.entrySet().stream()
                .map(e -> "--" + e.getKey() + "=" + e.getValue())
                .toArray(String[]::new));
  }

  /**
   * Another broker replica in this JVM, on the same dev-stack and state database, with the
   * fixture's properties plus {@code overrides}. The caller closes it.
   */
  Replica startReplica(Map<String, Object> overrides) {
    Map<String, Object> properties = new LinkedHashMap<>(brokerProperties);
    properties.putAll(overrides);
    return new Replica(startBroker(properties), devStack.caCertPath());
  }

  /** A broker replica started by {@link #startReplica}: its Spring context and a channel to it. */
  static final class Replica implements AutoCloseable {
    final ConfigurableApplicationContext context;
    final ManagedChannel channel;

    private Replica(ConfigurableApplicationContext context, Path caFile) {
      this.context = context;
      int port = context.getBean(GrpcServerLifecycle.class).getPort();
      this.channel = TestTls.channel(port, caFile);
    }

    @Override
    public void close() {
      channel.shutdownNow();
      context.close();
    }
  }

  /**
   * A dev-stack with the broker's state database ({@code credbroker}) created, the {@code db1}
   * target database and Vault's database engine set up exactly as the setup command does it with
   * these credential TTLs, and the broker's Vault login (Kubernetes auth) with the setup command's
   * default token lifetimes (1 h, at most 24 h): see {@link #startDevStack(Path, Duration,
   * Duration, Duration, Duration)}.
   */
  static DevStack startDevStack(Path workDir, Duration defaultTtl, Duration maxTtl) {
    return startDevStack(workDir, defaultTtl, maxTtl, Duration.ofHours(1), Duration.ofHours(24));
  }

  /**
   * A dev-stack set up as {@link #startDevStack(Path, Duration, Duration)} does it, with these
   * lifetimes of the broker's own Vault token: Vault's Kubernetes auth method trusts the stand-in's
   * API server, role {@value #BROKER_VAULT_ROLE} admits service account {@value
   * #BROKER_NAMESPACE}/{@value #BROKER_SERVICE_ACCOUNT} with the broker's policy and these token
   * lifetimes, and the service account's token is in {@link #brokerServiceAccountTokenFile}, where
   * {@link #stackProperties} points every broker. The broker's own token lives at most {@code
   * brokerTokenMaxTtl}, as in production; the credentials it creates belong to issuing tokens.
   */
  static DevStack startDevStack(
      Path workDir,
      Duration defaultTtl,
      Duration maxTtl,
      Duration brokerTokenTtl,
      Duration brokerTokenMaxTtl) {
    return startDevStack(
        workDir,
        defaultTtl,
        maxTtl,
        brokerTokenTtl,
        brokerTokenMaxTtl,
        VaultSetupOptions.BrokerAccess.DEFAULT_ISSUING_TOKEN_TTL);
  }

  /**
   * {@link #startDevStack(Path, Duration, Duration, Duration, Duration)} with issuing tokens (the
   * orphan tokens every credential is created with) of this fixed lifetime.
   */
  static DevStack startDevStack(
      Path workDir,
      Duration defaultTtl,
      Duration maxTtl,
      Duration brokerTokenTtl,
      Duration brokerTokenMaxTtl,
      Duration issuingTokenTtl) {
    DevStack devStack = DevStack.builder().workDir(workDir).start();
    setUp(
        devStack,
        defaultTtl,
        maxTtl,
        brokerTokenTtl,
        brokerTokenMaxTtl,
        issuingTokenTtl,
        devStack.postgres().port());
    return devStack;
  }

  /**
   * Sets up a started dev-stack as {@link #startDevStack(Path, Duration, Duration, Duration,
   * Duration, Duration)} does, with Vault's database engine connecting to PostgreSQL at {@code
   * vaultTargetPort} on its host (a proxy in front of it, to make the target database unreachable
   * for Vault alone).
   */
  static void setUp(
      DevStack devStack,
      Duration defaultTtl,
      Duration maxTtl,
      Duration brokerTokenTtl,
      Duration brokerTokenMaxTtl,
      Duration issuingTokenTtl,
      int vaultTargetPort) {
    PostgresInfo postgres = devStack.postgres();
    postgres.createDatabase("credbroker");
    Setup.apply(
        TargetDatabaseOptions.defaults(
            postgres.jdbcUrl("postgres"),
            postgres.adminUser(),
            Secret.of(postgres.adminPassword()),
            "db1"),
        VaultSetupOptions.defaults(
                URI.create(devStack.vaultAddress()),
                Secret.of(devStack.vaultRootToken()),
                "db1",
                postgres.host(),
                vaultTargetPort)
            // The embedded PostgreSQL serves no TLS; the dev run passes the same explicitly.
            .withConnectionParameters("sslmode=disable")
            .withTtls(defaultTtl, maxTtl)
            .withBroker(
                new VaultSetupOptions.BrokerAccess(
                    BROKER_VAULT_POLICY,
                    new VaultSetupOptions.KubernetesAuth(
                        BROKER_KUBERNETES_AUTH_PATH,
                        URI.create(devStack.kubernetesUrl()),
                        readString(devStack.caCertPath()),
                        BROKER_VAULT_ROLE,
                        BROKER_SERVICE_ACCOUNT,
                        BROKER_NAMESPACE,
                        null,
                        brokerTokenTtl,
                        brokerTokenMaxTtl),
                    VaultSetupOptions.BrokerAccess.DEFAULT_ISSUING_TOKEN_ROLE,
                    issuingTokenTtl)),
        false);
    devStack.kubernetes().createPod(BROKER_NAMESPACE, BROKER_POD, BROKER_SERVICE_ACCOUNT);
    writeBrokerServiceAccountToken(devStack, BROKER_POD);
  }

  /**
   * Where the broker's service-account token is, as the kubelet projects it into the broker's pod
   * ({@code /var/run/secrets/kubernetes.io/serviceaccount/token} in the Helm chart).
   */
  static Path brokerServiceAccountTokenFile(DevStack devStack) {
    return devStack.workDir().resolve("broker-serviceaccount").resolve("token");
  }

  /**
   * Mints the broker's token through the stand-in's TokenRequest, as the kubelet does for the
   * chart's default {@code kube-api-access} volume: bound to {@code pod} (an existing pod of the
   * broker's service account), for the API server's own audience (Vault's role names none, and with
   * no reviewer JWT configured Vault presents this token to the TokenReview API), valid about an
   * hour. Replaces the token file and the kubeconfig each in one step, as the kubelet swaps a
   * projected volume's files, so a broker reading them never sees half a token.
   */
  static void writeBrokerServiceAccountToken(DevStack devStack, String pod) {
    String token =
        devStack
            .kubernetes()
            .issueToken(
                BROKER_NAMESPACE,
                BROKER_SERVICE_ACCOUNT,
                pod,
                List.of(KubernetesApiServer.API_AUDIENCE),
                Duration.ofSeconds(3607));
    try {
      StateFiles.writePrivate(brokerServiceAccountTokenFile(devStack), token);
      StateFiles.writePrivate(brokerKubeconfig(devStack), brokerKubeconfigYaml(devStack, token));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The broker's kubeconfig: the Kubernetes API as the broker's service account, with the RBAC the
   * chart grants it (the stand-in's default policy has the same bindings), not as the dev-stack's
   * admin, so that a rule the chart lacks fails a test. The token is the one {@link
   * #brokerServiceAccountTokenFile} had at the start (about an hour, longer than any test class).
   */
  static Path brokerKubeconfig(DevStack devStack) {
    return devStack.workDir().resolve("broker-serviceaccount").resolve("kubeconfig");
  }

  private static String brokerKubeconfigYaml(DevStack devStack, String token) {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: dev-stack
          cluster:
            server: %s
            certificate-authority: %s
        users:
        - name: %s
          user:
            token: %s
        contexts:
        - name: %s
          context:
            cluster: dev-stack
            user: %s
            namespace: %s
        current-context: %s
        """
        .formatted(
            devStack.kubernetesUrl(),
            devStack.caCertPath().toAbsolutePath(),
            BROKER_SERVICE_ACCOUNT,
            token,
            BROKER_SERVICE_ACCOUNT,
            BROKER_SERVICE_ACCOUNT,
            BROKER_NAMESPACE,
            BROKER_SERVICE_ACCOUNT);
  }

  private static String readString(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * What any broker on {@code devStack} needs, in-JVM or as a process: Vault, logged in to as in
   * production (Kubernetes auth with the broker's service-account token; the root token is for the
   * test's own operator actions only), the state database, and binding 0 ({@code db1} for {@code
   * public/application}); how a broker reaches the Kubernetes API depends on where it runs. {@code
   * devStack} must come from {@link #startDevStack}.
   */
  static Map<String, String> stackProperties(DevStack devStack) {
    PostgresInfo postgres = devStack.postgres();
    Path brokerToken = brokerServiceAccountTokenFile(devStack);
    if (!Files.isRegularFile(brokerToken)) {
      throw new IllegalStateException(
          "no broker service-account token at "
              + brokerToken
              + "; start the dev-stack with startDevStack");
    }
    Map<String, String> properties = new LinkedHashMap<>();
    // Vault over TLS, verified with a PEM CA bundle, as the chart configures it.
    properties.put("spring.cloud.vault.uri", devStack.vaultTlsAddress());
    properties.put("spring.cloud.vault.ssl.trust-store", "file:" + devStack.caCertPath());
    properties.put("spring.cloud.vault.ssl.trust-store-type", "PEM");
    properties.put("spring.cloud.vault.authentication", "KUBERNETES");
    properties.put("spring.cloud.vault.kubernetes.role", BROKER_VAULT_ROLE);
    properties.put("spring.cloud.vault.kubernetes.kubernetes-path", BROKER_KUBERNETES_AUTH_PATH);
    properties.put(
        "spring.cloud.vault.kubernetes.service-account-token-file", brokerToken.toString());
    properties.put("spring.datasource.url", postgres.jdbcUrl("credbroker"));
    properties.put("spring.datasource.username", postgres.adminUser());
    properties.put("spring.datasource.password", postgres.adminPassword());
    // TLS on both APIs, as the chart ships it, with the dev-stack's certificate for 127.0.0.1; a
    // renewed certificate is picked up within about a second.
    properties.put("credbroker.tls.certificate-file", devStack.brokerCertificatePath().toString());
    properties.put("credbroker.tls.private-key-file", devStack.brokerPrivateKeyPath().toString());
    properties.put("spring.ssl.bundle.watch.file.quiet-period", "500ms");
    properties.put("credbroker.bindings[0].database-role", DATABASE_ROLE);
    properties.put("credbroker.bindings[0].vault-mount", "database");
    properties.put("credbroker.bindings[0].vault-role", "db1");
    properties.put("credbroker.bindings[0].namespaces[0]", "public");
    properties.put("credbroker.bindings[0].service-accounts[0]", "application");
    properties.put("credbroker.bindings[0].connection.host", postgres.host());
    properties.put("credbroker.bindings[0].connection.port", Integer.toString(postgres.port()));
    properties.put("credbroker.bindings[0].connection.database", "db1");
    properties.put("credbroker.bindings[0].connection.sslmode", "disable");
    // The lifecycle tests ask for leases of seconds and reuse pods on purpose; LimitsIT tests the
    // per-pod limits with its own settings.
    properties.put("credbroker.limits.min-requested-ttl", "1s");
    properties.put("credbroker.limits.issuance-burst", "1000");
    properties.put("credbroker.limits.streams-per-pod-role", "100");
    return properties;
  }

  /**
   * What a {@link BrokerProcess} replica on {@code devStack} gets: {@link #stackProperties}, a
   * small state-database pool (several replicas share two cores and one PostgreSQL), and cluster
   * timings short enough that a killed replica is presumed dead within seconds and its leases are
   * claimed quickly.
   *
   * <p>It finds the Kubernetes API as the chart's pods do, with no kubeconfig: from the kubelet's
   * {@code KUBERNETES_SERVICE_HOST} and {@code KUBERNETES_SERVICE_PORT} and the projected
   * service-account token and CA, whose paths (fixed in a pod) are given here in the variables the
   * Kubernetes client reads for them. The token file is the one the Vault login reads, as in the
   * chart.
   */
  static Map<String, String> replicaProperties(DevStack devStack) {
    Map<String, String> properties = new LinkedHashMap<>(stackProperties(devStack));
    String environment = BrokerProcess.ENVIRONMENT;
    properties.put(environment + "KUBERNETES_SERVICE_HOST", "127.0.0.1");
    properties.put(
        environment + "KUBERNETES_SERVICE_PORT", Integer.toString(devStack.kubernetes().port()));
    properties.put(
        environment + "KUBERNETES_AUTH_SERVICEACCOUNT_TOKEN",
        brokerServiceAccountTokenFile(devStack).toAbsolutePath().toString());
    properties.put(
        environment + "KUBERNETES_CERTS_CA_FILE",
        devStack.caCertPath().toAbsolutePath().toString());
    // A pod has no ~/.kube/config; the machine running the tests may.
    properties.put(environment + "KUBERNETES_AUTH_TRYKUBECONFIG", "false");
    properties.put("spring.datasource.hikari.maximum-pool-size", "5");
    properties.put("credbroker.grpc.heartbeat-interval", "1s");
    properties.put("credbroker.cluster.heartbeat-interval", "500ms");
    properties.put("credbroker.cluster.stale-after", "3s");
    properties.put("credbroker.lease.poll-interval", "200ms");
    return properties;
  }

  String jdbcUrl(String database) {
    return devStack.postgres().jdbcUrl(database);
  }

  /** {@code https://127.0.0.1:<admin port><path>}: the admin API, with TLS. */
  URI adminUri(String path) {
    return URI.create("https://127.0.0.1:" + adminPort + path);
  }

  /**
   * An HTTP client for the admin API: it trusts the dev-stack's CA, which signed the broker's
   * certificate.
   */
  HttpClient adminHttpClient() {
    return TestTls.httpClient(devStack.caCertPath());
  }

  /**
   * GETs {@code path} from the broker's management port (actuator) in plain HTTP, without
   * credentials.
   */
  HttpResponse<String> httpGet(String path) throws IOException, InterruptedException {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + path))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  /** The broker's state-store record of {@code credentialId}, read through its own store. */
  CredentialRecord record(String credentialId) {
    return broker
        .getBean(CredentialQueries.class)
        .findById(UUID.fromString(credentialId))
        .orElseThrow();
  }

  /** Logs in to {@code db1} with the credential and runs {@code SELECT 1}: its answer. */
  int selectOne(Credential credential) throws SQLException {
    try (Connection db =
            DriverManager.getConnection(
                jdbcUrl(DATABASE_ROLE), credential.getUsername(), credential.getPassword());
        Statement sql = db.createStatement();
        ResultSet rs = sql.executeQuery("SELECT 1")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /** Role {@code username}'s {@code VALID UNTIL} in PostgreSQL (which Vault's renewals move). */
  Instant validUntil(String username) throws SQLException {
    try (Connection db = devStack.postgres().connect(DATABASE_ROLE);
        PreparedStatement query =
            db.prepareStatement("SELECT rolvaliduntil FROM pg_roles WHERE rolname = ?")) {
      query.setString(1, username);
      try (ResultSet rs = query.executeQuery()) {
        assertThat(rs.next()).as("role %s exists", username).isTrue();
        return rs.getObject(1, OffsetDateTime.class).toInstant();
      }
    }
  }

  /** Whether PostgreSQL role {@code username} exists in {@code db1}, asked as the admin user. */
  boolean roleExists(String username) throws SQLException {
    try (Connection db = devStack.postgres().connect(DATABASE_ROLE);
        PreparedStatement query = db.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
      query.setString(1, username);
      try (ResultSet rs = query.executeQuery()) {
        return rs.next();
      }
    }
  }

  /** The dynamic roles in {@code db1} now. */
  Set<String> dynamicRoles() throws SQLException {
    return OrphanCheck.dynamicRoles(devStack.postgres(), DATABASE_ROLE);
  }

  @Override
  public void close() {
    logs.detach();
    channel.shutdownNow();
    broker.close();
    devStack.close();
  }

  /** Every log event of the process while attached, formatted with its stack traces. */
  static final class CapturedLogs extends AppenderBase<ILoggingEvent> {
    private final List<String> lines = new CopyOnWriteArrayList<>();

    void attach() {
      setName("captured-logs");
      start();
      root().addAppender(this);
    }

    void detach() {
      root().detachAppender(this);
      stop();
    }

    List<String> lines() {
      return List.copyOf(lines);
    }

    @Override
    protected void append(ILoggingEvent event) {
      StringBuilder line =
          new StringBuilder(event.getLoggerName()).append(' ').append(event.getFormattedMessage());
      for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause()) {
        line.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
      }
      lines.add(line.toString());
    }

    private static Logger root() {
      return (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    }
  }
}
