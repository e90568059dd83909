package io.credbroker.broker.setup;

import io.credbroker.broker.config.LoopbackHosts;
import io.credbroker.broker.setup.VaultSetupOptions.BrokerAccess;
import io.credbroker.broker.setup.VaultSetupOptions.KubernetesAuth;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;
import org.springframework.boot.convert.DurationStyle;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/**
 * {@code credential-broker.jar setup}: sets up a target PostgreSQL database and Vault as the broker
 * expects them, idempotently. Runs without Spring. Secrets come from options, environment variables
 * or files and are never printed.
 *
 * <p>One instance per invocation; not thread-safe.
 */
@Command(
    name = "setup",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Sets up a target PostgreSQL database (group role, privileges, ownership event trigger, Vault admin role)",
      "and Vault (database engine, connection, rotate-root, role, broker policy, Kubernetes auth).",
      "Idempotent: a second run changes nothing and says so. Exit code 0 on success, 1 on failure, 2 on bad options."
    })
public final class SetupCommand implements Callable<Integer> {

  @Option(
      names = "--postgres-url",
      required = true,
      paramLabel = "JDBC_URL",
      description =
          "JDBC URL of a superuser connection, e.g. jdbc:postgresql://127.0.0.1:5432/postgres")
  String postgresUrl = "";

  @Option(
      names = "--postgres-user",
      defaultValue = "${env:PGUSER:-postgres}",
      description = "Superuser name (env PGUSER; default postgres)")
  String postgresUser = "postgres";

  @Option(
      names = "--postgres-password",
      defaultValue = "${env:PGPASSWORD}",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description =
          "Superuser password; prefer env PGPASSWORD or --postgres-password-file (visible in ps)")
  @Nullable String postgresPassword;

  @Option(
      names = "--postgres-password-file",
      paramLabel = "FILE",
      description = "File holding the superuser password")
  @Nullable Path postgresPasswordFile;

  @Option(
      names = "--database",
      defaultValue = "db1",
      description = "Target database (default ${DEFAULT-VALUE})")
  String database = "db1";

  @Option(
      names = "--group-role",
      description = "NOLOGIN group role owning the schema (default <database>_grp)")
  @Nullable String groupRole;

  @Option(
      names = "--vault-admin-role",
      description =
          "PostgreSQL role Vault connects as, made LOGIN CREATEROLE only; not --postgres-user"
              + " (default admin_<database>)")
  @Nullable String vaultAdminRole;

  @Option(
      names = "--template-database",
      description = "Also set up this template database and create the target from it")
  @Nullable String templateDatabase;

  @Option(
      names = "--vault-address",
      defaultValue = "${env:VAULT_ADDR:-http://127.0.0.1:8200}",
      description =
          "Vault address (env VAULT_ADDR); https, or http to a loopback address only: the token and"
              + " the PostgreSQL admin password are sent over it")
  String vaultAddress = "http://127.0.0.1:8200";

  @Option(
      names = "--vault-ca-cert",
      paramLabel = "FILE",
      defaultValue = "${env:VAULT_CACERT}",
      description =
          "PEM bundle of the CA certificates that signed Vault's certificate (env VAULT_CACERT);"
              + " when given, the only CAs trusted for Vault (default: the JVM's trust store)")
  @Nullable String vaultCaCert;

  @Option(
      names = "--vault-token",
      defaultValue = "${env:VAULT_TOKEN}",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description = "Vault token; prefer env VAULT_TOKEN or --vault-token-file (visible in ps)")
  @Nullable String vaultToken;

  @Option(
      names = "--vault-token-file",
      paramLabel = "FILE",
      description = "File holding the Vault token")
  @Nullable Path vaultTokenFile;

  @Option(
      names = "--mount",
      defaultValue = "database",
      description = "Database secrets engine path (default ${DEFAULT-VALUE})")
  String mount = "database";

  @Option(names = "--connection", description = "Vault connection name (default <database>)")
  @Nullable String connection;

  @Option(
      names = "--vault-role",
      description = "Vault role pods get credentials from (default <database>)")
  @Nullable String vaultRole;

  @Option(
      names = "--default-ttl",
      defaultValue = "1h",
      converter = DurationConverter.class,
      description = "Credential TTL (default ${DEFAULT-VALUE})")
  Duration defaultTtl = Duration.ofHours(1);

  @Option(
      names = "--max-ttl",
      defaultValue = "24h",
      converter = DurationConverter.class,
      description = "Credential max TTL (default ${DEFAULT-VALUE})")
  Duration maxTtl = Duration.ofHours(24);

  @Option(
      names = "--vault-postgres-host",
      description = "Host Vault uses to reach PostgreSQL (default: the host of --postgres-url)")
  @Nullable String vaultPostgresHost;

  @Option(
      names = "--vault-postgres-port",
      description = "Port Vault uses to reach PostgreSQL (default: the port of --postgres-url)")
  @Nullable Integer vaultPostgresPort;

