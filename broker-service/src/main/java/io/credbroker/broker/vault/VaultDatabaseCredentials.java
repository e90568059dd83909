package io.credbroker.broker.vault;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpEntity;
import org.springframework.http.HttpMethod;
import org.springframework.vault.core.VaultOperations;
import org.springframework.vault.support.VaultResponse;
import org.springframework.web.client.HttpStatusCodeException;
import org.springframework.web.client.ResourceAccessException;
import org.springframework.web.client.RestOperations;

/**
 * Vault's database secrets engine as the broker uses it: issue a PostgreSQL role, renew and revoke
 * its lease.
 *
 * <p>Every call passes a bulkhead (bounded concurrency; a full bulkhead is {@code OVERLOADED}), a
 * circuit breaker (a Vault that keeps failing is not waited for; an open circuit is {@code
 * VAULT_UNAVAILABLE} at once) and a time limit. The time limit is the HTTP client's own: waiting
 * for a pooled connection and connecting are bounded by {@code
 * spring.cloud.vault.connection-timeout}, the wait for Vault's answer by {@code
 * spring.cloud.vault.read-timeout}; a call that runs into either is a {@code timeout} that counts
 * against the circuit. The exchange runs on the calling thread: a separate thread per call (a
 * future with a time limit around it) cost two thread hand-offs on every issuance, which is most of
 * what the broker added to Vault's own time on a loaded machine. Only failures that say something
 * about Vault's health (connection errors, timeouts, 5xx, 429) count against the circuit; a 4xx is
 * Vault refusing this particular request, reported as {@code VAULT_REJECTED}. Renewals and
 * revocations are idempotent and retried with backoff and jitter while Vault is unreachable; a
 * {@code creds} read is never retried: one that timed out may still have created a role, so
 * repeating it blindly would leak roles.
 *
 * <p>Credential creations ({@code creds} reads) pass a second, narrower bulkhead first. Vault's
 * PostgreSQL plugin creates roles one at a time per database connection, so creations beyond what
 * it finishes within the read timeout queue inside Vault, time out here, and still create their
 * roles afterwards: roles no credential record knows. A creation beyond that bulkhead is refused
 * before it reaches Vault, with {@code OVERLOADED} and a retry delay; like a full general bulkhead,
 * it never reaches the circuit breaker, so it says nothing about Vault's health. The delays of
 * successive refusals are spread over the time the bulkhead needs to serve the refused callers
 * ({@link CreationBacklog}), so that their retries arrive as slots free up, not all at once.
 *
 * <p>Whose leases. Vault revokes every lease together with the token that created it: when the
 * token is revoked (Spring Vault revokes its login at shutdown), reaches its max TTL, or simply
 * runs out after its replica crashed. Credentials are therefore never read with the broker's login:
 * each is read with an {@link IssuingToken}, an orphan, non-renewable token of fixed lifetime
 * created through a token role, whose death is known in advance ({@link
 * DatabaseSecret#tokenExpireTime()}) and does not depend on any replica. Renewals and revocations
 * use the login: Vault lets any token whose policy allows {@code sys/leases/renew} and {@code
 * sys/leases/revoke} act on any lease.
 *
 * <p>Vault's error texts are logged, never passed to callers. Passwords and tokens are never
 * logged.
 *
 * <p>Thread-safe. Calls block the calling thread, which also runs the HTTP exchange, until Vault
 * answers or a timeout of the HTTP client passes.
 */
public final class VaultDatabaseCredentials {

  private static final Logger log = LoggerFactory.getLogger(VaultDatabaseCredentials.class);
  private static final Pattern PATH_SEGMENTS =
      Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*");
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  /** The longest retry delay a creation refused at the limit is given. */
  private static final Duration LONGEST_CREATION_RETRY = Duration.ofSeconds(30);

  static final String VAULT_TOKEN_HEADER = "X-Vault-Token";

  /** The shortest time between two fresh logins after Vault refused the broker's token. */
  private static final Duration LOGIN_INTERVAL = Duration.ofSeconds(5);

  /**
   * How long a {@code creds} path that Vault refused to a fresh issuing token is taken to be
   * refused by the issuing policy: until then its refusals are answered without creating another
   * token.
   */
  private static final Duration POLICY_REFUSAL_RECHECK = Duration.ofMinutes(1);

