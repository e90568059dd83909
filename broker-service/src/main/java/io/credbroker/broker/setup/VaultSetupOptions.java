package io.credbroker.broker.setup;

import io.credbroker.broker.config.LoopbackHosts;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What to set up in Vault: the database secrets engine for one target database, and the policy and
 * Kubernetes auth role the broker logs in with. Validated on construction.
 *
 * @param vaultAddress e.g. {@code https://vault.example:8200}; plain {@code http} only to a
 *     loopback address, since the token and the PostgreSQL admin password are sent over it
 * @param vaultToken a token allowed to mount engines, write policies and configure auth methods
 * @param mount path of the database secrets engine, e.g. {@code database}
 * @param connectionName name of the connection config, e.g. {@code db1} ({@code
 *     <mount>/config/<name>})
 * @param roleName the Vault role pods get credentials from ({@code <mount>/creds/<role>})
 * @param database the target database
 * @param vaultAdminRole the PostgreSQL login role Vault connects as
 * @param groupRole the PostgreSQL group every dynamic role joins
 * @param postgresHost host Vault uses to reach PostgreSQL (may differ from the one setup uses)
 * @param postgresPort its port
 * @param connectionParameters query string appended to Vault's connection URL, e.g. {@code
 *     sslmode=disable}; may be empty
 * @param passwordAuthentication {@code scram-sha-256} (Vault sends a verifier, never the password)
 *     or {@code password}
 * @param defaultTtl lease TTL of a credential
 * @param maxTtl maximum lease lifetime of a credential
 * @param broker the broker's own access
 */