  @Option(
      names = "--vault-postgres-parameters",
      defaultValue = VaultSetupOptions.DEFAULT_CONNECTION_PARAMETERS,
      description =
          "Query parameters of Vault's connection URL (default ${DEFAULT-VALUE}: TLS that checks the"
              + " server's certificate and name; sslmode=disable only for a local server without TLS)")
  String vaultPostgresParameters = VaultSetupOptions.DEFAULT_CONNECTION_PARAMETERS;

  @Option(
      names = "--password-authentication",
      defaultValue = "scram-sha-256",
      description =
          "How Vault sends new passwords to PostgreSQL: scram-sha-256 or password (default ${DEFAULT-VALUE})")
  String passwordAuthentication = "scram-sha-256";

  @Option(
      names = "--broker-policy",
      defaultValue = "credential-broker",
      description = "Vault policy of the broker (default ${DEFAULT-VALUE})")
  String brokerPolicy = "credential-broker";

  @Option(
      names = "--kubernetes-host",
      description = "Kubernetes API URL; when given, Kubernetes auth is set up for the broker")
  @Nullable URI kubernetesHost;

  @Option(
      names = "--kubernetes-ca-file",
      paramLabel = "FILE",
      description = "PEM CA of the Kubernetes API")
  @Nullable Path kubernetesCaFile;

  @Option(
      names = "--kubernetes-auth-path",
      defaultValue = "kubernetes",
      description = "Kubernetes auth mount (default ${DEFAULT-VALUE})")
  String kubernetesAuthPath = "kubernetes";

  @Option(
      names = "--broker-vault-role",
      defaultValue = "credential-broker",
      description = "Vault role the broker logs in with (default ${DEFAULT-VALUE})")
  String brokerVaultRole = "credential-broker";

  @Option(
      names = "--broker-service-account",
      defaultValue = "credential-broker",
      description = "The broker's service account (default ${DEFAULT-VALUE})")
  String brokerServiceAccount = "credential-broker";

  @Option(
      names = "--broker-namespace",
      defaultValue = "credbroker",
      description = "The broker's namespace (default ${DEFAULT-VALUE})")
  String brokerNamespace = "credbroker";

  @Option(
      names = "--broker-audience",
      description = "Audience the broker's service-account token must carry (default: none)")
  @Nullable String brokerAudience;

  @Option(
      names = "--broker-token-ttl",
      defaultValue = "1h",
      converter = DurationConverter.class,
      description = "TTL of the broker's Vault token (default ${DEFAULT-VALUE})")
  Duration brokerTokenTtl = Duration.ofHours(1);

  @Option(
      names = "--broker-token-max-ttl",
      defaultValue = "24h",
      converter = DurationConverter.class,
      description =
          "Max TTL of the broker's Vault login token (default ${DEFAULT-VALUE}); credentials do not depend on it")
  Duration brokerTokenMaxTtl = Duration.ofHours(24);

  @Option(
      names = "--issuing-token-role",
      defaultValue = "credential-broker-issuer",
      description =
          "Token role the broker creates its issuing tokens through (default ${DEFAULT-VALUE})")
  String issuingTokenRole = "credential-broker-issuer";

  @Option(
      names = "--issuing-token-ttl",
      defaultValue = "48h",
      converter = DurationConverter.class,
      description =
          "Fixed lifetime of the orphan tokens credentials are created with; every lease dies with its"
              + " token, so the broker rotates credentials before; at least twice --default-ttl (default ${DEFAULT-VALUE})")
  Duration issuingTokenTtl = Duration.ofHours(48);

  @Option(names = "--dry-run", description = "Print the plan (secrets masked) and change nothing")
  boolean dryRun;

  private PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
  private Supplier<Secret> initialAdminPasswords = Secret::random;

  /** Runs the command with the process's standard output and error, returning the exit code. */
  public static int run(String... args) {
    return run(
        args,
        new PrintWriter(System.out, true, StandardCharsets.UTF_8),
        new PrintWriter(System.err, true, StandardCharsets.UTF_8),
        Secret::random);
  }

