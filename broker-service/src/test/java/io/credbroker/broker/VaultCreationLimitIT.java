package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.retryInfo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.devstack.http.HttpRequest;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bound on credential creations in flight at Vault, through the real wire: with Vault slow to
 * create roles (as its PostgreSQL plugin is under a stampede), creations beyond {@code
 * credbroker.vault.max-concurrent-creations} are refused at once with RESOURCE_EXHAUSTED {@code
 * OVERLOADED} and a RetryInfo instead of queueing inside Vault past the broker's read timeout, and
 * the refusals do not open the circuit breaker. And the bound on pods' releases revoked in Vault at
 * once ({@code credbroker.lease.max-concurrent-release-revocations}): beyond it a release answers
 * at once and the revocation queue revokes its lease.
 */
class VaultCreationLimitIT {

  private static final int MAX_CREATIONS = 2;
  private static final int CALLS = 8;

  /** How many credentials a pod may obtain in a row. */
  private static final int ISSUANCE_BURST = 3;

  /** How long Vault takes to answer a revocation; below the broker's read timeout (5 s). */
  private static final Duration REVOCATION_TIME = Duration.ofSeconds(2);

  /** How long Vault takes to answer a creation; below the broker's read timeout (5 s). */
  private static final Duration CREATION_TIME = Duration.ofSeconds(2);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static BrokerTestClient client;
  private static final AtomicInteger pods = new AtomicInteger();

  @BeforeAll
  static void startBroker() {
    fixture =
        BrokerFixture.start(
            workDir,
            Map.of(
                "credbroker.vault.max-concurrent-creations",
                MAX_CREATIONS,
                "credbroker.lease.max-concurrent-release-revocations",
                1,
                "credbroker.limits.issuance-burst",
                ISSUANCE_BURST),
            devStack -> {});
    client = new BrokerTestClient(fixture.channel);
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void creationsBeyondTheLimitAreOverloadedAtOnceAndNeverReachVault() throws Exception {
    KubernetesApiServer kubernetes = fixture.devStack.kubernetes();
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < CALLS; i++) {
      tokens.add(newPodToken(kubernetes));
    }
    // Resilience4j's Micrometer binding reports the limit like the other bulkheads.
    MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);
    assertThat(
            meters
                .get("resilience4j.bulkhead.max.allowed.concurrent.calls")
                .tag("name", "vault-creations")
                .gauge()
                .value())
        .isEqualTo(MAX_CREATIONS);
    // The replica's issuing token exists before the stampede, as it does on a running replica.
    client.issue(newPodToken(kubernetes), BrokerFixture.DATABASE_ROLE);

    ConcurrentLinkedQueue<Long> creationArrivals = new ConcurrentLinkedQueue<>();
    fixture
        .devStack
        .vaultFaults()
        .delay(
            request -> {
              boolean creation = HeldCreations.isCreation(request);
              if (creation) {
                creationArrivals.add(System.nanoTime());
              }
              return creation;
            },
            CREATION_TIME);
    List<Outcome> outcomes;
    try {
      outcomes = issueAtOnce(tokens);
    } finally {
      fixture.devStack.vaultFaults().clear();
    }

    List<Outcome> issued = outcomes.stream().filter(o -> o.error() == null).toList();
    List<Outcome> refused = outcomes.stream().filter(o -> o.error() != null).toList();
    // Vault never held more creations at once than the limit: every creation it received stays
    // there for CREATION_TIME, so no window that long saw more arrivals.
    assertThat(mostArrivalsWithin(new ArrayList<>(creationArrivals), CREATION_TIME))
        .isLessThanOrEqualTo(MAX_CREATIONS);
    assertThat(creationArrivals).hasSize(issued.size());
    assertThat(refused).isNotEmpty();
    for (Outcome call : refused) {
      StatusRuntimeException e = Objects.requireNonNull(call.error());
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(BrokerTestClient.errorInfo(e).getReason()).isEqualTo("OVERLOADED");
      assertThat(retryInfo(e)).isNotNull();
      // Refused before any creation could have finished, not after waiting inside Vault.
      assertThat(call.took()).isLessThan(CREATION_TIME);
    }
    CircuitBreaker vault =
        fixture.broker.getBean(CircuitBreakerRegistry.class).circuitBreaker("vault");
    assertThat(vault.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(vault.getMetrics().getNumberOfFailedCalls()).isZero();
    // With Vault fast again, a refused pod gets its credential on retry.
    assertThat(client.issue(newPodToken(kubernetes), BrokerFixture.DATABASE_ROLE).getUsername())
        .isNotEmpty();
  }