  private final VaultOperations vault;
  private final CircuitBreaker circuitBreaker;
  private final Bulkhead bulkhead;
  private final Bulkhead creations;
  private final CreationBacklog creationBacklog;
  private final MeterRegistry meterRegistry;
  private final @Nullable Retry retry;
  private final Clock clock;
  private final String issuingTokenPath;
  private final IssuingTokens issuingTokens;
  private final Runnable logInAgain;

  /**
   * When {@link #logInAgain} last ran ({@link System#nanoTime}), to run it at most once a while.
   */
  private final AtomicLong lastLogin = new AtomicLong(System.nanoTime() - LOGIN_INTERVAL.toNanos());

  /** How credential creations and revocations write and read JSON; found on the first of them. */
  private volatile @Nullable VaultJson json;

  /** {@code credbroker.vault.request} timers by operation and outcome (a few fixed values each). */
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();

  /**
   * The {@code <mount>/creds/<role>} paths whose mount and role were found safe: the bindings name
   * a handful, and every issuance asks for one of them.
   */
  private final Set<String> safeCredsPaths = ConcurrentHashMap.newKeySet();

  /**
   * The {@code creds} paths Vault refused to a fresh issuing token, with when it last did ({@link
   * Clock#millis}): the issuing tokens' policy does not allow them, so a refusal there says nothing
   * about the current token. Cleared for a path when a read of it succeeds; bounded like {@link
   * #safeCredsPaths}.
   */
  private final Map<String, Long> policyRefusedPaths = new ConcurrentHashMap<>();

  /** The token role of the setup command's defaults. */
  public static final String DEFAULT_ISSUING_TOKEN_ROLE = "credential-broker-issuer";

  /**
   * A client that never retries and issues through {@value #DEFAULT_ISSUING_TOKEN_ROLE}.
   *
   * @param vault Spring Vault's template; its HTTP client's timeouts are the calls' time limit
   * @param bulkhead bounds all calls to Vault at once
   * @param creations bounds the credential creations ({@code creds} reads) in flight at once
   */
  public VaultDatabaseCredentials(
      VaultOperations vault,
      CircuitBreaker circuitBreaker,
      Bulkhead bulkhead,
      Bulkhead creations,
      MeterRegistry meterRegistry) {
    this(
        vault,
        circuitBreaker,
        bulkhead,
        creations,
        meterRegistry,
        null,
        DEFAULT_ISSUING_TOKEN_ROLE,
        Clock.systemUTC());
  }

  /**
   * @param vault Spring Vault's template, logged in as the broker; its HTTP client's timeouts are
   *     the calls' time limit
   * @param retry how renewals and revocations (idempotent calls) are retried; only failures that
   *     leave Vault unreachable are retried, whatever the retry's own predicate says. {@code null}:
   *     no retries
   * @param issuingTokenRole the token role through which issuing tokens are created
   */
  public VaultDatabaseCredentials(
      VaultOperations vault,
      CircuitBreaker circuitBreaker,
      Bulkhead bulkhead,
      Bulkhead creations,
      MeterRegistry meterRegistry,
      @Nullable Retry retry,
      String issuingTokenRole,
      Clock clock) {
    this(
        vault,
        circuitBreaker,
        bulkhead,
        creations,
        meterRegistry,
        retry,
        issuingTokenRole,
        clock,
        () -> {});
  }

  /**
   * @param logInAgain drops the broker's login token so that the next call logs in afresh; run when
   *     Vault answers a call made with the login with 403 (at most once every few seconds)
   */
  public VaultDatabaseCredentials(
      VaultOperations vault,
      CircuitBreaker circuitBreaker,
      Bulkhead bulkhead,
      Bulkhead creations,
      MeterRegistry meterRegistry,
      @Nullable Retry retry,
      String issuingTokenRole,
      Clock clock,
      Runnable logInAgain) {
    this.logInAgain = Objects.requireNonNull(logInAgain, "logInAgain");
    this.retry =
        retry == null
            ? null
            : Retry.of(
                retry.getName(),
                RetryConfig.from(retry.getRetryConfig())
                    .retryOnException(VaultDatabaseCredentials::unreachable)
                    .build());
    this.vault = Objects.requireNonNull(vault, "vault");
    this.circuitBreaker = Objects.requireNonNull(circuitBreaker, "circuitBreaker");
    this.bulkhead = Objects.requireNonNull(bulkhead, "bulkhead");
    this.creations = Objects.requireNonNull(creations, "creations");
    this.creationBacklog =
        new CreationBacklog(
            creations.getBulkheadConfig().getMaxConcurrentCalls(),
            RETRY_AFTER,
            LONGEST_CREATION_RETRY,
            System::nanoTime);
    this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.issuingTokenPath = "auth/token/create/" + requireSafePath(issuingTokenRole);
    this.issuingTokens = new IssuingTokens(this::createIssuingToken, clock);
  }