public record VaultSetupOptions(
    URI vaultAddress,
    Secret vaultToken,
    String mount,
    String connectionName,
    String roleName,
    String database,
    String vaultAdminRole,
    String groupRole,
    String postgresHost,
    int postgresPort,
    String connectionParameters,
    String passwordAuthentication,
    Duration defaultTtl,
    Duration maxTtl,
    BrokerAccess broker) {

  /**
   * Vault's connection to PostgreSQL verifies the server's certificate and name, so the admin
   * password and every dynamic role's password travel encrypted to the real server only.
   */
  public static final String DEFAULT_CONNECTION_PARAMETERS = "sslmode=verify-full";

  public VaultSetupOptions {
    Objects.requireNonNull(vaultAddress, "vaultAddress");
    Objects.requireNonNull(vaultToken, "vaultToken");
    if (vaultToken.reveal().chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
      // Sent as a header, a token with a line break is refused by the HTTP client in a message
      // that quotes it.
      throw new IllegalArgumentException(
          "the Vault token holds a space, a control character or a non-ASCII character (a"
              + " trailing newline?); it is not shown here");
    }
    if (vaultAddress.getScheme() == null
        || !vaultAddress.getScheme().matches("https?")
        || vaultAddress.getHost() == null) {
      throw new IllegalArgumentException(
          "the Vault address must be an http(s) URL, e.g. https://vault.example:8200");
    }
    requireTlsBeyondThisMachine(
        vaultAddress, "Vault address", "the Vault token and the PostgreSQL admin password");
    Names.vaultName("mount", mount);
    Names.vaultName("connection name", connectionName);
    Names.vaultName("Vault role", roleName);
    Names.sqlName("database", database);
    Names.sqlName("Vault admin role", vaultAdminRole);
    Names.sqlName("group role", groupRole);
    if (postgresHost.isBlank() || !postgresHost.matches("[A-Za-z0-9.:\\[\\]_-]+")) {
      throw new IllegalArgumentException(
          "'" + postgresHost + "' is not a valid PostgreSQL host for Vault");
    }
    if (postgresPort < 1 || postgresPort > 65535) {
      throw new IllegalArgumentException(
          "the PostgreSQL port for Vault must be between 1 and 65535");
    }
    if (!connectionParameters.matches("[A-Za-z0-9_.=&%/-]*")) {
      throw new IllegalArgumentException(
          "connection parameters must look like key=value&key=value");
    }
    if (!passwordAuthentication.equals("scram-sha-256")
        && !passwordAuthentication.equals("password")) {
      throw new IllegalArgumentException(
          "password authentication must be scram-sha-256 or password");
    }
    requirePositiveSeconds("default TTL", defaultTtl);
    requirePositiveSeconds("max TTL", maxTtl);
    if (defaultTtl.compareTo(maxTtl) > 0) {
      throw new IllegalArgumentException(
          "the default TTL (" + defaultTtl + ") must not exceed the max TTL (" + maxTtl + ")");
    }
    Objects.requireNonNull(broker, "broker");
    if (broker.issuingTokenTtl().compareTo(defaultTtl.multipliedBy(2)) < 0) {
      // The broker issues with a token while more than half of its life is left; a credential must
      // fit at least one lease into that, or it would be rotated for its token at once.
      throw new IllegalArgumentException(
          "the issuing token TTL ("
              + broker.issuingTokenTtl()
              + ") must be at least twice the credential TTL ("
              + defaultTtl
              + "): every lease dies with the token that created it");
    }
  }

  /**
   * What is allowed but costs something: issuing tokens that die before credentials reach their max
   * TTL make the broker rotate those credentials early.
   */
  public List<String> warnings() {
    if (broker.issuingTokenTtl().compareTo(maxTtl.multipliedBy(2)) < 0) {
      return List.of(
          "issuing tokens live "
              + broker.issuingTokenTtl()
              + ", less than twice the credential max TTL ("
              + maxTtl
              + "): credentials will be rotated before their Vault token dies rather than at their"
              + " max TTL");
    }
    return List.of();
  }

  /**
   * The reference setup for one database: mount {@code database}, connection and role named after
   * the database, {@code admin_<db>} and {@code <db>_grp}, SCRAM, TTL 1h / max 24h, policy {@code
   * credential-broker}, no Kubernetes auth, and Vault's connection to PostgreSQL with {@code
   * sslmode=verify-full}.
   */
  public static VaultSetupOptions defaults(
      URI vaultAddress, Secret vaultToken, String database, String postgresHost, int postgresPort) {
    return new VaultSetupOptions(
        vaultAddress,
        vaultToken,
        "database",
        database,
        database,
        database,
        "admin_" + database,
        database + "_grp",
        postgresHost,
        postgresPort,
        DEFAULT_CONNECTION_PARAMETERS,
        "scram-sha-256",
        Duration.ofHours(1),
        Duration.ofHours(24),
        new BrokerAccess("credential-broker", null));
  }

  /**
   * The same options with other query parameters of Vault's connection URL (e.g. {@code
   * sslmode=disable}).
   */
  public VaultSetupOptions withConnectionParameters(String newConnectionParameters) {
    return new VaultSetupOptions(
        vaultAddress,
        vaultToken,
        mount,
        connectionName,
        roleName,
        database,
        vaultAdminRole,
        groupRole,
        postgresHost,
        postgresPort,
        newConnectionParameters,
        passwordAuthentication,
        defaultTtl,
        maxTtl,
        broker);
  }

  /** The same options with other credential TTLs (tests use seconds or minutes). */
  public VaultSetupOptions withTtls(Duration newDefaultTtl, Duration newMaxTtl) {
    return new VaultSetupOptions(
        vaultAddress,
        vaultToken,
        mount,
        connectionName,
        roleName,
        database,
        vaultAdminRole,
        groupRole,
        postgresHost,
        postgresPort,
        connectionParameters,
        passwordAuthentication,
        newDefaultTtl,
        newMaxTtl,
        broker);
  }

  /** The same options with other broker access (for example with Kubernetes auth). */
  public VaultSetupOptions withBroker(BrokerAccess newBroker) {
    return new VaultSetupOptions(
        vaultAddress,
        vaultToken,
        mount,
        connectionName,
        roleName,
        database,
        vaultAdminRole,
        groupRole,
        postgresHost,
        postgresPort,
        connectionParameters,
        passwordAuthentication,
        defaultTtl,
        maxTtl,
        newBroker);
  }

  /** Vault's connection URL: user name and password stay templates that Vault fills in itself. */
  public String connectionUrl() {
    String host =
        postgresHost.contains(":") && !postgresHost.startsWith("[")
            ? "[" + postgresHost + "]"
            : postgresHost;
    return "postgresql://{{username}}:{{password}}@"
        + host
        + ":"
        + postgresPort
        + "/"
        + database
        + (connectionParameters.isEmpty() ? "" : "?" + connectionParameters);
  }

  /** Refuses plain http to an address that is not loopback, naming what would cross the network. */
  private static void requireTlsBeyondThisMachine(URI address, String what, String exposed) {
    if (LoopbackHosts.isClearTextBeyondThisMachine(address.getScheme(), address.getHost())) {
      throw new IllegalArgumentException(
          "refusing the "
              + what
              + " "
              + LoopbackHosts.origin(address)
              + ": over plain http "
              + exposed
              + " would cross the network in clear text; use https (http is accepted only for a"
              + " loopback address: 127.0.0.0/8, [::1] or localhost)");
    }
  }

  @Override
  public String toString() {
    return "VaultSetupOptions[vaultAddress="
        + LoopbackHosts.origin(vaultAddress)
        + ", vaultToken="
        + Secret.MASK
        + ", mount="
        + mount
        + ", connectionName="
        + connectionName
        + ", roleName="
        + roleName
        + ", connectionUrl="
        + connectionUrl()
        + ", vaultAdminRole="
        + vaultAdminRole
        + ", groupRole="
        + groupRole
        + ", passwordAuthentication="
        + passwordAuthentication
        + ", defaultTtl="
        + defaultTtl
        + ", maxTtl="
        + maxTtl
        + ", broker="
        + broker
        + "]";
  }

  static void requirePositiveSeconds(String what, Duration d) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.toSeconds() < 1 || d.toNanos() % 1_000_000_000L != 0) {
      throw new IllegalArgumentException(what + " must be a whole number of seconds, at least 1s");
    }
  }

  /**
   * The broker's own access to Vault: a policy, and (when {@code kubernetes} is set) the Kubernetes
   * auth method and the role the broker logs in with.
   *
   * @param policyName e.g. {@code credential-broker}
   * @param kubernetes null to skip Kubernetes auth (a broker that uses a token)
   */
  public record BrokerAccess(
      String policyName,
      @Nullable KubernetesAuth kubernetes,
      String issuingTokenRole,
      Duration issuingTokenTtl) {

    /** The token role and lifetime of issuing tokens unless chosen otherwise. */
    public static final String DEFAULT_ISSUING_TOKEN_ROLE = "credential-broker-issuer";

    public static final Duration DEFAULT_ISSUING_TOKEN_TTL = Duration.ofHours(48);

    public BrokerAccess {
      Names.vaultName("policy", policyName);
      Names.vaultName("issuing token role", issuingTokenRole);
      requirePositiveSeconds("issuing token TTL", issuingTokenTtl);
    }

    /** Issuing tokens from {@value #DEFAULT_ISSUING_TOKEN_ROLE}, living 48 h. */
    public BrokerAccess(String policyName, @Nullable KubernetesAuth kubernetes) {
      this(policyName, kubernetes, DEFAULT_ISSUING_TOKEN_ROLE, DEFAULT_ISSUING_TOKEN_TTL);
    }

    /** The policy of issuing tokens: read credentials, nothing else. */
    public String issuingPolicyName() {
      return policyName + "-issuer";
    }

    /** The same access with issuing tokens of another lifetime (tests use seconds). */
    public BrokerAccess withIssuingTokenTtl(Duration ttl) {
      return new BrokerAccess(policyName, kubernetes, issuingTokenRole, ttl);
    }
  }

  /**
   * Kubernetes auth for the broker.
   *
   * @param authPath mount path, e.g. {@code kubernetes}
   * @param kubernetesHost API server URL Vault sends TokenReviews to
   * @param caCertPem the API server's CA (PEM), or null to use the system trust
   * @param roleName the Vault role the broker logs in with
   * @param serviceAccount the broker's service account
   * @param namespace its namespace
   * @param audience the audience the broker's projected token must carry, or null for none
   * @param tokenTtl TTL of the broker's Vault token
   * @param tokenMaxTtl maximum lifetime of the broker's Vault token
   */
  public record KubernetesAuth(
      String authPath,
      URI kubernetesHost,
      @Nullable String caCertPem,
      String roleName,
      String serviceAccount,
      String namespace,
      @Nullable String audience,
      Duration tokenTtl,
      Duration tokenMaxTtl) {

    public KubernetesAuth {
      Names.vaultName("Kubernetes auth path", authPath);
      Objects.requireNonNull(kubernetesHost, "kubernetesHost");
      if (kubernetesHost.getScheme() == null || !kubernetesHost.getScheme().matches("https?")) {
        throw new IllegalArgumentException("the Kubernetes host must be an http(s) URL");
      }
      // Vault sends its TokenReviews there: loopback is Vault's own machine.
      requireTlsBeyondThisMachine(
          kubernetesHost,
          "Kubernetes host",
          "Vault's reviewer token and every token that logs in (the broker's)");
      if (caCertPem != null && !caCertPem.contains("-----BEGIN CERTIFICATE-----")) {
        throw new IllegalArgumentException("the Kubernetes CA must be a PEM certificate");
      }
      Names.vaultName("broker Vault role", roleName);
      if (!serviceAccount.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
          || !namespace.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?")) {
        throw new IllegalArgumentException(
            "the broker's service account and namespace must be Kubernetes names");
      }
      if (audience != null && audience.isBlank()) {
        throw new IllegalArgumentException("the broker token audience must not be blank");
      }
      requirePositiveSeconds("broker token TTL", tokenTtl);
      requirePositiveSeconds("broker token max TTL", tokenMaxTtl);
      if (tokenTtl.compareTo(tokenMaxTtl) > 0) {
        throw new IllegalArgumentException("the broker token TTL must not exceed its max TTL");
      }
    }
  }
}