  @Test
  void releasesBeyondTheirLimitAnswerAtOnceAndTheQueueRevokesTheirRoles() throws Exception {
    KubernetesApiServer kubernetes = fixture.devStack.kubernetes();
    List<String> tokens = List.of(newPodToken(kubernetes), newPodToken(kubernetes));
    List<Credential> held = new ArrayList<>();
    for (String token : tokens) {
      held.add(client.issue(token, BrokerFixture.DATABASE_ROLE));
    }
    MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);
    // Resilience4j's Micrometer binding reports the release limit like the other bulkheads.
    assertThat(
            meters
                .get("resilience4j.bulkhead.max.allowed.concurrent.calls")
                .tag("name", "lease-release-revocations")
                .gauge()
                .value())
        .isEqualTo(1);
    double queuedBefore = releasesQueued(meters);
    // Vault slow to revoke, as its PostgreSQL plugin is behind a rolling update's releases; the
    // replica revokes one release at a time in Vault (the limit of this class's broker).
    fixture.devStack.vaultFaults().delay(VaultCreationLimitIT::isRevocation, REVOCATION_TIME);
    List<Duration> took = new ArrayList<>();
    try {
      ExecutorService pods = Executors.newFixedThreadPool(tokens.size());
      try {
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Duration>> releases = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
          String token = tokens.get(i);
          String credentialId = held.get(i).getCredentialId();
          releases.add(
              pods.submit(
                  () -> {
                    start.await();
                    long t0 = System.nanoTime();
                    client
                        .as(token)
                        .releaseCredential(
                            ReleaseCredentialRequest.newBuilder()
                                .setCredentialId(credentialId)
                                .build());
                    return Duration.ofNanos(System.nanoTime() - t0);
                  }));
        }
        start.countDown();
        for (Future<Duration> release : releases) {
          took.add(release.get(30, TimeUnit.SECONDS));
        }
      } finally {
        pods.shutdownNow();
      }
    } finally {
      fixture.devStack.vaultFaults().clear();
    }

    // Both pods were answered; one of them before Vault could have revoked anything: its release
    // was left to the revocation queue, which then revoked its role.
    assertThat(took.stream().min(Duration::compareTo).orElseThrow()).isLessThan(REVOCATION_TIME);
    assertThat(releasesQueued(meters) - queuedBefore).isEqualTo(1.0);
    for (Credential credential : held) {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> !fixture.roleExists(credential.getUsername()));
    }
  }

  private static double releasesQueued(MeterRegistry meters) {
    Counter queued =
        meters
            .find("credbroker.lease.revocations")
            .tag("trigger", "release")
            .tag("outcome", "queued")
            .counter();
    return queued == null ? 0 : queued.count();
  }

  private static boolean isRevocation(HttpRequest request) {
    return request.method().equals("PUT") && request.path().contains("/sys/leases/revoke");
  }

  @Test
  void refusedCreationsAreAskedBackSpreadOverTheTimeTheLimitNeedsToServeThem() throws Exception {
    KubernetesApiServer kubernetes = fixture.devStack.kubernetes();
    client.issue(newPodToken(kubernetes), BrokerFixture.DATABASE_ROLE);
    List<String> first = new ArrayList<>();
    for (int i = 0; i < MAX_CREATIONS; i++) {
      first.add(newPodToken(kubernetes));
    }
    List<String> second = new ArrayList<>();
    for (int i = 0; i < CALLS; i++) {
      second.add(newPodToken(kubernetes));
    }
    fixture.devStack.vaultFaults().delay(HeldCreations::isCreation, CREATION_TIME);
    List<Outcome> outcomes;
    try {
      // The replica learns how long a creation takes now: CREATION_TIME for each of its slots.
      assertThat(issueAtOnce(first)).allMatch(o -> o.error() == null);
      outcomes = issueAtOnce(second);
    } finally {
      fixture.devStack.vaultFaults().clear();
    }

    List<Duration> delays =
        outcomes.stream()
            .filter(o -> o.error() != null)
            .map(o -> Objects.requireNonNull(retryInfo(Objects.requireNonNull(o.error()))))
            .map(
                info ->
                    Duration.ofSeconds(
                        info.getRetryDelay().getSeconds(), info.getRetryDelay().getNanos()))
            .sorted()
            .toList();
    // The limit admitted MAX_CREATIONS. A slot frees every CREATION_TIME / MAX_CREATIONS (1 s),
    // and the refused callers are asked back twice as fast, one after the other, never sooner than
    // in 1 s: 1, 1, 1.5, 2, 2.5 and 3 s, not all after the same delay to be refused again.
    assertThat(delays).hasSize(CALLS - MAX_CREATIONS);
    Duration asked = CREATION_TIME.dividedBy(MAX_CREATIONS).dividedBy(2);
    for (int i = 0; i < delays.size(); i++) {
      Duration expected = asked.multipliedBy(i + 1);
      if (expected.compareTo(Duration.ofSeconds(1)) < 0) {
        expected = Duration.ofSeconds(1);
      }
      assertThat(delays.get(i))
          .as("delay of refusal %d in %s", i + 1, delays)
          .isBetween(expected.minusMillis(300), expected.plusMillis(300));
    }
  }

  @Test
  void aPodTurnedAwayAtTheLimitKeepsItsIssuanceBudget() throws Exception {
    KubernetesApiServer kubernetes = fixture.devStack.kubernetes();
    client.issue(newPodToken(kubernetes), BrokerFixture.DATABASE_ROLE);
    List<String> holders = new ArrayList<>();
    for (int i = 0; i < MAX_CREATIONS; i++) {
      holders.add(newPodToken(kubernetes));
    }
    String pod = newPodToken(kubernetes);
    CountDownLatch arrived = new CountDownLatch(MAX_CREATIONS);
    CountDownLatch release = new CountDownLatch(1);
    // Vault holds the holders' creations until the pod has been turned away, so that no slot can
    // free up in between however slow the machine; never past the broker's read timeout (5 s).
    HeldCreations.hold(fixture.devStack, arrived, release);
    ExecutorService background = Executors.newSingleThreadExecutor();
    List<Outcome> held;
    List<StatusRuntimeException> refusals = new ArrayList<>();
    try {
      Future<List<Outcome>> holding = background.submit(() -> issueAtOnce(holders));
      assertThat(arrived.await(30, TimeUnit.SECONDS)).isTrue();
      // More refusals than the pod's whole burst.
      for (int i = 0; i <= ISSUANCE_BURST; i++) {
        try {
          client.issue(pod, BrokerFixture.DATABASE_ROLE);
        } catch (StatusRuntimeException e) {
          refusals.add(e);
        }
      }
      release.countDown();
      held = holding.get(60, TimeUnit.SECONDS);
    } finally {
      release.countDown();
      fixture.devStack.vaultFaults().clear();
      background.shutdownNow();
    }

    assertThat(held).allMatch(o -> o.error() == null);
    assertThat(refusals)
        .hasSize(ISSUANCE_BURST + 1)
        .allSatisfy(
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              assertThat(BrokerTestClient.errorInfo(e).getReason()).isEqualTo("OVERLOADED");
            });
    // Turned away before Vault was asked, the pod spent none of its issuances: its burst is whole.
    for (int i = 0; i < ISSUANCE_BURST; i++) {
      assertThat(client.issue(pod, BrokerFixture.DATABASE_ROLE).getUsername()).isNotEmpty();
    }
    assertThatThrownBy(() -> client.issue(pod, BrokerFixture.DATABASE_ROLE))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e ->
                assertThat(BrokerTestClient.errorInfo(e).getReason())
                    .isEqualTo("ISSUANCE_RATE_EXCEEDED"));
  }

  /** Issues a credential for each token, all at once, and returns each call's outcome. */
  private static List<Outcome> issueAtOnce(List<String> tokens) throws Exception {
    List<Outcome> outcomes = new ArrayList<>();
    ExecutorService callers = Executors.newFixedThreadPool(tokens.size());
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Outcome>> calls = new ArrayList<>();
      for (String token : tokens) {
        calls.add(
            callers.submit(
                () -> {
                  go.await();
                  long start = System.nanoTime();
                  try {
                    client.issue(token, BrokerFixture.DATABASE_ROLE);
                    return new Outcome(null, Duration.ofNanos(System.nanoTime() - start));
                  } catch (StatusRuntimeException e) {
                    return new Outcome(e, Duration.ofNanos(System.nanoTime() - start));
                  }
                }));
      }
      go.countDown();
      for (Future<Outcome> call : calls) {
        outcomes.add(call.get(60, TimeUnit.SECONDS));
      }
    } finally {
      callers.shutdownNow();
    }
    return outcomes;
  }

  private static String newPodToken(KubernetesApiServer kubernetes) {
    String pod = "stampede-" + pods.incrementAndGet();
    kubernetes.createPod("public", pod, "application");
    return kubernetes.issueToken(
        "public", "application", pod, List.of("credbroker"), Duration.ofMinutes(10));
  }

  /**
   * The most of {@code arrivals} (nanoTime) that fall within any interval shorter than {@code
   * window}.
   */
  private static int mostArrivalsWithin(List<Long> arrivals, Duration window) {
    List<Long> sorted = arrivals.stream().sorted().toList();
    int most = 0;
    int first = 0;
    for (int last = 0; last < sorted.size(); last++) {
      while (sorted.get(last) - sorted.get(first) >= window.toNanos()) {
        first++;
      }
      most = Math.max(most, last - first + 1);
    }
    return most;
  }

  private record Outcome(@Nullable StatusRuntimeException error, Duration took) {}
}