  /**
   * Reads {@code <mount>/creds/<role>} with this replica's current issuing token: Vault creates a
   * new PostgreSQL role and a lease that belongs to that token, not to the broker's login. Never
   * retried here (see the class comment), except once with a new issuing token when Vault refuses
   * the current one (403: an operator revoked it), which created nothing; not while a new token was
   * refused the path too within a minute (the issuing policy does not allow it).
   *
   * @throws CreationNotSent when the broker refused the creation before asking Vault for it
   */
  public DatabaseSecret issue(String mount, String role) {
    String path = credsPath(mount, role);
    CredsRead read = new CredsRead(path);
    try {
      return read.run();
    } catch (BrokerException e) {
      if (read.sent) {
        throw e;
      }
      throw new CreationNotSent(e);
    }
  }

  /** One {@link #issue}, which knows whether it got as far as sending a {@code creds} read. */
  private final class CredsRead {

    private final String path;

    /** Whether a {@code creds} read went out to Vault; only the issuing thread touches it. */
    private boolean sent;

    CredsRead(String path) {
      this.path = path;
    }

    /**
     * A 403 means either that an operator revoked the issuing token or that the issuing tokens'
     * policy does not allow this path, and Vault words both alike. The first is told by a fresh
     * token succeeding; once a fresh token was refused too, the path's refusals are the policy's
     * for {@link #POLICY_REFUSAL_RECHECK}, and are answered without creating another token (else
     * every issuance for the path would create one, and replace the token every other path issues
     * with).
     */
    DatabaseSecret run() {
      IssuingToken token = issuingTokens.current();
      try {
        return readable(toSecret(read(token), token));
      } catch (BrokerException e) {
        if (!refusedToken(e) || refusedByPolicyRecently()) {
          throw e;
        }
        log.warn(
            "Vault refused issuing token {}; creating a new one and trying again",
            token.accessor());
        issuingTokens.discard(token);
        IssuingToken fresh = issuingTokens.current();
        try {
          return readable(toSecret(read(fresh), fresh));
        } catch (BrokerException again) {
          if (refusedToken(again)) {
            policyRefusedPaths.put(path, clock.millis());
            log.warn(
                "Vault refused {} to a new issuing token too: the issuing tokens' policy does not"
                    + " allow it (run the setup command for its mount); its refusals are not"
                    + " retried with new tokens for {}",
                path,
                POLICY_REFUSAL_RECHECK);
          }
          throw again;
        }
      }
    }

    private DatabaseSecret readable(DatabaseSecret secret) {
      if (!policyRefusedPaths.isEmpty()) {
        policyRefusedPaths.remove(path);
      }
      return secret;
    }

    private boolean refusedByPolicyRecently() {
      Long refused = policyRefusedPaths.get(path);
      return refused != null && clock.millis() - refused < POLICY_REFUSAL_RECHECK.toMillis();
    }

    private boolean refusedToken(BrokerException e) {
      return e.getCause() instanceof VaultStatus status && status.code() == 403;
    }

    private @Nullable VaultResponse read(IssuingToken token) {
      enter(
          creations,
          "creds",
          "too many credential creations in flight at Vault; try again later",
          creationBacklog::refused);
      try {
        return call(
            "creds",
            () -> {
              sent = true;
              return exchangeCreds(path, token);
            },
            creationBacklog::completed);
      } finally {
        creations.onComplete();
      }
    }
  }

  private @Nullable VaultResponse exchangeCreds(String path, IssuingToken token) {
    return vault.doWithVault(
        rest -> {
          VaultJson json = json(rest);
          try {
            return rest.execute(
                path, HttpMethod.GET, json.request(token.value(), null), json::read);
          } catch (HttpStatusCodeException e) {
            throw new VaultHttpError(e, false);
          }
        });
  }

