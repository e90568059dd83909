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
 * <p>Bound once at startup and immutable afterwards. Vault's address and the broker's own Vault
 * login are Spring Cloud Vault's ({@code spring.cloud.vault.*}); the state database is Spring
 * Boot's ({@code spring.datasource.*}); the Resilience4j limits around Vault are under {@code
 * resilience4j.*.instances.vault}, and the time limit of a Vault call is its HTTP client's ({@code
 * spring.cloud.vault.connection-timeout} and {@code read-timeout}).
 *
 * @param grpc the pod-facing gRPC API
 * @param kubernetes how tokens are checked against the Kubernetes API
 * @param replica this process's identity among the broker replicas
 * @param bindings which service accounts may obtain which database role; a role no binding names
 *     does not exist, and an identity no binding allows is refused (deny by default). Read at
 *     start: once a replica is up, the live credentials (of any replica) that its bindings no
 *     longer allow are neither renewed nor rotated, their streams end with PERMISSION_DENIED
 *     ({@code NOT_BOUND}) and they are revoked after {@code credbroker.lease.drain-grace}
 * @param admin the REST admin API for operators
 * @param revocation revoking pods and credentials, and telling the other replicas
 * @param lease how credentials are kept alive, rotated and ended
 * @param cluster how replicas find out about each other and take over each other's credentials
 * @param vault the broker's Vault setup beyond its login
 * @param tls the serving key and certificate of the gRPC API and the admin API
 * @param retention how long the state database keeps ended credentials and audit events
 * @param limits what one pod, and callers with unknown tokens, may cost the broker
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
    @DefaultValue @Valid Tls tls,
    @DefaultValue @Valid Retention retention,
    @DefaultValue @Valid Limits limits) {

  /**
   * What the state database keeps of what is over. One replica at a time deletes, every {@code
   * interval}, ended credentials and audit events older than their retention, and the rows of
   * replicas that have been dead for {@code deadReplicas}; live credentials, credentials whose
   * revocation still waits for Vault, and replicas still owning a live credential are kept whatever
   * their age.
   *
   * @param endedCredentials how long a released, revoked or expired credential stays in the state
   *     database (the admin API shows it, and finds the pod behind a user name, until then)
   * @param auditEvents how long an audit event (a revocation by an operator) is kept
   * @param interval how often the deletion runs
   * @param batchSize the most rows one deletion statement removes (each in its own transaction)
   * @param deadReplicas how long after its last heartbeat the row of a replica (a broker process:
   *     every start, crash or reschedule registers a new one) is deleted, once no live credential
   *     names it as its owner any more (the takeover moves them within seconds of {@code
   *     cluster.stale-after}). At least 1h, and longer than {@code cluster.stale-after} plus {@code
   *     lease.reconnect-grace-limit}, the longest the others act on what a dead replica's row says
   */
  public record Retention(
      @DefaultValue("30d") @NotNull Duration endedCredentials,
      @DefaultValue("365d") @NotNull Duration auditEvents,
      @DefaultValue("1h") @NotNull Duration interval,
      @DefaultValue("1000") @Min(1) int batchSize,
      @DefaultValue("1d") @NotNull Duration deadReplicas) {

    public Retention {
      if (interval != null && (interval.isNegative() || interval.isZero())) {
        throw new IllegalArgumentException("credbroker.retention.interval must be positive");
      }
      if (endedCredentials != null && endedCredentials.compareTo(Duration.ofHours(1)) < 0) {
        throw new IllegalArgumentException(
            "credbroker.retention.ended-credentials must be at least 1h: a pod's ended credentials"
                + " are what the admin API and the audit trail point to");
      }
      if (deadReplicas != null && deadReplicas.compareTo(Duration.ofHours(1)) < 0) {
        throw new IllegalArgumentException(
            "credbroker.retention.dead-replicas must be at least 1h: a replica's row is what the"
                + " others take its credentials over through");
      }
    }
  }

  /**
   * @param port the port the gRPC server listens on ({@code spring.grpc.server.port} is derived
   *     from it); 0 picks a free port
   * @param heartbeatInterval how often an idle {@code WatchCredential} stream receives a heartbeat,
   *     so that proxies keep the connection open and clients notice a dead broker
   * @param callThreads how many threads run the server's calls and their callbacks at once; calls
   *     beyond that wait in a queue, so thousands of streams ending together cannot grow the thread
   *     count
   * @param maxPendingCalls the most {@code CredentialBroker} calls being served or waiting for a
   *     call thread at once, counted from their request (a stream counts until its first event is
   *     sent); a call whose request arrives beyond it is refused at once with RESOURCE_EXHAUSTED
   *     and a RetryInfo instead of waiting in the queue behind the others
   * @param maxCallsPerConnection the most calls one connection may have open at once (HTTP/2's
   *     {@code SETTINGS_MAX_CONCURRENT_STREAMS}); a client beyond it waits for one of its calls to
   *     end
   * @param requestTimeout how long a started {@code CredentialBroker} call may take to send its
   *     request; a call still without one is closed with DEADLINE_EXCEEDED, so that calls started
   *     and left open cost nothing for long
   * @param maxStreamAuthorisation the longest a {@code WatchCredential} stream lasts on the review
   *     of the token it was opened with, whatever that token's lifetime: it then ends with
   *     UNAUTHENTICATED {@code TOKEN_EXPIRED} (at a random point of this time's last 15 %) and the
   *     client resumes its credential with a token Kubernetes reviews again. A token Kubernetes
   *     stops accepting before its expiry (its service account or secret deleted) keeps its streams
   *     no longer than this. A projected token of the kubelet's default hour ends its streams first
   */
  public record Grpc(
      @DefaultValue("9090") @Min(0) @Max(65535) int port,
      @DefaultValue("30s") @NotNull Duration heartbeatInterval,
      @DefaultValue("64") @Positive int callThreads,
      @DefaultValue("256") @Positive int maxPendingCalls,
      @DefaultValue("100") @Positive int maxCallsPerConnection,
      @DefaultValue("10s") @NotNull Duration requestTimeout,
      @DefaultValue("1h") @NotNull Duration maxStreamAuthorisation) {

    public Grpc {
      if (maxStreamAuthorisation != null
          && maxStreamAuthorisation.compareTo(Duration.ofMinutes(1)) < 0) {
        throw new IllegalArgumentException(
            "credbroker.grpc.max-stream-authorisation must be at least 1m: every stream resumes,"
                + " with a TokenReview, once per this time");
      }
    }
  }

  /**
   * @param kubeconfig a kubeconfig file to reach the API server with; when unset the in-cluster
   *     service-account configuration (or the usual auto-configuration) is used
   * @param audience the audience a pod's token must carry
   * @param allowUnboundTokens whether tokens that are not bound to a pod are accepted (their pod
   *     name and UID are then unknown)
   * @param cacheMaxTtl the longest a successful review is reused; never past the token's own expiry
   * @param failureCacheTtl how long a rejected token stays rejected without asking Kubernetes again
   * @param maxConcurrentRequests how many reviews may be in flight at once; fabric8's default of 5
   *     per host would serialise reviews under load
   * @param connectTimeout how long to wait for a connection to the API server
   * @param requestTimeout how long a review may take before the request fails as unavailable
   * @param verifySignatures whether a token's signature is checked against the cluster's keys
   *     ({@code /openid/v1/jwks}) before its review, so that tokens the cluster did not sign are
   *     refused without one; while the keys cannot be read every token is reviewed as without it
   * @param podWatch how the broker notices that a pod it serves was deleted
   */
  public record Kubernetes(
      @Nullable Path kubeconfig,
      @DefaultValue("credbroker") @NotBlank String audience,
      @DefaultValue("false") boolean allowUnboundTokens,
      @DefaultValue("5m") @NotNull Duration cacheMaxTtl,
      @DefaultValue("5s") @NotNull Duration failureCacheTtl,
      @DefaultValue("256") @Min(1) int maxConcurrentRequests,
      @DefaultValue("2s") @NotNull Duration connectTimeout,
      @DefaultValue("5s") @NotNull Duration requestTimeout,
      @DefaultValue("true") boolean verifySignatures,
      @DefaultValue @Valid PodWatch podWatch) {}

  /**
   * One shared watch of the cluster's pods (a fabric8 informer, needing {@code list} and {@code
   * watch} on pods in every namespace) tells the broker when a pod it serves is deleted: that pod's
   * streams end with UNAUTHENTICATED ({@code POD_DELETED}), it gets no new credential nor rotation,
   * and its credentials are revoked after {@code credbroker.lease.drain-grace}. A pod is matched by
   * namespace, name and UID, so a pod recreated under the same name is another pod. While the watch
   * is not in sync (Kubernetes unreachable) nothing is revoked for a pod merely missing from it:
   * only a DELETED event or a direct lookup that finds the pod gone counts (fail safe for
   * availability; the outage is logged and shown by the gauge {@code
   * credbroker.kubernetes.pod_watch.synced}).
   *
   * @param enabled whether the broker watches pods at all; without it a deleted pod's credentials
   *     live on until its stream ends and the reconnect grace is over
   * @param checkInterval the bound on noticing a deletion whose event was missed: this often the
   *     pods of this replica's live credentials are checked against the watched pods, and one
   *     missing there is looked up in the API before it counts as deleted. Events themselves are
   *     acted on at once
   */
  public record PodWatch(
      @DefaultValue("true") boolean enabled,
      @DefaultValue("10s") @NotNull Duration checkInterval) {}

  /**
   * @param id this replica's name in the state store (owner of the leases it issues); when unset
   *     the host name plus a random suffix, so a restarted process is a new replica
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
      @NotBlank @Pattern(regexp = Binding.DATABASE_ROLE) String databaseRole,
      @DefaultValue("database") @NotBlank String vaultMount,
      @NotBlank @Pattern(regexp = "[A-Za-z0-9_.-]{1,128}") String vaultRole,
      @NotEmpty List<@NotBlank String> namespaces,
      @NotEmpty List<@NotBlank String> serviceAccounts,
      @Valid @NotNull Connection connection) {

    /**
     * What a database role's name is made of, wherever one is accepted (the bindings, a pod's
     * request, the admin API's filters): 1 to 63 letters, digits, {@code _}, {@code .} or {@code
     * -}.
     */
    public static final String DATABASE_ROLE = "[A-Za-z0-9_.-]{1,63}";
  }

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
   *     audiences, i.e. a token from {@code kubectl create token <account>} without {@code
   *     --audience}
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
   * @param blockCacheTtl how long a replica trusts its cached answer to "is this pod blocked?";
   *     blocks arrive by notification at once, this only bounds the damage of a lost notification
   * @param listenerPollInterval how long the notification listener waits in one call before it
   *     checks whether it should stop
   * @param listenerReconnectDelay how long the listener waits before reconnecting after its
   *     connection failed
   * @param undroppedCheckInterval how often each replica borrows a credential per binding to read
   *     the roles the revocation statements could not drop yet (admin API, metric); revoking that
   *     credential also retries their drop
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
   * @param renewalJitter the largest fraction of the lifetime by which a renewal is moved earlier
   *     at random, so that leases issued together do not renew together
   * @param rotationMargin the least time, as a fraction of a lease's lifetime, that a rotation gets
   *     before the credential's max TTL (or its token's deadline): it is rotated at its first
   *     renewal less than this fraction plus one renewal interval before it, so that the new
   *     credential, the client's switch and the old one's draining fit in that time, Vault outages
   *     included (1.0: one lifetime)
   * @param reconnectGrace how long a credential outlives a stream that broke without a release, so
   *     that the client can resume it; then it is revoked. Counted from when the stream broke and,
   *     while the cluster turns clients away for load (calls shed at admission, TokenReviews
   *     throttled, on any replica), also from the last such refusal: a pod the cluster could not
   *     let back in did not abandon its credential. Keep it well above the clients' longest
   *     reconnect delay (the SDK's is 30 s plus 20 % jitter by default): a refused client comes
   *     back only after its delay, so a grace shorter than that runs out under a pod still trying
   * @param reconnectGraceLimit the longest a credential outlives its stream however long the
   *     cluster keeps turning clients away: the hard bound of the grace's extension, counted from
   *     when the stream broke. At least {@code reconnectGrace}
   * @param drainGrace how long a replaced credential stays valid after the client acknowledged the
   *     rotation, so that the pool's connections using it finish; also how long a deleted pod's
   *     credentials, and those a binding no longer allows, stay valid before they are revoked
   * @param pollInterval how often the shared scheduler loads this replica's credentials that are
   *     due within the next two intervals
   * @param workers how many renewals, rotations and revocations run at once on this replica
   * @param batchSize the most credentials loaded (or retried) at once
   * @param expiringWarning a credential that could not be renewed and expires within this time is
   *     reported to its stream as {@code expiring}
   * @param renewalRetryMax the longest wait between two attempts to renew a lease Vault did not
   *     renew
   * @param revocationRetryInitial the wait before the first retry of a revocation Vault did not
   *     confirm
   * @param revocationRetryMax the longest wait between two retries of a revocation
   * @param maxConcurrentReleaseRevocations the most pods' releases this replica revokes in Vault at
   *     once. Vault's PostgreSQL plugin revokes roles one at a time per database connection, with
   *     the creations: when the old pods of a rolling update all release at once, revocations
   *     beyond what Vault finishes within {@code spring.cloud.vault.read-timeout} time out, and so
   *     do the new pods' creations behind them. A release beyond the limit still ends its
   *     credential at once and answers its pod; its lease waits in the revocation queue, which
   *     revokes it one at a time at its next pass (about {@code pollInterval})
   * @param maxTtlCache how long the max TTL read from a Vault role's configuration is trusted
   *     before it is read again
   * @param tokenExpiryMargin how long before the Vault token that created a credential dies the
   *     credential is rotated at the latest (Vault revokes every lease with the token that created
   *     it); more than the drain grace, so that the replaced credential drains before it dies
   * @param reconcile how Vault leases that no credential record knows are found and revoked
   */
  public record Lease(
      @DefaultValue("0.66") @DecimalMin("0.1") @DecimalMax("0.9") double renewalFraction,
      @DefaultValue("0.1") @DecimalMin("0") @DecimalMax("0.3") double renewalJitter,
      @DefaultValue("1.0") @DecimalMin("0.1") @DecimalMax("1.0") double rotationMargin,
      @DefaultValue("2m") @NotNull Duration reconnectGrace,
      @DefaultValue("15m") @NotNull Duration reconnectGraceLimit,
      @DefaultValue("30s") @NotNull Duration drainGrace,
      @DefaultValue("1s") @NotNull Duration pollInterval,
      @DefaultValue("4") @Min(1) @Max(64) int workers,
      @DefaultValue("1000") @Min(1) int batchSize,
      @DefaultValue("30s") @NotNull Duration expiringWarning,
      @DefaultValue("30s") @NotNull Duration renewalRetryMax,
      @DefaultValue("5s") @NotNull Duration revocationRetryInitial,
      @DefaultValue("10m") @NotNull Duration revocationRetryMax,
      @DefaultValue("8") @Min(1) int maxConcurrentReleaseRevocations,
      @DefaultValue("10m") @NotNull Duration maxTtlCache,
      @DefaultValue("5m") @NotNull Duration tokenExpiryMargin,
      @DefaultValue @Valid Reconcile reconcile) {

    public Lease {
      if (reconnectGrace != null
          && reconnectGraceLimit != null
          && reconnectGraceLimit.compareTo(reconnectGrace) < 0) {
        throw new IllegalArgumentException(
            "credbroker.lease.reconnect-grace-limit ("
                + reconnectGraceLimit
                + ") must be at least credbroker.lease.reconnect-grace ("
                + reconnectGrace
                + "): it bounds how far the grace is extended while the cluster sheds load");
      }
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
   * Reconciliation of Vault's leases against the state database: a lease under a binding's Vault
   * role that no credential record knows (Vault issued it, then the state write and its cleanup
   * failed, or the replica died in between) is revoked once it is older than {@code grace}. No such
   * role lives longer than about {@code grace} plus {@code interval}.
   *
   * @param interval how often one replica (whichever gets the state database's advisory lock)
   *     compares Vault's leases with the state database
   * @param grace how old by Vault's {@code issue_time} an untracked lease must be before it is
   *     revoked; longer than any issuance takes (a creds read, a renewal and a state write, each
   *     within its client's timeout) plus the clock difference between Vault and the broker, so
   *     that a credential being issued right now is never revoked
   */
  public record Reconcile(
      @DefaultValue("5m") @NotNull Duration interval, @DefaultValue("5m") @NotNull Duration grace) {

    public Reconcile {
      if (interval != null && (interval.isNegative() || interval.isZero())) {
        throw new IllegalArgumentException("credbroker.lease.reconcile.interval must be positive");
      }
      if (grace != null && grace.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException(
            "credbroker.lease.reconcile.grace must be at least 1s: a credential being issued has a"
                + " Vault lease before it has a record");
      }
    }
  }

  /**
   * @param heartbeatInterval how often this replica writes its heartbeat and looks for stale
   *     replicas
   * @param staleAfter a replica whose heartbeat is older than this is presumed dead and its live
   *     credentials are claimed by the others; several heartbeat intervals
   * @param claimBatchSize the most credentials of dead replicas claimed in one statement
   * @param selfFenceAfter a replica whose own heartbeat has not been written for this long fences
   *     itself: it ends its streams with UNAVAILABLE ({@code STATE_STORE_UNAVAILABLE}, with a retry
   *     delay) and refuses new calls the same way, so that its clients resume on another replica
   *     before the others presume it dead; once its heartbeat has not been written for {@code
   *     staleAfter} it also closes its gRPC port, since the others now own its credentials. It
   *     serves again from its next successful heartbeat. {@code null} (the default): half of {@code
   *     staleAfter}. At least {@code heartbeatInterval}, and at least {@code heartbeatInterval}
   *     short of {@code staleAfter}
   */
  public record Cluster(
      @DefaultValue("2s") @NotNull Duration heartbeatInterval,
      @DefaultValue("15s") @NotNull Duration staleAfter,
      @DefaultValue("500") @Min(1) int claimBatchSize,
      @Nullable Duration selfFenceAfter) {

    public Cluster {
      if (heartbeatInterval != null
          && staleAfter != null
          && (heartbeatInterval.isNegative()
              || heartbeatInterval.isZero()
              || staleAfter.compareTo(heartbeatInterval.multipliedBy(2)) < 0)) {
        throw new IllegalArgumentException(
            "credbroker.cluster.heartbeat-interval must be positive and stale-after at least twice"
                + " as long, or live replicas would be presumed dead");
      }
      if (selfFenceAfter != null
          && heartbeatInterval != null
          && staleAfter != null
          && (selfFenceAfter.compareTo(heartbeatInterval) < 0
              || selfFenceAfter.compareTo(staleAfter.minus(heartbeatInterval)) > 0)) {
        throw new IllegalArgumentException(
            "credbroker.cluster.self-fence-after ("
                + selfFenceAfter
                + ") must be at least heartbeat-interval ("
                + heartbeatInterval
                + ") and at least one heartbeat-interval short of stale-after ("
                + staleAfter
                + "): a replica must stop serving before the others presume it dead, and one late"
                + " heartbeat must not stop it");
      }
    }

    /**
     * How long this replica's heartbeat may go unwritten before it fences itself: {@code
     * selfFenceAfter}, or half of {@code staleAfter} when unset.
     */
    public Duration selfFence() {
      return selfFenceAfter != null ? selfFenceAfter : staleAfter.dividedBy(2);
    }
  }

  /**
   * The broker's use of Vault beyond the connection ({@code spring.cloud.vault.*}).
   *
   * @param issuingTokenRole the token role ({@code auth/token/roles/<name>}, written by the setup
   *     command) through which the broker creates the tokens that create credentials: orphan,
   *     non-renewable tokens with a fixed lifetime, so that no credential dies with a replica's own
   *     login token (see {@code docs/token-lifetimes.md})
   * @param maxConcurrentCreations the most credential creations ({@code creds} reads) this replica
   *     has in flight at Vault at once. Vault's PostgreSQL plugin creates roles one at a time per
   *     database connection: creations beyond what it can finish within {@code
   *     spring.cloud.vault.read-timeout} time out in the broker while Vault still creates their
   *     roles, which no credential record then knows. A creation beyond the limit is refused at
   *     once with RESOURCE_EXHAUSTED ({@code OVERLOADED}) and a RetryInfo, before it reaches Vault;
   *     it does not count against the circuit breaker. Successive refusals are asked to retry
   *     spread over the time this limit needs to serve them (twice as often as slots free up, which
   *     is about every mean creation time / this limit), from 1 s up to 30 s, so that refused pods
   *     come back as fast as Vault can serve them. The sum over all replicas should stay within
   *     what Vault creates in one read timeout
   */
  public record Vault(
      @DefaultValue("credential-broker-issuer") @Pattern(regexp = "[A-Za-z0-9_.-]{1,128}")
          String issuingTokenRole,
      @DefaultValue("8") @Positive int maxConcurrentCreations) {}

  /**
   * Read by application.yaml, which turns them into Spring Boot's SSL bundle {@code server} (the
   * admin API's {@code server.ssl}) and spring-grpc's {@code spring.grpc.server.ssl}; bound here so
   * that they are documented and checked in one place. There is no plaintext mode: pods' tokens and
   * passwords and operators' tokens cross these connections, so the broker does not start without a
   * key and certificate.
   *
   * @param certificateFile the PEM certificate chain served, leaf first ({@code tls.crt} of a
   *     Kubernetes TLS Secret); reloaded when it changes
   * @param privateKeyFile the PEM private key of that certificate ({@code tls.key}); reloaded with
   *     it
   */
  public record Tls(
      @DefaultValue("/etc/credbroker/tls/tls.crt") @NotNull Path certificateFile,
      @DefaultValue("/etc/credbroker/tls/tls.key") @NotNull Path privateKeyFile) {}

  /**
   * What one pod, and callers whose token is not known yet, may cost the broker. Refusals are
   * RESOURCE_EXHAUSTED with a {@code google.rpc.ErrorInfo} and, where waiting helps, a {@code
   * RetryInfo}. A pod is its UID (or namespace and name, or namespace and service account for a
   * token bound to no pod).
   *
   * @param streamsPerPodRole the most {@code WatchCredential} streams one pod may hold open on one
   *     replica for one database role; a pod needs one, and two cover a reconnect that overlaps the
   *     old stream's end
   * @param minRequestedTtl the shortest lease a client may ask for with {@code requested_ttl}; a
   *     shorter request is raised to it, as Vault lowers a request above the role's max TTL to that
   *     maximum, rather than refused: the credential simply lives longer than asked, and a 1 s
   *     request cannot make the broker renew every second
   * @param issuanceBurst how many credentials one pod may obtain in a row before the rate applies
   * @param issuancesPerMinute how many credentials one pod may obtain per minute after its burst
   *     (resumes and rotations are not counted: they create no role, or the broker asked for them;
   *     nor are requests the broker turned away before asking Vault, {@code OVERLOADED} at a full
   *     bulkhead or {@code VAULT_UNAVAILABLE} at an open circuit: they created nothing)
   * @param trackedPods the most pods whose issuance rate is remembered; a pod whose bucket was
   *     dropped (least recently used first) starts with a full burst again
   * @param tokenReviewsPerSecond the most TokenReviews per second for tokens the broker has no
   *     cached verdict for; callers beyond it are refused without asking Kubernetes
   * @param concurrentTokenReviews the most TokenReviews in flight at once
   */
  public record Limits(
      @DefaultValue("2") @Positive int streamsPerPodRole,
      @DefaultValue("1m") @NotNull Duration minRequestedTtl,
      @DefaultValue("10") @Positive int issuanceBurst,
      @DefaultValue("30") @Positive int issuancesPerMinute,
      @DefaultValue("100000") @Positive int trackedPods,
      @DefaultValue("100") @Positive int tokenReviewsPerSecond,
      @DefaultValue("64") @Positive int concurrentTokenReviews) {}
}
