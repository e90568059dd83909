package io.credbroker.broker.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.ClientHttpRequestFactoryFactory;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.ClientOptions;
import org.springframework.vault.support.SslConfiguration;
import org.springframework.vault.support.VaultToken;

/** The Vault client's error classification and limits, over HTTP against a scripted server. */
class VaultDatabaseCredentialsTest {

  private static final String CREDS_OK =
      """
      {"request_id":"r1","lease_id":"database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK","renewable":true,
       "lease_duration":60,"data":{"username":"v-root-db1-x7Gq2mZ0aB9cD3eF4hJk-1767225600",
       "password":"Ab3-kZ9qWe7rTy1uIo0P"},"wrap_info":null,"warnings":null,"auth":null}
      """;

  /** What {@code auth/token/create/<role>} answers: the n-th issuing token, one hour. */
  private static final String ISSUING_TOKEN =
      """
      {"request_id":"r2","lease_id":"","renewable":false,"lease_duration":0,"data":null,
       "wrap_info":null,"warnings":null,"auth":{"client_token":"hvs.issuing-{{n}}",
       "accessor":"acc-{{n}}","policies":["credential-broker-issuer"],
       "token_policies":["credential-broker-issuer"],"metadata":null,"lease_duration":3600,
       "renewable":{{renewable}},"entity_id":"","token_type":"service","orphan":true,
       "mfa_requirement":null,"num_uses":0}}
      """;

  private final AtomicInteger issuingTokens = new AtomicInteger();
  private final List<String> revokedTokens = new CopyOnWriteArrayList<>();
  private volatile boolean issuingTokenRenewable;
  private volatile int renewStatus = 200;
  private volatile String renewErrors = "{\"errors\":[\"permission denied\"]}";
  private final AtomicInteger hits = new AtomicInteger();
  private final List<String> requests = new CopyOnWriteArrayList<>();

  /** Each request's Accept and Content-Type headers and body, in order. */
  private final List<String> wire = new CopyOnWriteArrayList<>();