  /**
   * {@link VaultJson} of Spring Vault's templates, looked up on first use (every template of one
   * {@link VaultOperations} has the same converters).
   */
  private VaultJson json(RestOperations rest) {
    VaultJson found = json;
    if (found == null) {
      found = VaultJson.of(rest);
      json = found;
    }
    return found;
  }

  /**
   * The lifetime Vault grants the tokens this replica issues credentials with (creating the first
   * one if none exists yet).
   *
   * @throws BrokerException when Vault cannot create one and no unexpired one is at hand
   */
  public Duration issuingTokenLifetime() {
    return issuingTokens.current().ttl();
  }

  /**
   * Asks Vault for a new issuing token through the token role ({@code POST
   * auth/token/create/<role>}, with the broker's login). The role makes it an orphan without
   * renewal and fixes its lifetime; the broker asks for nothing else, so Vault's configuration
   * alone decides what such a token may do.
   */
  private IssuingToken createIssuingToken() {
    Instant asked = clock.instant();
    VaultResponse response =
        call(
            "token_create",
            () ->
                exchange(
                    issuingTokenPath,
                    HttpMethod.POST,
                    Map.of("display_name", "credential-broker-issuer"),
                    VaultResponse.class));
    Map<String, Object> auth = response == null ? null : response.getAuth();
    if (auth == null
        || !(auth.get("client_token") instanceof String value)
        || !(auth.get("accessor") instanceof String accessor)
        || !(auth.get("lease_duration") instanceof Number seconds)) {
      throw rejected("token_create", "Vault answered a token creation without a token", null);
    }
    if (Boolean.TRUE.equals(auth.get("renewable")) || Boolean.FALSE.equals(auth.get("orphan"))) {
      // A child or renewable token would tie credentials to the login again: refuse to use it.
      throw rejected(
          "token_create",
          "token role "
              + issuingTokenPath
              + " must create orphan, non-renewable tokens (run the setup command)",
          null);
    }
    Duration ttl = Duration.ofSeconds(seconds.longValue());
    return new IssuingToken(value, accessor, ttl, asked.plus(ttl));
  }

  /**
   * Renews a lease by {@code increment} from now ({@code PUT sys/leases/renew}); Vault caps the
   * result at the role's max TTL.
   *
   * @return the lease's new duration from now
   */
  public Duration renew(String leaseId, Duration increment) {
    return renewLease(leaseId, increment).leaseDuration();
  }

  /**
   * Renews a lease by {@code increment} from now ({@code PUT sys/leases/renew}), retried with
   * backoff and jitter while Vault is unreachable (a renewal is idempotent). Vault caps the result
   * at the lease's max TTL; the answer says whether it did.
   *
   * @throws BrokerException {@code VAULT_REJECTED} when Vault refuses the lease (400: lease not
   *     found, expired, irrevocable, not renewable), {@code VAULT_UNAVAILABLE} when it cannot be
   *     reached or answers anything else (a 400 for a failure of the database backend, a 404 from a
   *     route, a 429), which says nothing about the lease
   */
  public LeaseRenewal renewLease(String leaseId, Duration increment) {
    long seconds = Math.max(1, increment.toSeconds());
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("lease_id", leaseId);
    body.put("increment", seconds);
    VaultResponse response =
        retried(
            () ->
                call(
                    "renew",
                    () -> exchange("sys/leases/renew", HttpMethod.PUT, body, VaultResponse.class)));
    if (response == null) {
      throw rejected("renew", "empty response to a lease renewal", null);
    }
    long granted = response.getLeaseDuration();
    return new LeaseRenewal(Duration.ofSeconds(granted), granted < seconds);
  }

  /**
   * Revokes a lease at once ({@code PUT sys/leases/revoke}, synchronous: Vault runs the role's
   * revocation statements before answering); revoking an unknown lease succeeds. Retried with
   * backoff and jitter while Vault is unreachable.
   */
  public void revoke(String leaseId) {
    Map<String, Object> body = Map.of("lease_id", leaseId, "sync", true);
    retried(() -> call("revoke", () -> send("sys/leases/revoke", HttpMethod.PUT, body)));
  }

