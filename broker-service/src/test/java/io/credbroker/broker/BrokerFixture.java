package io.credbroker.broker;

import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialStore;
import io.credbroker.broker.setup.Secret;
import io.credbroker.broker.setup.TargetDatabaseOptions;
import io.credbroker.broker.setup.Setup;
import io.credbroker.broker.setup.VaultSetupOptions;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
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
 * One dev-stack (embedded PostgreSQL, Vault and Kubernetes stand-ins), the {@code db1} target set up
 * the way the setup command does it, and one broker process-in-JVM on free ports, for a test class.
 */
final class BrokerFixture implements AutoCloseable {

  static final String DATABASE_ROLE = "db1";

  final DevStack devStack;
  final ConfigurableApplicationContext broker;
  final ManagedChannel channel;
  final int grpcPort;
  final int httpPort;
  final CapturedLogs logs = new CapturedLogs();

  /** What every broker of this fixture is started with (the first one and {@link #startReplica}). */
  private final Map<String, Object> brokerProperties;

  private BrokerFixture(
      Path workDir, Map<String, Object> extraProperties, Consumer<DevStack> prepare) {
    devStack = startDevStack(workDir, Duration.ofMinutes(1), Duration.ofMinutes(5));
    prepare.accept(devStack);

    Map<String, Object> properties = new LinkedHashMap<>(stackProperties(devStack));
    properties.put("spring.grpc.server.host", "127.0.0.1");
    properties.put("credbroker.grpc.port", "0");
    properties.put("credbroker.grpc.heartbeat-interval", "300ms");
    properties.put("server.address", "127.0.0.1");
    properties.put("server.port", "0");
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
    httpPort = Integer.parseInt(broker.getEnvironment().getRequiredProperty("local.server.port"));
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
  }

  static BrokerFixture start(Path workDir) {
    return new BrokerFixture(workDir, Map.of(), devStack -> {});
  }

  /**
   * A fixture whose brokers get {@code extraProperties} on top of the defaults; {@code prepare} runs
   * against the dev-stack after the standard setup and before the broker starts (e.g. to add a Vault
   * role that an extra binding names).
   */
  static BrokerFixture start(
      Path workDir, Map<String, Object> extraProperties, Consumer<DevStack> prepare) {
    return new BrokerFixture(workDir, extraProperties, prepare);
  }

  /**
   * Broker settings that bind database role {@code role} as binding 1, with binding 0's Vault mount,
   * namespace, service account and database, so tests can use a Vault role with short TTLs.
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
   * opened its Vault circuit breaker, which would otherwise refuse the next test's first call for up
   * to the open state's wait (1 s here).
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
   * Another broker replica in this JVM, on the same dev-stack and state database, with the fixture's
   * properties plus {@code overrides}. The caller closes it.
   */
  Replica startReplica(Map<String, Object> overrides) {
    Map<String, Object> properties = new LinkedHashMap<>(brokerProperties);
    properties.putAll(overrides);
    return new Replica(startBroker(properties));
  }

  /** A broker replica started by {@link #startReplica}: its Spring context and a channel to it. */
  static final class Replica implements AutoCloseable {
    final ConfigurableApplicationContext context;
    final ManagedChannel channel;

    private Replica(ConfigurableApplicationContext context) {
      this.context = context;
      int port = context.getBean(GrpcServerLifecycle.class).getPort();
      this.channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    @Override
    public void close() {
      channel.shutdownNow();
      context.close();
    }
  }

  /**
   * A dev-stack with the broker's state database ({@code credbroker}) created and the {@code db1}
   * target database and Vault's database engine set up exactly as the setup command does it, with
   * these credential TTLs.
   */
  static DevStack startDevStack(Path workDir, Duration defaultTtl, Duration maxTtl) {
    DevStack devStack = DevStack.builder().workDir(workDir).start();
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
                postgres.port())
            .withTtls(defaultTtl, maxTtl),
        false);
    return devStack;
  }

  /**
   * What any broker on {@code devStack} needs, in-JVM or as a process: Vault (root token), the state
   * database, the Kubernetes API, and binding 0 ({@code db1} for {@code public/application}).
   */
  static Map<String, String> stackProperties(DevStack devStack) {
    PostgresInfo postgres = devStack.postgres();
    Map<String, String> properties = new LinkedHashMap<>();
    properties.put("spring.cloud.vault.uri", devStack.vaultAddress());
    properties.put("spring.cloud.vault.authentication", "TOKEN");
    properties.put("spring.cloud.vault.token", devStack.vaultRootToken());
    properties.put("spring.datasource.url", postgres.jdbcUrl("credbroker"));
    properties.put("spring.datasource.username", postgres.adminUser());
    properties.put("spring.datasource.password", postgres.adminPassword());
    properties.put("credbroker.kubernetes.kubeconfig", devStack.kubeconfigPath().toString());
    properties.put("credbroker.bindings[0].database-role", DATABASE_ROLE);
    properties.put("credbroker.bindings[0].vault-mount", "database");
    properties.put("credbroker.bindings[0].vault-role", "db1");
    properties.put("credbroker.bindings[0].namespaces[0]", "public");
    properties.put("credbroker.bindings[0].service-accounts[0]", "application");
    properties.put("credbroker.bindings[0].connection.host", postgres.host());
    properties.put("credbroker.bindings[0].connection.port", Integer.toString(postgres.port()));
    properties.put("credbroker.bindings[0].connection.database", "db1");
    properties.put("credbroker.bindings[0].connection.sslmode", "disable");
    return properties;
  }

  String jdbcUrl(String database) {
    return devStack.postgres().jdbcUrl(database);
  }

  /** GETs {@code path} from the broker's HTTP port (actuator, admin API) without credentials. */
  HttpResponse<String> httpGet(String path) throws IOException, InterruptedException {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  /** The broker's state-store record of {@code credentialId}, read through its own store. */
  CredentialRecord record(String credentialId) {
    return broker.getBean(CredentialStore.class).findById(UUID.fromString(credentialId)).orElseThrow();
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