  private volatile int revokeStatus = 204;
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final List<String> callingThreads = new CopyOnWriteArrayList<>();
  private HttpServer server;
  private CircuitBreaker circuitBreaker;
  private VaultDatabaseCredentials vault;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/v1/", this::handle);
    server.setExecutor(Executors.newCachedThreadPool());
    server.start();
    circuitBreaker =
        CircuitBreaker.of(
            "vault",
            CircuitBreakerConfig.custom()
                .minimumNumberOfCalls(3)
                .slidingWindowSize(3)
                .failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofMinutes(1))
                .build());
    // The HTTP client's read timeout is the calls' time limit, as in the broker.
    VaultTemplate template =
        new VaultTemplate(
            VaultEndpoint.from(URI.create("http://127.0.0.1:" + server.getAddress().getPort())),
            ClientHttpRequestFactoryFactory.create(
                new ClientOptions(Duration.ofSeconds(1), Duration.ofMillis(500)),
                SslConfiguration.unconfigured()),
            () -> {
              callingThreads.add(Thread.currentThread().getName());
              return VaultToken.of("root");
            });
    vault =
        new VaultDatabaseCredentials(
            template,
            circuitBreaker,
            Bulkhead.of("vault", BulkheadConfig.custom().maxConcurrentCalls(4).build()),
            roomyCreations(),
            meters);
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  @Test
  void credsReadYieldsTheLeaseAndTheLoginWithoutPrintingThePassword() {
    DatabaseSecret secret = vault.issue("database", "db1");

    assertThat(secret.leaseId()).isEqualTo("database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK");
    assertThat(secret.username()).startsWith("v-root-db1-");
    assertThat(secret.password()).isEqualTo("Ab3-kZ9qWe7rTy1uIo0P");
    assertThat(secret.leaseDuration()).isEqualTo(Duration.ofSeconds(60));
    assertThat(secret.toString()).doesNotContain("Ab3-kZ9qWe7rTy1uIo0P");
    // The lease belongs to an issuing token, never to the broker's login.
    assertThat(requests)
        .containsExactly(
            "POST /v1/auth/token/create/credential-broker-issuer token=root",
            "GET /v1/database/creds/db1 token=hvs.issuing-1");
    assertThat(secret.tokenExpireTime())
        .isBetween(Instant.now().plusSeconds(3590), Instant.now().plusSeconds(3600));
    assertThat(
            meters
                .timer("credbroker.vault.request", "operation", "creds", "outcome", "success")
                .count())
        .isEqualTo(1);
  }

  @Test
  void issuingTokenIsReusedWhileFreshAndReplacedOnceHalfItsLifeHasPassed() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-02T10:00:00Z"));
    VaultDatabaseCredentials timed = withClock(clock);

    DatabaseSecret first = timed.issue("database", "db1");
    clock.advance(Duration.ofMinutes(29));
    DatabaseSecret second = timed.issue("database", "db1");
    clock.advance(Duration.ofMinutes(2));
    DatabaseSecret third = timed.issue("database", "db1");

    assertThat(first.tokenExpireTime()).isEqualTo(Instant.parse("2026-12-02T11:00:00Z"));
    assertThat(second.tokenExpireTime()).isEqualTo(first.tokenExpireTime());
    // 31 min into a 60 min token: a credential issued with it would have less than half a life.
    assertThat(third.tokenExpireTime()).isEqualTo(Instant.parse("2026-12-02T11:31:00Z"));
    assertThat(requests)
        .containsExactly(
            "POST /v1/auth/token/create/credential-broker-issuer token=root",
            "GET /v1/database/creds/db1 token=hvs.issuing-1",
            "GET /v1/database/creds/db1 token=hvs.issuing-1",
            "POST /v1/auth/token/create/credential-broker-issuer token=root",
            "GET /v1/database/creds/db1 token=hvs.issuing-2");
  }

  @Test
  void issuingTokenVaultNoLongerAcceptsIsReplacedAndTheReadTriedOnce() {
    vault.issue("database", "db1");
    revokedTokens.add("hvs.issuing-1");

    DatabaseSecret secret = vault.issue("database", "db1");

    assertThat(secret.username()).startsWith("v-root-db1-");
    assertThat(requests)
        .containsExactly(
            "POST /v1/auth/token/create/credential-broker-issuer token=root",
            "GET /v1/database/creds/db1 token=hvs.issuing-1",
            "GET /v1/database/creds/db1 token=hvs.issuing-1",
            "POST /v1/auth/token/create/credential-broker-issuer token=root",
            "GET /v1/database/creds/db1 token=hvs.issuing-2");
  }

  @Test
  void aPathTheIssuingPolicyRefusesCostsOneNewTokenAMinuteAndOtherPathsKeepIssuingWithIt() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-05T10:00:00Z"));
    VaultDatabaseCredentials timed = withClock(clock);

    for (int i = 0; i < 4; i++) {
      assertThatThrownBy(() -> timed.issue("database", "denied"))
          .isInstanceOfSatisfying(
              BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_REJECTED));
    }
    timed.issue("database", "db1");

    // A fresh token refused too: the policy's refusal, not the token's. Vault words both alike.
    String create = "POST /v1/auth/token/create/credential-broker-issuer token=root";
    assertThat(requests)
        .containsExactly(
            create,
            "GET /v1/database/creds/denied token=hvs.issuing-1",
            create,
            "GET /v1/database/creds/denied token=hvs.issuing-2",
            "GET /v1/database/creds/denied token=hvs.issuing-2",
            "GET /v1/database/creds/denied token=hvs.issuing-2",
            "GET /v1/database/creds/denied token=hvs.issuing-2",
            "GET /v1/database/creds/db1 token=hvs.issuing-2");

    // A minute on, a refusal is put to a new token once more (the token may have been revoked
    // since).
    clock.advance(Duration.ofMinutes(1));
    requests.clear();
    assertThatThrownBy(() -> timed.issue("database", "denied")).isInstanceOf(BrokerException.class);
    assertThatThrownBy(() -> timed.issue("database", "denied")).isInstanceOf(BrokerException.class);
    assertThat(requests)
        .containsExactly(
            "GET /v1/database/creds/denied token=hvs.issuing-2",
            create,
            "GET /v1/database/creds/denied token=hvs.issuing-3",
            "GET /v1/database/creds/denied token=hvs.issuing-3");
  }

  @Test
  void renewableIssuingTokenIsRefusedBecauseItWouldTieCredentialsToTheLogin() {
    issuingTokenRenewable = true;

    assertThatThrownBy(() -> vault.issue("database", "db1"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_REJECTED));
    assertThat(requests).noneMatch(r -> r.contains("/creds/"));
  }

  @Test
  void renewalSendsTheIncrementAndReturnsTheCappedDuration() {
    Duration renewed =
        vault.renew("database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK", Duration.ofHours(1));

    assertThat(renewed).isEqualTo(Duration.ofSeconds(42));
    // Renewals need no issuing token: the login may renew any lease its policy allows.
    assertThat(requests).containsExactly("PUT /v1/sys/leases/renew token=root");
  }

  @Test
  void renewalRefusedOnlyWhenVaultRefusesTheLeaseItself() {
    Map<String, Reason> answers = new LinkedHashMap<>();
    answers.put("400 lease not found", Reason.VAULT_REJECTED);
    answers.put("400 lease expired", Reason.VAULT_REJECTED);
    answers.put("400 lease is not renewable", Reason.VAULT_REJECTED);
    // The database backend could not run the renewal (its target database unreachable): Vault
    // wraps that in a 400 and leaves the lease as it was.
    answers.put(
        "400 failed to renew entry: resp: (*logical.Response)(nil) err: connection refused",
        Reason.VAULT_UNAVAILABLE);
    answers.put("404 no handler for route \\\"sys/leases/renew\\\"", Reason.VAULT_UNAVAILABLE);
    answers.put("400 something else entirely", Reason.VAULT_UNAVAILABLE);
    answers.put("409 conflict", Reason.VAULT_UNAVAILABLE);
    Map<String, Reason> got = new LinkedHashMap<>();
    for (String answer : answers.keySet()) {
      renewStatus = Integer.parseInt(answer.substring(0, 3));
      renewErrors = "{\"errors\":[\"" + answer.substring(4) + "\"]}";
      try {
        vault.renewLease("database/creds/db1/abc", Duration.ofMinutes(1));
        got.put(answer, null);
      } catch (BrokerException e) {
        got.put(answer, e.reason());
      }
    }

    assertThat(got).isEqualTo(answers);
    // Vault answered every time: none of it counts against the circuit.
    assertThat(circuitBreaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
  }

  @Test
  void credsReadAsksForJsonWithTheIssuingTokenAndSendsNoBody() {
    vault.issue("database", "db1");

    assertThat(wire)
        .filteredOn(r -> r.contains("/creds/"))
        .containsExactly(
            "GET /v1/database/creds/db1 accept=application/json, application/*+json type=null body=");
    assertThat(requests)
        .filteredOn(r -> r.contains("/creds/"))
        .containsExactly("GET /v1/database/creds/db1 token=hvs.issuing-1");
  }

  @Test
  void credsReadAnsweredWithoutABodyIsRejectedAndWithABrokenOneIsUnavailable() {
    assertThatThrownBy(() -> vault.issue("database", "empty"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_REJECTED));
    assertThatThrownBy(() -> vault.issue("database", "garbled"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
    assertThat(
            meters
                .timer("credbroker.vault.request", "operation", "creds", "outcome", "unavailable")
                .count())
        .isEqualTo(1);
  }

  @Test
  void revocationPutsTheLeaseAndSyncAsJsonWithTheBrokersToken() {
    vault.revoke("database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK");

    assertThat(requests)
        .filteredOn(r -> r.contains("/revoke"))
        .containsExactly("PUT /v1/sys/leases/revoke token=root");
    assertThat(wire)
        .filteredOn(r -> r.contains("/revoke"))
        .singleElement()
        .satisfies(
            request ->
                assertThat(request)
                    .startsWith(
                        "PUT /v1/sys/leases/revoke accept=application/json, application/*+json"
                            + " type=application/json body={")
                    .contains("\"lease_id\":\"database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK\"")
                    .contains("\"sync\":true")
                    .endsWith("}"));
    assertThat(
            meters
                .timer("credbroker.vault.request", "operation", "revoke", "outcome", "success")
                .count())
        .isEqualTo(1);
  }

  @Test
  void revocationVaultRefusesIsRejectedAndOneItFailsIsUnavailable() {
    revokeStatus = 400;
    assertThatThrownBy(() -> vault.revoke("database/creds/db1/x"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_REJECTED));

    revokeStatus = 500;
    assertThatThrownBy(() -> vault.revoke("database/creds/db1/x"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
  }

  @Test
  void refusalByVaultIsRejectedAndDoesNotOpenTheCircuit() {
    for (int i = 0; i < 5; i++) {
      assertThatThrownBy(() -> vault.issue("database", "missing"))
          .isInstanceOfSatisfying(
              BrokerException.class,
              e -> {
                assertThat(e.reason()).isEqualTo(Reason.VAULT_REJECTED);
                assertThat(e.getMessage()).doesNotContain("unknown role");
              });
    }

    assertThat(circuitBreaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(requests).filteredOn(r -> r.contains("/creds/")).hasSize(5);
  }

  @Test
  void repeatedServerErrorsOpenTheCircuitAndLaterCallsFailWithoutReachingVault() {
    for (int i = 0; i < 3; i++) {
      int before = hits.get();
      Throwable failed = catchThrowable(() -> vault.issue("database", "sealed"));
      assertThat(failed)
          .isInstanceOfSatisfying(
              BrokerException.class,
              e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
      // A creation Vault got may have made a role before it failed; one the circuit kept from it
      // did not.
      assertThat(failed instanceof CreationNotSent).isEqualTo(hits.get() == before);
    }
    assertThat(circuitBreaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);
    int reached = hits.get();

    assertThatThrownBy(() -> vault.issue("database", "db1"))
        .isInstanceOfSatisfying(
            CreationNotSent.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE);
              assertThat(e.retryAfter()).isNotNull();
            });
    assertThat(hits.get()).isEqualTo(reached);
  }

  @Test
  void aDatabasePluginsFailuresDoNotOpenTheCircuitAndOtherRolesCallsGoThrough() {
    // One role's target database is down: Vault answers its creations 500.
    for (int i = 0; i < 5; i++) {
      assertThatThrownBy(() -> vault.issue("database", "broken"))
          .isInstanceOfSatisfying(
              BrokerException.class,
              e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
    }

    assertThat(circuitBreaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(vault.issue("database", "db1").leaseId()).startsWith("database/creds/db1/");
  }

  @Test
  void unreachableVaultIsUnavailable() {
    server.stop(0);

    assertThatThrownBy(() -> vault.issue("database", "db1"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
  }

  @Test
  void vaultThatDoesNotAnswerInTimeIsUnavailable() {
    long start = System.nanoTime();

    assertThatThrownBy(() -> vault.issue("database", "slow"))
        .isNotInstanceOf(CreationNotSent.class)
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));

    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    assertThat(
            meters
                .timer("credbroker.vault.request", "operation", "creds", "outcome", "timeout")
                .count())
        .isEqualTo(1);
  }

  @Test
  void exchangeRunsOnTheCallersThreadWithoutAHandOff() {
    vault.issue("database", "db1");

    // The session (and with it the HTTP exchange) is used on the thread that asked.
    assertThat(callingThreads).containsOnly(Thread.currentThread().getName());
  }

  @Test
  void fullBulkheadIsOverloadedAndDoesNotReachVault() {
    Bulkhead full = Bulkhead.of("vault", BulkheadConfig.custom().maxConcurrentCalls(1).build());
    full.acquirePermission();
    VaultDatabaseCredentials limited = limitedBy(full, roomyCreations());

    assertThatThrownBy(() -> limited.issue("database", "db1"))
        .isInstanceOfSatisfying(
            CreationNotSent.class, e -> assertThat(e.reason()).isEqualTo(Reason.OVERLOADED));
    // A renewal refused the same way may follow a creation that happened: not a CreationNotSent.
    assertThatThrownBy(
            () -> limited.renew("database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK", Duration.ofHours(1)))
        .isNotInstanceOf(CreationNotSent.class)
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.OVERLOADED));
    assertThat(hits.get()).isZero();
  }

  @Test
  void fullCreationBulkheadIsOverloadedBeforeVaultWithoutCountingAgainstTheCircuit() {
    Bulkhead creations =
        Bulkhead.of("vault-creations", BulkheadConfig.custom().maxConcurrentCalls(1).build());
    VaultDatabaseCredentials limited =
        limitedBy(
            Bulkhead.of("vault", BulkheadConfig.custom().maxConcurrentCalls(4).build()), creations);
    // The issuing token exists before the limit is reached: only the creation is refused.
    limited.issuingTokenLifetime();
    creations.acquirePermission();

    for (int i = 0; i < 10; i++) {
      assertThatThrownBy(() -> limited.issue("database", "db1"))
          .isInstanceOfSatisfying(
              CreationNotSent.class,
              e -> {
                assertThat(e.reason()).isEqualTo(Reason.OVERLOADED);
                assertThat(e.retryAfter()).isPositive();
              });
    }

    assertThat(requests).noneMatch(r -> r.contains("/creds/"));
    assertThat(circuitBreaker.getMetrics().getNumberOfFailedCalls()).isZero();
    assertThat(circuitBreaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(
            meters
                .get("credbroker.vault.request")
                .tags("operation", "creds", "outcome", "bulkhead_full")
                .timer()
                .count())
        .isEqualTo(10);
    // Other calls do not need a creation's permit; a released permit admits a creation again.
    assertThat(limited.renew("database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK", Duration.ofHours(1)))
        .isPositive();
    creations.onComplete();
    assertThat(limited.issue("database", "db1").username()).isNotEmpty();
  }

  @Test
  void vaultErrorBodyIsNeverLoggedNorCarriedInTheExceptionAndRefusalsAreWarnings() {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Logger logger = (Logger) LoggerFactory.getLogger(VaultDatabaseCredentials.class);
    logger.addAppender(logs);
    try {
      Throwable refused = catchThrowable(() -> vault.issue("database", "echo"));
      Throwable failed = catchThrowable(() -> vault.issue("database", "broken"));

      assertThat(logs.list).isNotEmpty();
      assertThat(logs.list).noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.ERROR));
      assertThat(logs.list)
          .noneMatch(e -> e.getFormattedMessage().contains("ECHOED-REQUEST-DATA"))
          .noneMatch(e -> e.getFormattedMessage().contains("boom"));
      // Whoever logs the exception later prints its causes: no body there either.
      assertThat(stackTrace(refused)).contains("HTTP 400").doesNotContain("ECHOED-REQUEST-DATA");
      assertThat(stackTrace(failed)).contains("HTTP 500").doesNotContain("boom");
    } finally {
      logger.detachAppender(logs);
    }
  }

  @Test
  void renewalVaultRefusesForTheBrokersOwnTokenIsUnavailableAndLogsInAgain() {
    AtomicInteger logins = new AtomicInteger();
    VaultDatabaseCredentials relogging =
        new VaultDatabaseCredentials(
            new VaultTemplate(
                VaultEndpoint.from(URI.create("http://127.0.0.1:" + server.getAddress().getPort())),
                new TokenAuthentication("root")),
            circuitBreaker,
            Bulkhead.of("vault", BulkheadConfig.custom().maxConcurrentCalls(4).build()),
            roomyCreations(),
            meters,
            null,
            "credential-broker-issuer",
            Clock.systemUTC(),
            logins::incrementAndGet);
    renewStatus = 403;

    // A 403 says the broker's token or policy is wrong, nothing about the lease: try again later.
    assertThatThrownBy(() -> relogging.renewLease("database/creds/db1/abc", Duration.ofMinutes(1)))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE);
              assertThat(e.retryAfter()).isNotNull();
            });
    assertThat(logins.get()).isEqualTo(1);
    assertThat(circuitBreaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
  }

  private static String stackTrace(Throwable e) {
    StringWriter out = new StringWriter();
    e.printStackTrace(new PrintWriter(out));
    return out.toString();
  }

  @Test
  void unsafeMountOrRoleNeverBecomesAPath() {
    assertThatThrownBy(() -> vault.issue("database", "../sys/seal"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> vault.issue("../sys", "seal"))
        .isInstanceOf(IllegalArgumentException.class);
    // Checked paths are remembered; a refused one is not, so it is refused again.
    assertThatThrownBy(() -> vault.issue("database", "../sys/seal"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(hits.get()).isZero();
  }

  private VaultDatabaseCredentials withClock(Clock clock) {
    return new VaultDatabaseCredentials(
        new VaultTemplate(
            VaultEndpoint.from(URI.create("http://127.0.0.1:" + server.getAddress().getPort())),
            new TokenAuthentication("root")),
        circuitBreaker,
        Bulkhead.of("vault", BulkheadConfig.custom().maxConcurrentCalls(4).build()),
        roomyCreations(),
        meters,
        null,
        "credential-broker-issuer",
        clock);
  }

  /** A client of the scripted server, logged in as root, without retries, behind these limits. */
  private VaultDatabaseCredentials limitedBy(Bulkhead bulkhead, Bulkhead creations) {
    return new VaultDatabaseCredentials(
        new VaultTemplate(
            VaultEndpoint.from(URI.create("http://127.0.0.1:" + server.getAddress().getPort())),
            new TokenAuthentication("root")),
        circuitBreaker,
        bulkhead,
        creations,
        meters);
  }

  /** A creation bulkhead these tests never fill. */
  private static Bulkhead roomyCreations() {
    return Bulkhead.of("vault-creations", BulkheadConfig.custom().maxConcurrentCalls(4).build());
  }

  /** A clock the test moves by hand. */
  private static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant start) {
      this.now = start;
    }

    void advance(Duration by) {
      now = now.plus(by);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    hits.incrementAndGet();
    String path = exchange.getRequestURI().getPath();
    requests.add(
        exchange.getRequestMethod()
            + " "
            + path
            + " token="
            + exchange.getRequestHeaders().getFirst("X-Vault-Token"));
    wire.add(
        exchange.getRequestMethod()
            + " "
            + path
            + " accept="
            + exchange.getRequestHeaders().getFirst("Accept")
            + " type="
            + exchange.getRequestHeaders().getFirst("Content-Type")
            + " body="
            + new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
    switch (path) {
      case "/v1/auth/token/create/credential-broker-issuer" -> {
        int n = issuingTokens.incrementAndGet();
        respond(
            exchange,
            200,
            ISSUING_TOKEN
                .replace("{{n}}", Integer.toString(n))
                .replace("{{renewable}}", Boolean.toString(issuingTokenRenewable)));
      }
      case "/v1/database/creds/db1" -> {
        String token = exchange.getRequestHeaders().getFirst("X-Vault-Token");
        if (revokedTokens.contains(token)) {
          respond(exchange, 403, "{\"errors\":[\"permission denied\"]}");
        } else {
          respond(exchange, 200, CREDS_OK);
        }
      }
      case "/v1/database/creds/denied" ->
          respond(
              exchange, 403, "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}");
      case "/v1/database/creds/echo" ->
          respond(exchange, 400, "{\"errors\":[\"bad field ECHOED-REQUEST-DATA\"]}");
      case "/v1/database/creds/missing" ->
          respond(exchange, 400, "{\"errors\":[\"unknown role: missing\"]}");
      case "/v1/database/creds/broken" ->
          respond(exchange, 500, "{\"errors\":[\"1 error occurred:\\n\\t* boom\\n\\n\"]}");
      case "/v1/database/creds/sealed" ->
          respond(exchange, 503, "{\"errors\":[\"Vault is sealed\"]}");
      case "/v1/database/creds/slow" -> {
        try {
          Thread.sleep(5_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        respond(exchange, 200, CREDS_OK);
      }
      case "/v1/database/creds/empty" -> respond(exchange, 200, "");
      case "/v1/database/creds/garbled" -> respond(exchange, 200, "{\"lease_id\": [");
      case "/v1/sys/leases/revoke" ->
          respond(exchange, revokeStatus, revokeStatus == 204 ? "" : "{\"errors\":[\"no\"]}");
      case "/v1/sys/leases/renew" -> {
        if (renewStatus != 200) {
          respond(exchange, renewStatus, renewErrors);
          return;
        }
        respond(
            exchange,
            200,
            "{\"lease_id\":\"database/creds/db1/IQKUMCTg3M5RoJ0Wr0ZDSxyK\",\"renewable\":true,"
                + "\"lease_duration\":42,\"data\":null,\"warnings\":null}");
      }
      default -> respond(exchange, 404, "{\"errors\":[]}");
    }
  }

  private static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (var out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