  /**
   * The leases Vault holds under {@code <mount>/creds/<role>}, whoever created them ({@code LIST
   * sys/leases/lookup/<mount>/creds/<role>/}, which Vault protects with {@code sudo}: the broker's
   * policy grants {@code list} and {@code sudo} on its mount's creds only). Retried while Vault is
   * unreachable (a list changes nothing).
   *
   * @return full lease ids, in Vault's order; empty when there are none (Vault answers 404)
   */
  public List<String> leaseIds(String mount, String role) {
    String prefix = requireSafePath(mount) + "/creds/" + requireSafePath(role) + "/";
    VaultResponse response =
        retried(
            () ->
                call(
                    "lease_list",
                    () ->
                        exchange(
                            "sys/leases/lookup/" + prefix + "?list=true",
                            HttpMethod.GET,
                            null,
                            VaultResponse.class,
                            true)));
    if (response == null || response.getData() == null) {
      return List.of();
    }
    if (!(response.getData().get("keys") instanceof List<?> keys)) {
      return List.of();
    }
    List<String> ids = new ArrayList<>(keys.size());
    for (Object key : keys) {
      // A key ending in "/" is a deeper prefix, not a lease of this role.
      if (key instanceof String suffix && !suffix.isEmpty() && !suffix.endsWith("/")) {
        ids.add(prefix + suffix);
      }
    }
    return ids;
  }

  /**
   * When Vault issued a lease ({@code PUT sys/leases/lookup}, {@code issue_time}). Retried while
   * Vault is unreachable.
   *
   * @return empty when Vault no longer knows the lease (revoked or expired meanwhile: 400 {@code
   *     invalid lease})
   */
  public Optional<Instant> leaseIssueTime(String leaseId) {
    VaultResponse response;
    try {
      response =
          retried(
              () ->
                  call(
                      "lease_lookup",
                      () ->
                          exchange(
                              "sys/leases/lookup",
                              HttpMethod.PUT,
                              Map.of("lease_id", leaseId),
                              VaultResponse.class)));
    } catch (BrokerException e) {
      if (e.reason() == Reason.VAULT_REJECTED
          && e.getCause() instanceof VaultStatus status
          && status.code() == 400) {
        return Optional.empty();
      }
      throw e;
    }
    Object issued =
        response == null || response.getData() == null
            ? null
            : response.getData().get("issue_time");
    if (!(issued instanceof String text)) {
      throw rejected("lease_lookup", "Vault answered a lease lookup without issue_time", null);
    }
    return Optional.of(OffsetDateTime.parse(text).toInstant());
  }

  /**
   * How long after issue Vault lets leases of {@code <mount>/creds/<role>} be renewed, computed as
   * Vault does, without touching any lease: the role's {@code max_ttl} ({@code GET
   * <mount>/roles/<role>}) capped by the mount's max lease TTL ({@code GET
   * sys/mounts/<mount>/tune}, which is the system's when the mount sets none); a role without one
   * gets the mount's.
   */
  public Duration maxTtl(String mount, String role) {
    String safeMount = requireSafePath(mount);
    String rolePath = safeMount + "/roles/" + requireSafePath(role);
    long roleMax =
        seconds(
            retried(
                () ->
                    call(
                        "role_read",
                        () -> exchange(rolePath, HttpMethod.GET, null, VaultResponse.class))),
            "max_ttl",
            "role_read");
    long mountMax =
        seconds(
            retried(
                () ->
                    call(
                        "mount_tune_read",
                        () ->
                            exchange(
                                "sys/mounts/" + safeMount + "/tune",
                                HttpMethod.GET,
                                null,
                                VaultResponse.class))),
            "max_lease_ttl",
            "mount_tune_read");
    return Duration.ofSeconds(roleMax > 0 && roleMax < mountMax ? roleMax : mountMax);
  }

  private long seconds(@Nullable VaultResponse response, String field, String operation) {
    Object value =
        response == null || response.getData() == null ? null : response.getData().get(field);
    if (value instanceof Number number) {
      return number.longValue();
    }
    if (value instanceof String text && text.matches("[0-9]+")) {
      return Long.parseLong(text);
    }
    throw rejected(operation, "Vault answered without " + field, null);
  }

  private <T> T retried(Supplier<T> call) {
    return retry == null ? call.get() : retry.executeSupplier(call);
  }

  /**
   * One HTTP exchange with the broker's session token. An error status is carried out of Spring
   * Vault's callback unchanged, so that {@link #call} can tell Vault refusing a request from Vault
   * being unhealthy.
   */
  private <T> @Nullable T exchange(
      String path, HttpMethod method, @Nullable Object body, Class<T> responseType) {
    return exchange(path, method, body, responseType, false);
  }