  /**
   * For tests: chosen streams, and the source of the admin password handed to Vault before {@code
   * rotate-root}.
   */
  static int run(
      String[] args, PrintWriter out, PrintWriter err, Supplier<Secret> initialAdminPasswords) {
    SetupCommand command = new SetupCommand();
    command.out = out;
    command.initialAdminPasswords = initialAdminPasswords;
    CommandLine cli =
        new CommandLine(command).setOut(out).setErr(err).setCaseInsensitiveEnumValuesAllowed(true);
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          if (e instanceof SetupException || e instanceof IllegalArgumentException) {
            err.println("setup failed: " + e.getMessage());
            err.flush();
            return 1;
          }
          throw e;
        });
    int code = cli.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  @Override
  public Integer call() {
    TargetDatabaseOptions db = databaseOptions();
    VaultSetupOptions vault = vaultOptions(db);
    VaultSetup vaultSetup = new VaultSetup(vault, vaultCaCertificates());
    TargetDatabaseSetup databaseSetup = new TargetDatabaseSetup(db);
    out.println(
        "PostgreSQL "
            + Masking.url(db.adminJdbcUrl())
            + " as "
            + db.adminUser()
            + ", Vault "
            + LoopbackHosts.origin(vault.vaultAddress()));
    vault.warnings().forEach(warning -> out.println("warning: " + warning));
    // Vault's address, certificate and token are checked before PostgreSQL is changed: a Vault
    // that cannot be reached would otherwise leave a half-done setup behind.
    vaultSetup.checkConnection();
    // Each half is printed as soon as it is done, so a failure in Vault still shows what PostgreSQL
    // got.
    SetupReport postgres = databaseSetup.apply(dryRun);
    out.print(postgres.renderHeader() + postgres.renderSteps());
    out.flush();
    SetupReport vaultReport =
        vaultSetup.apply(
            dryRun,
            () -> {
              Secret password = initialAdminPasswords.get();
              databaseSetup.setVaultAdminPassword(password);
              return password;
            });
    out.print(vaultReport.renderSteps());
    out.print(postgres.plus(vaultReport).renderSummary());
    out.flush();
    return 0;
  }

  TargetDatabaseOptions databaseOptions() {
    Secret password =
        secret(
            "PostgreSQL admin password",
            postgresPassword,
            postgresPasswordFile,
            "--postgres-password, PGPASSWORD or --postgres-password-file");
    return new TargetDatabaseOptions(
        postgresUrl,
        postgresUser,
        password,
        database,
        groupRole != null ? groupRole : database + "_grp",
        vaultAdminRole != null ? vaultAdminRole : "admin_" + database,
        templateDatabase);
  }

  VaultSetupOptions vaultOptions(TargetDatabaseOptions db) {
    Secret token =
        secret(
            "Vault token",
            vaultToken,
            vaultTokenFile,
            "--vault-token, VAULT_TOKEN or --vault-token-file");
    PGSimpleDataSource parsed = new PGSimpleDataSource();
    parsed.setUrl(db.adminJdbcUrl());
    String host = vaultPostgresHost != null ? vaultPostgresHost : parsed.getServerNames()[0];
    int port =
        vaultPostgresPort != null
            ? vaultPostgresPort
            : parsed.getPortNumbers()[0] == 0 ? 5432 : parsed.getPortNumbers()[0];
    KubernetesAuth kubernetes = null;
    if (kubernetesHost != null) {
      String ca = kubernetesCaFile == null ? null : readFile(kubernetesCaFile, "Kubernetes CA");
      kubernetes =
          new KubernetesAuth(
              kubernetesAuthPath,
              kubernetesHost,
              ca,
              brokerVaultRole,
              brokerServiceAccount,
              brokerNamespace,
              brokerAudience,
              brokerTokenTtl,
              brokerTokenMaxTtl);
    } else if (kubernetesCaFile != null || brokerAudience != null) {
      throw new IllegalArgumentException(
          "--kubernetes-ca-file and --broker-audience need --kubernetes-host");
    }
    return new VaultSetupOptions(
        vaultUri(),
        token,
        mount,
        connection != null ? connection : db.database(),
        vaultRole != null ? vaultRole : db.database(),
        db.database(),
        db.vaultAdminRole(),
        db.groupRole(),
        host,
        port,
        vaultPostgresParameters,
        passwordAuthentication,
        defaultTtl,
        maxTtl,
        new BrokerAccess(brokerPolicy, kubernetes, issuingTokenRole, issuingTokenTtl));
  }

  /** The Vault address; one that does not parse is named masked, as it may hold a password. */
  private URI vaultUri() {
    try {
      return new URI(vaultAddress);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "the Vault address " + Masking.url(vaultAddress) + " is not a URL: " + e.getReason());
    }
  }

  /**
   * The CAs of {@code --vault-ca-cert}, read before anything is changed; null (the JVM's trust
   * store) when neither the option nor {@code VAULT_CACERT} is set, or set empty as the vault CLI
   * takes it.
   */
  @Nullable VaultCaCertificates vaultCaCertificates() {
    if (vaultCaCert == null || vaultCaCert.isBlank()) {
      return null;
    }
    return VaultCaCertificates.read(Path.of(vaultCaCert));
  }

  private static Secret secret(
      String what, @Nullable String value, @Nullable Path file, String how) {
    if (file != null) {
      return Secret.of(readFile(file, what).strip());
    }
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException("the " + what + " is missing: give " + how);
    }
    return Secret.of(value);
  }

  private static String readFile(Path file, String what) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read the " + what + " from " + file + ": " + e.getMessage());
    }
  }

  /** Durations as {@code 90s}, {@code 1h} or ISO-8601 ({@code PT1H}). */
  static final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      try {
        return DurationStyle.detectAndParse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(
            "'" + value + "' is not a duration such as 90s, 15m or 1h");
      }
    }
  }
}
