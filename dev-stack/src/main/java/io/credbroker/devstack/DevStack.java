package io.credbroker.devstack;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.HttpFaults;
import io.credbroker.devstack.http.Json;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.credbroker.devstack.vault.VaultServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts PostgreSQL (embedded, or an existing server), the Vault stand-in and the Kubernetes API
 * stand-in together, for tests and the dev run.
 *
 * <p>Lifecycle: {@link Builder#start} starts everything (PostgreSQL first, since Vault keeps its
 * state there in database {@value #STATE_DATABASE}) and writes the info file; {@link #close} stops
 * everything in reverse order. {@link #stopVault()} and {@link #startVault()} simulate a Vault
 * outage: the port refuses connections in between, and the restarted server has the same tokens,
 * mounts and leases. Methods may be called from any thread, but stopping and starting Vault
 * concurrently with each other is not supported.
 */
public final class DevStack implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DevStack.class);

  /** How long {@link #startVault} tries to bind a port that is not free yet. */
  private static final java.time.Duration REBIND_PATIENCE = java.time.Duration.ofSeconds(15);

  /** The database in which the Vault stand-in keeps its state (schema {@code vault}). */
  public static final String STATE_DATABASE = "devstack";

  /** Where in the work directory the Vault stand-in's serving certificate is. */
  private static final String VAULT_TLS_DIR = "vault-tls";

  private final Builder config;
  private final Path workDir;
  private final @Nullable EmbeddedPostgresServer embeddedPostgres;
  private final PostgresInfo postgres;
  private final KubernetesApiServer kubernetes;
  private final int vaultPort;
  private final int vaultTlsPort;
  private final SSLContext vaultTls;
  private final Path infoFile;
  private volatile @Nullable VaultServer vault;

  private DevStack(
      Builder config,
      Path workDir,
      @Nullable EmbeddedPostgresServer embeddedPostgres,
      PostgresInfo postgres,
      KubernetesApiServer kubernetes,
      VaultServer vault,
      SSLContext vaultTls,
      Path infoFile) {
    this.config = config;
    this.workDir = workDir;
    this.embeddedPostgres = embeddedPostgres;
    this.postgres = postgres;
    this.kubernetes = kubernetes;
    this.vault = vault;
    this.vaultPort = vault.port();
    this.vaultTlsPort = vault.tlsPort();
    this.vaultTls = vaultTls;
    this.infoFile = infoFile;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Configures a {@link DevStack}; not thread-safe, use once. */
  public static final class Builder {
    private String host = "127.0.0.1";
    private int vaultPort;
    private int vaultTlsPort;
    private int kubernetesPort;
    private int postgresPort;
    private @Nullable Path workDir;
    private @Nullable Path infoFile;
    private String rootToken = "root";
    private @Nullable String postgresUrl;
    private @Nullable String postgresUser;
    private @Nullable String postgresPassword;
    private @Nullable Path rbacFile;
    private final Set<String> databases = new LinkedHashSet<>();

    private Builder() {}

    /** 0 (the default) picks a free port; the dev run uses 8200. */
    public Builder vaultPort(int port) {
      this.vaultPort = checkPort(port);
      return this;
    }

    /**
     * Port of the Vault stand-in's TLS listener; 0 (the default) picks a free port; the dev run
     * uses 8243.
     */
    public Builder vaultTlsPort(int port) {
      this.vaultTlsPort = checkPort(port);
      return this;
    }

    /** 0 (the default) picks a free port; the dev run uses 6443. */
    public Builder kubernetesPort(int port) {
      this.kubernetesPort = checkPort(port);
      return this;
    }

    /** Port of the embedded PostgreSQL; 0 (the default) picks a free one. */
    public Builder postgresPort(int port) {
      this.postgresPort = checkPort(port);
      return this;
    }

    /**
     * Where the kubeconfig, ca.crt, the info file and PostgreSQL's data go; default a new temp dir.
     */
    public Builder workDir(Path dir) {
      this.workDir = Objects.requireNonNull(dir);
      return this;
    }

    /** Where to write the info file; default {@code <workDir>/dev-stack.json}. */
    public Builder infoFile(Path file) {
      this.infoFile = Objects.requireNonNull(file);
      return this;
    }

    /** Vault's root token; default {@code root}. */
    public Builder rootToken(String token) {
      if (token.isBlank()) {
        throw new IllegalArgumentException("root token must not be blank");
      }
      this.rootToken = token;
      return this;
    }

    /** Uses an existing PostgreSQL server (superuser credentials) instead of the embedded one. */
    public Builder existingPostgres(String jdbcUrl, String adminUser, String adminPassword) {
      if (!jdbcUrl.startsWith("jdbc:postgresql://")) {
        throw new IllegalArgumentException("not a PostgreSQL JDBC URL: " + jdbcUrl);
      }
      this.postgresUrl = jdbcUrl;
      this.postgresUser = Objects.requireNonNull(adminUser);
      this.postgresPassword = Objects.requireNonNull(adminPassword);
      return this;
    }

    /** RBAC rules for the Kubernetes stand-in; default the built-in dev RBAC. */
    public Builder rbacFile(Path yaml) {
      this.rbacFile = Objects.requireNonNull(yaml);
      return this;
    }

    /** Creates these databases at start (idempotent), e.g. {@code credbroker} for the broker. */
    public Builder createDatabase(String... names) {
      databases.addAll(List.of(names));
      return this;
    }

    public DevStack start() {
      return DevStack.start(this);
    }

    private static int checkPort(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port out of range: " + port);
      }
      return port;
    }
  }

  private static DevStack start(Builder b) {
    List<AutoCloseable> started = new ArrayList<>();
    try {
      Path workDir = b.workDir != null ? b.workDir : Files.createTempDirectory("dev-stack-");
      Files.createDirectories(workDir);
      EmbeddedPostgresServer embedded = null;
      PostgresInfo pg;
      if (b.postgresUrl != null) {
        pg =
            parseExisting(
                b.postgresUrl,
                Objects.requireNonNull(b.postgresUser),
                Objects.requireNonNull(b.postgresPassword));
      } else {
        embedded = EmbeddedPostgresServer.start(workDir.resolve("postgres"), b.postgresPort);
        started.add(embedded);
        pg = embedded.info();
      }
      pg.createDatabase(STATE_DATABASE);
      for (String db : b.databases) {
        pg.createDatabase(db);
      }
      KubernetesApiServer kubernetes =
          KubernetesApiServer.start(b.host, b.kubernetesPort, workDir, b.rbacFile);
      started.add(kubernetes);
      Path vaultTlsDir = workDir.resolve(VAULT_TLS_DIR);
      kubernetes.issueServingCertificate(
          vaultTlsDir, "vault", List.of(b.host, "127.0.0.1", "::1", "localhost"));
      SSLContext vaultTls = kubernetes.servingContext(vaultTlsDir);
      VaultServer vault = startVaultOnce(b, vaultTls, pg);
      started.add(vault);
      Path infoFile = b.infoFile != null ? b.infoFile : workDir.resolve("dev-stack.json");
      DevStack stack =
          new DevStack(b, workDir, embedded, pg, kubernetes, vault, vaultTls, infoFile);
      stack.issueBrokerCertificate();
      stack.writeInfoFile();
      return stack;
    } catch (IOException e) {
      closeAll(started);
      throw new UncheckedIOException("cannot start the dev stack", e);
    } catch (RuntimeException e) {
      closeAll(started);
      throw e;
    }
  }

  /**
   * Starts the Vault stand-in for the first time. A port left to the stack (0) comes from {@link
   * FreePorts}, not from the kernel: {@link #startVault} binds the same ports again after an
   * outage, and a port from the kernel's ephemeral range may by then be the local port of any
   * outgoing connection on the machine (a pooled one holds it for minutes), so that the restart
   * would fail with "Address already in use".
   */
  private static VaultServer startVaultOnce(Builder b, SSLContext tls, PostgresInfo pg) {
    int port = b.vaultPort == 0 ? FreePorts.next() : b.vaultPort;
    int tlsPort = b.vaultTlsPort == 0 ? FreePorts.next() : b.vaultTlsPort;
    return VaultServer.start(vaultOptions(b, port, tlsPort, tls, pg));
  }

  private static VaultServer.Options vaultOptions(
      Builder b, int port, int tlsPort, SSLContext tls, PostgresInfo pg) {
    return new VaultServer.Options(
        b.host,
        port,
        b.rootToken,
        pg.jdbcUrl(STATE_DATABASE),
        pg.adminUser(),
        pg.adminPassword(),
        java.time.Duration.ofSeconds(1),
        new VaultServer.TlsListener(tlsPort, tls));
  }

  /** {@code jdbc:postgresql://host[:port]/db} → host and port of an existing server. */
  static PostgresInfo parseExisting(String jdbcUrl, String user, String password) {
    URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("no host in " + jdbcUrl);
    }
    return new PostgresInfo(
        uri.getHost(), uri.getPort() < 0 ? 5432 : uri.getPort(), user, password);
  }

  /** {@code http://127.0.0.1:<port>}. */
  public String vaultAddress() {
    return "http://" + config.host + ":" + vaultPort;
  }

  /**
   * {@code https://127.0.0.1:<port>}: the same Vault over TLS, with a certificate for {@code
   * 127.0.0.1}, {@code ::1} and {@code localhost} signed by {@link #caCertPath()}. Brokers connect
   * here, as the chart makes them (it allows only {@code https://} for Vault).
   */
  public String vaultTlsAddress() {
    return "https://" + config.host + ":" + vaultTlsPort;
  }

  public String vaultRootToken() {
    return config.rootToken;
  }

  /** {@code https://127.0.0.1:<port>}. */
  public String kubernetesUrl() {
    String url = kubernetes.url().toString();
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  /** A kubeconfig with the CA and the admin token, usable by fabric8 and kubectl unchanged. */
  public Path kubeconfigPath() {
    return kubernetes.kubeconfigPath();
  }

  /**
   * The dev-stack's CA (PEM): it signed the Kubernetes stand-in's and the broker's certificates.
   */
  public Path caCertPath() {
    return kubernetes.caCertPath();
  }

  /**
   * A client TLS context that trusts {@link #caCertPath()} and no other CA: for Vault's TLS
   * listener ({@link #vaultTlsAddress()}), the Kubernetes API and the broker.
   */
  public SSLContext clientTls() {
    return kubernetes.clientContext();
  }

  /**
   * The broker's serving certificate and key, signed by {@link #caCertPath()}, laid out as a
   * Kubernetes TLS Secret is mounted: {@code tls.crt}, {@code tls.key}, {@code ca.crt}. Valid for
   * {@code 127.0.0.1}, {@code ::1}, {@code localhost} and the in-cluster names of the chart's
   * Service in namespace {@code credbroker}.
   */
  public Path brokerTlsDir() {
    return workDir.resolve("broker-tls");
  }

  /** {@code tls.crt} in {@link #brokerTlsDir()}. */
  public Path brokerCertificatePath() {
    return brokerTlsDir().resolve("tls.crt");
  }

  /** {@code tls.key} in {@link #brokerTlsDir()}; readable by its owner only. */
  public Path brokerPrivateKeyPath() {
    return brokerTlsDir().resolve("tls.key");
  }

  /**
   * Issues the broker a new key and serving certificate into {@link #brokerTlsDir()}, replacing the
   * old ones the way cert-manager renews a Secret; done once at start.
   */
  public void issueBrokerCertificate() {
    kubernetes.issueServingCertificate(
        brokerTlsDir(),
        "credential-broker",
        List.of(
            "127.0.0.1",
            "::1",
            "localhost",
            "credential-broker",
            "credential-broker.credbroker",
            "credential-broker.credbroker.svc",
            "credential-broker.credbroker.svc.cluster.local"));
  }

  /** Bearer token of a cluster-admin user (group {@code system:masters}). */
  public String kubernetesAdminToken() {
    return kubernetes.adminToken();
  }

  public PostgresInfo postgres() {
    return postgres;
  }

  public KubernetesApiServer kubernetes() {
    return kubernetes;
  }

  public Path workDir() {
    return workDir;
  }

  public Path infoFile() {
    return infoFile.toAbsolutePath().normalize();
  }

  /** Stops the Vault stand-in: its port refuses connections; all its state is kept. Idempotent. */
  public synchronized void stopVault() {
    VaultServer v = vault;
    if (v != null) {
      vault = null;
      v.close();
      log.info("Vault stand-in stopped");
    }
  }

  /**
   * Starts the Vault stand-in again on the same ports with the same state. Idempotent. The port of
   * a stand-in stopped a moment ago can still be held for a little while (the JDK's HTTP server
   * closes its listening socket on its dispatcher thread): binding it is retried for up to {@link
   * #REBIND_PATIENCE}.
   *
   * @throws UncheckedIOException when the port is still taken after that, or cannot be bound
   */
  public synchronized void startVault() {
    if (vault != null) {
      return;
    }
    long deadline = System.nanoTime() + REBIND_PATIENCE.toNanos();
    while (true) {
      try {
        vault =
            VaultServer.start(vaultOptions(config, vaultPort, vaultTlsPort, vaultTls, postgres));
        return;
      } catch (UncheckedIOException e) {
        if (!(e.getCause() instanceof java.net.BindException) || System.nanoTime() - deadline > 0) {
          throw e;
        }
        log.info("Vault stand-in's port {} is not free yet; binding again shortly", vaultPort);
        try {
          Thread.sleep(200);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  /**
   * Delays or error answers injected in front of the running Vault stand-in's HTTP API; they end
   * when Vault is stopped.
   */
  public HttpFaults vaultFaults() {
    VaultServer v = vault;
    if (v == null) {
      throw new IllegalStateException("Vault is stopped");
    }
    return v.faults();
  }

  public boolean vaultRunning() {
    return vault != null;
  }

  @Override
  public synchronized void close() {
    List<AutoCloseable> all = new ArrayList<>();
    if (embeddedPostgres != null) {
      all.add(embeddedPostgres);
    }
    all.add(kubernetes);
    if (vault != null) {
      all.add(vault);
    }
    vault = null;
    closeAll(all);
  }

  /** Closes in reverse start order, logging failures and going on. */
  private static void closeAll(List<AutoCloseable> started) {
    for (int i = started.size() - 1; i >= 0; i--) {
      try {
        started.get(i).close();
      } catch (Exception e) {
        log.warn("stopping {} failed: {}", started.get(i).getClass().getSimpleName(), e.toString());
      }
    }
  }

  /** The info file: every endpoint and credential a tool needs, as JSON. Written atomically. */
  ObjectNode info() {
    ObjectNode root = Json.MAPPER.createObjectNode();
    ObjectNode v = root.putObject("vault");
    v.put("address", vaultAddress());
    v.put("tlsAddress", vaultTlsAddress());
    v.put("caCert", caCertPath().toAbsolutePath().toString());
    v.put("rootToken", vaultRootToken());
    ObjectNode k = root.putObject("kubernetes");
    k.put("url", kubernetesUrl());
    k.put("kubeconfig", kubeconfigPath().toAbsolutePath().toString());
    k.put("caCert", caCertPath().toAbsolutePath().toString());
    k.put("adminToken", kubernetesAdminToken());
    ObjectNode tls = root.putObject("broker");
    tls.put("caCert", caCertPath().toAbsolutePath().toString());
    tls.put("certificate", brokerCertificatePath().toAbsolutePath().toString());
    tls.put("privateKey", brokerPrivateKeyPath().toAbsolutePath().toString());
    ObjectNode p = root.putObject("postgres");
    p.put("jdbcUrl", postgres.jdbcUrl("postgres"));
    p.put("host", postgres.host());
    p.put("port", postgres.port());
    p.put("adminUser", postgres.adminUser());
    p.put("adminPassword", postgres.adminPassword());
    p.put("embedded", embeddedPostgres != null);
    ObjectNode dbs = p.putObject("databases");
    dbs.put(STATE_DATABASE, postgres.jdbcUrl(STATE_DATABASE));
    for (String db : config.databases) {
      dbs.put(db, postgres.jdbcUrl(db));
    }
    root.put("workDir", workDir.toAbsolutePath().toString());
    return root;
  }

  private void writeInfoFile() throws IOException {
    Path target = infoFile.toAbsolutePath().normalize();
    Files.createDirectories(target.getParent());
    Path tmp = Files.createTempFile(target.getParent(), ".dev-stack", ".json");
    Json.MAPPER.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), info());
    try {
      Files.setPosixFilePermissions(
          tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException ignored) {
      // Not a POSIX file system; the file keeps its default permissions.
    }
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public String toString() {
    return "DevStack[vault="
        + vaultAddress()
        + ", kubernetes="
        + kubernetesUrl()
        + ", postgres="
        + postgres
        + "]";
  }
}