  /** {@link #exchange}, answering {@code null} for a 404 when {@code notFoundIsEmpty}. */
  private <T> @Nullable T exchange(
      String path,
      HttpMethod method,
      @Nullable Object body,
      Class<T> responseType,
      boolean notFoundIsEmpty) {
    return vault.doWithSession(
        rest -> {
          try {
            return rest.exchange(
                    path,
                    method,
                    body == null ? HttpEntity.EMPTY : new HttpEntity<>(body),
                    responseType)
                .getBody();
          } catch (HttpStatusCodeException e) {
            if (notFoundIsEmpty && e.getStatusCode().value() == 404) {
              return null;
            }
            throw new VaultHttpError(e, true);
          }
        });
  }

  /**
   * One HTTP exchange with the broker's session token whose answer has no body the broker reads: as
   * {@link #exchange} with {@code Void}, without the per-call lookups of {@code exchange} (see
   * {@link VaultJson}).
   */
  private @Nullable Void send(String path, HttpMethod method, Object body) {
    return vault.doWithSession(
        rest -> {
          try {
            return rest.<Void>execute(path, method, json(rest).request(null, body), null);
          } catch (HttpStatusCodeException e) {
            throw new VaultHttpError(e, true);
          }
        });
  }

  /** Carries an HTTP error status through Spring Vault's exception translation. */
  private static final class VaultHttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient HttpStatusCodeException http;

    /** Whether the request carried the broker's login (not an issuing token). */
    private final boolean login;

