package io.credbroker.broker.config;

import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Positive;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Everything an operator configures about the broker, under {@code credbroker}.
 *
 * <p>Bound once at startup and immutable afterwards. Vault's address and the broker's own Vault login
 * are Spring Cloud Vault's ({@code spring.cloud.vault.*}); the state database is Spring Boot's
 * ({@code spring.datasource.*}); the Resilience4j limits around Vault are under
 * {@code resilience4j.*.instances.vault}, and the time limit of a Vault call is its HTTP client's
 * ({@code spring.cloud.vault.connection-timeout} and {@code read-timeout}).
 *
 * @param grpc the pod-facing gRPC API
 * @param kubernetes how tokens are checked against the Kubernetes API
 * @param replica this process's identity among the broker replicas
 * @param bindings which service accounts may obtain which database role; a role no binding names
 *     does not exist, and an identity no binding allows is refused (deny by default)
 * @param admin the REST admin API for operators
 * @param revocation revoking pods and credentials, and telling the other replicas
 * @param lease how credentials are kept alive, rotated and ended
 * @param cluster how replicas find out about each other and take over each other's credentials
 * @param vault the broker's Vault setup beyond its login
 * @param tls the serving key and certificate of the gRPC API and the admin API
 */
@ConfigurationProperties("credbroker")
@Validated
public record BrokerProperties(
    @DefaultValue @Valid Grpc grpc,
    @DefaultValue @Valid Kubernetes kubernetes,
    @DefaultValue @Valid Replica replica,
    @DefaultValue @Valid List<Binding> bindings,
    @DefaultValue @Valid Admin admin,
    @DefaultValue @Valid Revocation revocation,
    @DefaultValue @Valid Lease lease,
    @DefaultValue @Valid Cluster cluster,
    @DefaultValue @Valid Vault vault,
    @DefaultValue @Valid Tls tls) {

  /**
   * @param port the port the gRPC server listens on ({@code spring.grpc.server.port} is derived from
   *     it); 0 picks a free port
   * @param heartbeatInterval how often an idle {@code WatchCredential} stream receives a heartbeat, so
   *     that proxies keep the connection open and clients notice a dead broker
   * @param callThreads how many threads run the server's calls and their callbacks at once; calls
   *     beyond that wait in a queue, so thousands of streams ending together cannot grow the thread
   *     count
   */
  public record Grpc(
      @DefaultValue("9090") @Min(0) @Max(65535) int port,
      @DefaultValue("30s") @NotNull Duration heartbeatInterval,
      @DefaultValue("64") @Positive int callThreads) {}

  /**
   * @param kubeconfig a kubeconfig file to reach the API server with; when unset the in-cluster
   *     service-account configuration (or the usual auto-configuration) is used
   * @param audience the audience a pod's token must carry
   * @param allowUnboundTokens whether tokens that are not bound to a pod are accepted (their pod name
   *     and UID are then unknown)
   * @param cacheMaxTtl the longest a successful review is reused; never past the token's own expiry
   * @param failureCacheTtl how long a rejected token stays rejected without asking Kubernetes again
   * @param maxConcurrentRequests how many reviews may be in flight at once; fabric8's default of 5
   *     per host would serialise reviews under load
   * @param connectTimeout how long to wait for a connection to the API server
   * @param requestTimeout how long a review may take before the request fails as unavailable
   */
  public record Kubernetes(
      @Nullable Path kubeconfig,
      @DefaultValue("credbroker") @NotBlank String audience,
      @DefaultValue("false") boolean allowUnboundTokens,
      @DefaultValue("5m") @NotNull Duration cacheMaxTtl,
      @DefaultValue("5s") @NotNull Duration failureCacheTtl,
      @DefaultValue("256") @Min(1) int maxConcurrentRequests,
      @DefaultValue("2s") @NotNull Duration connectTimeout,
      @DefaultValue("5s") @NotNull Duration requestTimeout) {}

  /**
   * @param id this replica's name in the state store (owner of the leases it issues); when unset the
   *     host name plus a random suffix, so a restarted process is a new replica
   */
  public record Replica(@Nullable String id) {}

  /**
   * One database role pods may ask for, and who may ask.
   *
   * @param databaseRole the name pods ask for (for example {@code db1})
   * @param vaultMount the mount path of Vault's database secrets engine
   * @param vaultRole the Vault role whose {@code creds} endpoint issues the PostgreSQL role
   * @param namespaces the namespaces whose pods may obtain it
   * @param serviceAccounts the service accounts (in any of those namespaces) that may obtain it
   * @param connection where the database is, sent to the pod with the credential
   */
  public record Binding(
      @NotBlank @Pattern(regexp = "[A-Za-z0-9_.-]{1,63}") String databaseRole,
      @DefaultValue("database") @NotBlank String vaultMount,
      @NotBlank @Pattern(regexp = "[A-Za-z0-9_.-]{1,128}") String vaultRole,
      @NotEmpty List<@NotBlank String> namespaces,
      @NotEmpty List<@NotBlank String> serviceAccounts,
      @Valid @NotNull Connection connection) {}

  /**
   * @param host the database host as pods reach it
   * @param port the database port
   * @param database the database name
   * @param sslmode the libpq {@code sslmode} pods should use; {@code verify-full} unless set, so
   *     that a pod's password never crosses the network in clear text nor goes to a server that
   *     merely claims to be the database
   */
  public record Connection(
      @NotBlank String host,
      @DefaultValue("5432") @Min(1) @Max(65535) int port,
      @NotBlank String database,
      @DefaultValue("verify-full")
          @Pattern(regexp = "disable|allow|prefer|require|verify-ca|verify-full")
          String sslmode) {}

  /**
   * @param audiences the audiences an operator's token must carry; empty means the API server's own
   *     audiences, i.e. a token from {@code kubectl create token <account>} without {@code --audience}
   * @param authenticationCacheTtl how long a reviewed operator token is reused without asking
   *     Kubernetes again (never past the token's own expiry when it is a JWT)
   * @param authorizationCacheTtl how long a SubjectAccessReview decision is reused; a revoked RBAC
   *     binding takes effect after at most this long
   */
  public record Admin(
      @DefaultValue List<@NotBlank String> audiences,
      @DefaultValue("10s") @NotNull Duration authenticationCacheTtl,
      @DefaultValue("5s") @NotNull Duration authorizationCacheTtl) {}

  /**
   * @param notificationChannel the PostgreSQL {@code LISTEN/NOTIFY} channel on which replicas tell
   *     each other about blocks and revocations
   * @param blockCacheTtl how long a replica trusts its cached answer to "is this pod blocked?"; blocks
   *     arrive by notification at once, this only bounds the damage of a lost notification
   * @param listenerPollInterval how long the notification listener waits in one call before it checks
   *     whether it should stop
   * @param listenerReconnectDelay how long the listener waits before reconnecting after its connection
   *     failed
   * @param undroppedCheckInterval how often each replica borrows a credential per binding to read the roles
   *     the revocation statements could not drop yet (admin API, metric); revoking that credential also
   *     retries their drop
   */
  public record Revocation(
      @DefaultValue("credbroker_events") @Pattern(regexp = "[a-z_][a-z0-9_]{0,62}")
          String notificationChannel,
      @DefaultValue("30s") @NotNull Duration blockCacheTtl,
      @DefaultValue("500ms") @NotNull Duration listenerPollInterval,
      @DefaultValue("1s") @NotNull Duration listenerReconnectDelay,
      @DefaultValue("5m") @NotNull Duration undroppedCheckInterval) {}

  /**
   * @param renewalFraction the fraction of a lease's lifetime after which it is renewed (about 2/3)
   * @param renewalJitter the largest fraction of the lifetime by which a renewal is moved earlier at
   *     random, so that leases issued together do not renew together
   * @param rotationMargin a renewal that Vault's max TTL would cap below this fraction of the lease's
   *     lifetime is replaced by a rotation (1.0: any capped renewal), so that the replaced credential
   *     still has time to drain
   * @param reconnectGrace how long a credential outlives a stream that broke without a release, so
   *     that the client can resume it; then it is revoked
   * @param drainGrace how long a replaced credential stays valid after the client acknowledged the
   *     rotation, so that the pool's connections using it finish
   * @param pollInterval how often the shared scheduler loads this replica's credentials that are due
   *     within the next two intervals
   * @param workers how many renewals, rotations and revocations run at once on this replica
   * @param batchSize the most credentials loaded (or retried) at once
   * @param expiringWarning a credential that could not be renewed and expires within this time is
   *     reported to its stream as {@code expiring}
   * @param renewalRetryMax the longest wait between two attempts to renew a lease Vault did not renew
   * @param revocationRetryInitial the wait before the first retry of a revocation Vault did not confirm
   * @param revocationRetryMax the longest wait between two retries of a revocation
   * @param maxTtlCache how long the learned max TTL of a Vault role is trusted before it is probed again
   * @param tokenExpiryMargin how long before the Vault token that created a credential dies the
   *     credential is rotated at the latest (Vault revokes every lease with the token that created
   *     it); more than the drain grace, so that the replaced credential drains before it dies
   */
  public record Lease(
      @DefaultValue("0.66") @DecimalMin("0.1") @DecimalMax("0.9") double renewalFraction,
      @DefaultValue("0.1") @DecimalMin("0") @DecimalMax("0.3") double renewalJitter,
      @DefaultValue("1.0") @DecimalMin("0.1") @DecimalMax("1.0") double rotationMargin,
      @DefaultValue("2m") @NotNull Duration reconnectGrace,
      @DefaultValue("30s") @NotNull Duration drainGrace,
      @DefaultValue("1s") @NotNull Duration pollInterval,
      @DefaultValue("4") @Min(1) @Max(64) int workers,
      @DefaultValue("1000") @Min(1) int batchSize,
      @DefaultValue("30s") @NotNull Duration expiringWarning,
      @DefaultValue("30s") @NotNull Duration renewalRetryMax,
      @DefaultValue("5s") @NotNull Duration revocationRetryInitial,
      @DefaultValue("10m") @NotNull Duration revocationRetryMax,
      @DefaultValue("10m") @NotNull Duration maxTtlCache,
      @DefaultValue("5m") @NotNull Duration tokenExpiryMargin) {

    public Lease {
      if (tokenExpiryMargin != null
          && drainGrace != null
          && tokenExpiryMargin.compareTo(drainGrace) <= 0) {
        throw new IllegalArgumentException(
            "credbroker.lease.token-expiry-margin ("
                + tokenExpiryMargin
                + ") must be longer than credbroker.lease.drain-grace ("
                + drainGrace
                + "): a credential rotated because its Vault token dies must drain before it");
      }
    }
  }

  /**
   * @param heartbeatInterval how often this replica writes its heartbeat and looks for stale replicas
   * @param staleAfter a replica whose heartbeat is older than this is presumed dead and its live
   *     credentials are claimed by the others; several heartbeat intervals
   * @param claimBatchSize the most credentials of dead replicas claimed in one statement
   */
  public record Cluster(
      @DefaultValue("2s") @NotNull Duration heartbeatInterval,
      @DefaultValue("15s") @NotNull Duration staleAfter,
      @DefaultValue("500") @Min(1) int claimBatchSize) {}

  /**
   * The broker's use of Vault beyond the connection ({@code spring.cloud.vault.*}).
   *
   * @param issuingTokenRole the token role ({@code auth/token/roles/<name>}, written by the setup
   *     command) through which the broker creates the tokens that create credentials: orphan,
   *     non-renewable tokens with a fixed lifetime, so that no credential dies with a replica's own
   *     login token (see {@code docs/token-lifetimes.md})
   */
  public record Vault(
      @DefaultValue("credential-broker-issuer") @Pattern(regexp = "[A-Za-z0-9_.-]{1,128}")
          String issuingTokenRole) {}

  /**
   * Read by application.yaml, which turns them into Spring Boot's SSL bundle {@code server} (the admin
   * API's {@code server.ssl}) and spring-grpc's {@code spring.grpc.server.ssl}; bound here so that
   * they are documented and checked in one place. There is no plaintext mode: pods' tokens and
   * passwords and operators' tokens cross these connections, so the broker does not start without a
   * key and certificate.
   *
   * @param certificateFile the PEM certificate chain served, leaf first ({@code tls.crt} of a
   *     Kubernetes TLS Secret); reloaded when it changes
   * @param privateKeyFile the PEM private key of that certificate ({@code tls.key}); reloaded with it
   */
  public record Tls(
      @DefaultValue("/etc/credbroker/tls/tls.crt") @NotNull Path certificateFile,
      @DefaultValue("/etc/credbroker/tls/tls.key") @NotNull Path privateKeyFile) {}
}