    VaultHttpError(HttpStatusCodeException http, boolean login) {
      super("HTTP " + http.getStatusCode().value(), null, false, false);
      this.http = http;
      this.login = login;
    }
  }

  private DatabaseSecret toSecret(@Nullable VaultResponse response, IssuingToken token) {
    if (response == null || response.getData() == null || response.getLeaseId() == null) {
      throw rejected("creds", "Vault answered a creds read without a lease or data", null);
    }
    Object username = response.getData().get("username");
    Object password = response.getData().get("password");
    if (!(username instanceof String user) || !(password instanceof String pass)) {
      throw rejected("creds", "Vault answered a creds read without username or password", null);
    }
    return new DatabaseSecret(
        response.getLeaseId(),
        user,
        pass,
        Duration.ofSeconds(response.getLeaseDuration()),
        response.isRenewable(),
        token.expireTime());
  }

  /**
   * Takes a permit of {@code limit} or refuses the call with {@code OVERLOADED} and the retry delay
   * {@code retryAfter} gives, before the circuit breaker: a refusal here says nothing about Vault.
   */
  private void enter(
      Bulkhead limit, String operation, String refusal, Supplier<Duration> retryAfter) {
    try {
      limit.acquirePermission();
    } catch (BulkheadFullException e) {
      record(operation, "bulkhead_full", 0);
      throw new BrokerException(Reason.OVERLOADED, refusal, retryAfter.get(), e);
    }
  }

  private <T> T call(String operation, Supplier<T> exchange) {
    return call(operation, exchange, took -> {});
  }

  /**
   * Calls Vault through the bulkhead, the circuit breaker and the time limit; {@code exchangeTime}
   * is told how long the exchange took (nanoseconds) whenever it ran, whatever its outcome.
   */
  private <T> T call(String operation, Supplier<T> exchange, LongConsumer exchangeTime) {
    enter(
        bulkhead,
        operation,
        "too many concurrent Vault requests; try again later",
        () -> RETRY_AFTER);
    try {
      try {
        circuitBreaker.acquirePermission();
      } catch (CallNotPermittedException e) {
        record(operation, "circuit_open", 0);
        throw unavailable(operation, "the circuit breaker is open", e);
      }
      long start = circuitBreaker.getCurrentTimestamp();
      long startNanos = System.nanoTime();
      try {
        T result = exchange.get();
        long took = System.nanoTime() - startNanos;
        exchangeTime.accept(took);
        circuitBreaker.onSuccess(elapsed(start), circuitBreaker.getTimestampUnit());
        record(operation, "success", took);
        return result;
      } catch (RuntimeException e) {
        Throwable cause = e;
        long took = System.nanoTime() - startNanos;
        exchangeTime.accept(took);
        boolean login = false;
        if (cause instanceof VaultHttpError error) {
          cause = error.http;
          login = error.login;
        }
        if (login
            && cause instanceof HttpStatusCodeException http
            && http.getStatusCode().value() == 403) {
          // Vault is healthy; the broker's own token is not (revoked, expired, or its policy lacks
          // the path). Nothing is known about the lease or whatever the call was about: the caller
          // tries again later, by then with a fresh login.
          circuitBreaker.onSuccess(elapsed(start), circuitBreaker.getTimestampUnit());
          record(operation, "login_refused", took);
          loginRefused(operation);
          throw new BrokerException(
              Reason.VAULT_UNAVAILABLE,
              "Vault is unavailable; try again later",
              RETRY_AFTER,
              withoutBody(http));
        }
        if (cause instanceof HttpStatusCodeException http && !countsAgainstVault(operation, http)) {
          // Vault is healthy: it said no to this request, or the database plugin behind one role
          // failed, which must not open the circuit every other database's calls go through.
          circuitBreaker.onSuccess(elapsed(start), circuitBreaker.getTimestampUnit());
          if (pluginFailed(operation, http)) {
            // Unavailable to the pod, which tries again later.
            record(operation, "unavailable", took);
            throw unavailable(operation, "HTTP 500 from the database plugin", http);
          }
          record(operation, "rejected", took);
          if (operation.equals("renew") && !refusesTheLease(http)) {
            // Not a word about the lease (its backend failed, or no Vault route answered): the
            // lease may be fine, so it is renewed again later, never given up.
            throw unavailable(
                operation,
                "HTTP " + http.getStatusCode().value() + " that does not refuse the lease",
                http);
          }
          throw rejected(operation, "HTTP " + http.getStatusCode().value(), http);
        }
        circuitBreaker.onError(elapsed(start), circuitBreaker.getTimestampUnit(), cause);
        if (timedOut(cause)) {
          record(operation, "timeout", took);
          throw unavailable(operation, "no answer within the time limit", cause);
        }
        record(operation, "unavailable", took);
        throw unavailable(operation, describe(cause), cause);
      }
    } finally {
      bulkhead.onComplete();
    }
  }

  private void loginRefused(String operation) {
    long last = lastLogin.get();
    long now = System.nanoTime();
    if (now - last < LOGIN_INTERVAL.toNanos() || !lastLogin.compareAndSet(last, now)) {
      log.warn("Vault refused the broker's own token for {} (HTTP 403)", operation);
      return;
    }
    log.warn(
        "Vault refused the broker's own token for {} (HTTP 403): logging in again. If this repeats,"
            + " the broker's policy lacks the path (run the setup command)",
        operation);
    try {
      logInAgain.run();
    } catch (RuntimeException e) {
      log.warn("Dropping the refused Vault login failed ({})", e.getClass().getSimpleName());
    }
  }

  private long elapsed(long start) {
    return circuitBreaker.getCurrentTimestamp() - start;
  }

  /** Only a Vault that could not be reached is worth asking again; a refusal would repeat. */
  private static boolean unreachable(Throwable e) {
    return e instanceof BrokerException broker && broker.reason() == Reason.VAULT_UNAVAILABLE;
  }

  /**
   * Vault's answers to {@code sys/leases/renew} that refuse the lease itself, each a 400: it is
   * unknown or revoked, expired, marked irrevocable, not renewable, or not a lease that endpoint
   * renews. Vault answers a backend failure with a 400 too ({@code failed to renew entry: ...}),
   * after which the lease is unchanged.
   */
  private static final List<String> LEASE_REFUSALS =
      List.of(
          "lease not found",
          "lease expired",
          "lease is expired and has failed previous revocation attempts",
          "lease is not renewable",
          "tokens cannot be renewed through this endpoint",
          "lease_id must be specified",
          "invalid lease");

  /** Whether a renewal's 4xx says that Vault will not renew this lease, ever. */
  private static boolean refusesTheLease(HttpStatusCodeException http) {
    if (http.getStatusCode().value() != 400) {
      return false;
    }
    String body = http.getResponseBodyAsString(StandardCharsets.UTF_8);
    return LEASE_REFUSALS.stream().anyMatch(refusal -> body.contains("\"" + refusal + "\""));
  }

  /**
   * Whether a credential creation's answer is a failure of the database plugin rather than of
   * Vault: a 500, which Vault answers when the plugin's statements or its connection to the target
   * database fail, or the role is not in the connection's {@code allowed_roles} (a Go error,
   * wrapped in a multierror). A sealed or overloaded Vault, or a proxy before it, answers 502, 503,
   * 504 or 429.
   */
  private static boolean pluginFailed(String operation, HttpStatusCodeException e) {
    return operation.equals("creds") && e.getStatusCode().value() == 500;
  }

  /** Whether an HTTP error says Vault is unhealthy, counted by the circuit breaker. */
  private static boolean countsAgainstVault(String operation, HttpStatusCodeException e) {
    int status = e.getStatusCode().value();
    return (status >= 500 || status == 429) && !pluginFailed(operation, e);
  }

  /**
   * Whether the HTTP client gave up waiting: for a pooled connection, to connect, or for the
   * answer. Apache HttpClient and the JDK report all three as an {@link InterruptedIOException} (a
   * {@code SocketTimeoutException} or a subclass of its parent), wrapped by Spring in a {@code
   * ResourceAccessException}.
   */
  private static boolean timedOut(Throwable e) {
    for (Throwable current = e; current != null; current = current.getCause()) {
      if (current instanceof InterruptedIOException) {
        return true;
      }
      if (current.getCause() == current) {
        break;
      }
    }
    return false;
  }

  private static String describe(Throwable cause) {
    if (cause instanceof HttpStatusCodeException http) {
      return "HTTP " + http.getStatusCode().value();
    }
    if (cause instanceof ResourceAccessException) {
      return "connection failed";
    }
    return cause.getClass().getSimpleName();
  }

  private BrokerException unavailable(String operation, String why, Throwable cause) {
    // The cause is logged without its response body: a Vault error body can echo request data.
    log.warn("Vault {} failed: {}", operation, why);
    return new BrokerException(
        Reason.VAULT_UNAVAILABLE,
        "Vault is unavailable; try again later",
        RETRY_AFTER,
        withoutBody(cause));
  }

  /**
   * Vault refused a request. Logged at WARN with the status and the broker's own reason only:
   * Vault's error body can echo request data (lease ids, SQL of a role, a submitted field), so it
   * never goes into a log line, an exception message or a stack trace.
   */
  private BrokerException rejected(
      String operation, String why, @Nullable HttpStatusCodeException cause) {
    log.warn("Vault refused {} ({})", operation, why);
    return new BrokerException(
        Reason.VAULT_REJECTED,
        "the broker's Vault configuration refused the request; an operator must fix it",
        cause == null ? null : withoutBody(cause));
  }

  /**
   * Spring's HTTP exceptions carry Vault's response body in their message, which any stack trace
   * prints; a cause that keeps only the status is passed on instead.
   */
  private static Throwable withoutBody(Throwable cause) {
    return cause instanceof HttpStatusCodeException http
        ? new VaultStatus(http.getStatusCode().value())
        : cause;
  }

  /** An HTTP status Vault answered, without its body. */
  static final class VaultStatus extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;

    VaultStatus(int code) {
      super("Vault answered HTTP " + code, null, false, false);
      this.code = code;
    }

    int code() {
      return code;
    }
  }

  private void record(String operation, String outcome, long nanos) {
    // Looked up once per operation and outcome: building and registering the timer's id on every
    // call cost more than recording.
    timers
        .computeIfAbsent(
            operation + '/' + outcome,
            key ->
                Timer.builder("credbroker.vault.request")
                    .description("Calls from the broker to Vault")
                    .tag("operation", operation)
                    .tag("outcome", outcome)
                    .publishPercentileHistogram()
                    .register(meterRegistry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  /**
   * {@code <mount>/creds/<role>}; an unsafe mount or role is refused and not remembered. Whatever
   * mount and role a remembered path splits into, they are safe: the path's segments are theirs and
   * {@code creds}.
   */
  private String credsPath(String mount, String role) {
    String path = mount + "/creds/" + role;
    if (!safeCredsPaths.contains(path)) {
      requireSafePath(mount);
      requireSafePath(role);
      safeCredsPaths.add(path);
    }
    return path;
  }

  private static String requireSafePath(String path) {
    if (!PATH_SEGMENTS.matcher(path).matches()) {
      throw new IllegalArgumentException("not a safe Vault path: " + path);
    }
    for (String segment : path.split("/")) {
      if (segment.chars().allMatch(c -> c == '.')) {
        throw new IllegalArgumentException("not a safe Vault path: " + path);
      }
    }
    return path;
  }
}
