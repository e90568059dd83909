package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class TokenAuthenticatorTest {

  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");
  private static final Instant START = Instant.parse("2026-01-01T12:00:00Z");

  private final FakeTime time = new FakeTime();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  /** How many callers the authenticator reported as throttled (for the cluster's refusals). */
  private final AtomicInteger reportedTurnedAway = new AtomicInteger();

  @Test
  void repeatedRequestsWithOneTokenCauseOneReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));

    for (int i = 0; i < 5; i++) {
      assertThat(authenticator.authenticate(token)).isEqualTo(POD);
    }

    assertThat(reviewer.calls()).isEqualTo(1);
    assertThat(meters.counter("credbroker.tokenreview.cache", "result", "hit").count())
        .isEqualTo(4);
    assertThat(meters.counter("credbroker.tokenreview.cache", "result", "miss").count())
        .isEqualTo(1);
    assertThat(meters.timer("credbroker.tokenreview.request", "outcome", "authenticated").count())
        .isEqualTo(1);
  }

  @Test
  void theLifetimeOfAnAcceptedTokenComesFromItsClaims() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    Instant issued = START.minusSeconds(60);
    Instant expiry = START.plus(Duration.ofHours(1));
    BearerToken token =
        new BearerToken(
            new com.nimbusds.jwt.PlainJWT(
                    new com.nimbusds.jwt.JWTClaimsSet.Builder()
                        .issueTime(java.util.Date.from(issued))
                        .expirationTime(java.util.Date.from(expiry))
                        .build())
                .serialize());

    authenticator.authenticate(token);

    assertThat(authenticator.tokenLifetime(token)).isEqualTo(new TokenLifetime(issued, expiry));
    assertThat(reviewer.calls()).isEqualTo(1);
  }

  @Test
  void cachedIdentityNeverOutlivesTheTokensExpiry() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofSeconds(30)));

    authenticator.authenticate(token);
    time.advance(Duration.ofSeconds(29));
    authenticator.authenticate(token);
    assertThat(reviewer.calls()).isEqualTo(1);

    time.advance(Duration.ofSeconds(2));
    authenticator.authenticate(token);
    assertThat(reviewer.calls()).isEqualTo(2);
  }

  @Test
  void cachedIdentityNeverOutlivesTheConfiguredMaximum() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofDays(365)));

    authenticator.authenticate(token);
    time.advance(Duration.ofMinutes(5).plusSeconds(1));
    authenticator.authenticate(token);

    assertThat(reviewer.calls()).isEqualTo(2);
  }

  @Test
  void rejectedTokenIsRememberedBrieflyThenReviewedAgain() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> TokenReviewOutcome.rejected());
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));

    for (int i = 0; i < 3; i++) {
      // Each refusal, the cached ones too, says how long it is remembered: a client retrying
      // sooner gets the same answer (and one that retries only a few times, quickly, would give
      // up on a refusal that was only transient).
      assertThatThrownBy(() -> authenticator.authenticate(token))
          .isInstanceOfSatisfying(
              BrokerException.class,
              e -> {
                assertThat(e.reason()).isEqualTo(Reason.TOKEN_REJECTED);
                assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(5));
              });
    }
    assertThat(reviewer.calls()).isEqualTo(1);

    time.advance(Duration.ofSeconds(6));
    assertThatThrownBy(() -> authenticator.authenticate(token)).isInstanceOf(BrokerException.class);
    assertThat(reviewer.calls()).isEqualTo(2);
  }

  @Test
  void kubernetesOutageFailsClosedAndIsNotCached() {
    AtomicInteger failuresLeft = new AtomicInteger(1);
    RecordingReviewer reviewer =
        RecordingReviewer.answering(
            t -> {
              if (failuresLeft.getAndDecrement() > 0) {
                throw new BrokerException(
                    Reason.KUBERNETES_UNAVAILABLE, "down", Duration.ofSeconds(1), null);
              }
              return accepted(POD);
            });
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));
    assertThat(authenticator.reviewsAnswered()).isTrue();

    assertThatThrownBy(() -> authenticator.authenticate(token))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.KUBERNETES_UNAVAILABLE));
    // Turned away through no fault of its own (a detached credential's grace counts from then),
    // and known: streams are not ended for their token while no review can let them back in.
    assertThat(reportedTurnedAway.get()).isEqualTo(1);
    assertThat(authenticator.reviewsAnswered()).isFalse();
    assertThat(authenticator.authenticate(token)).isEqualTo(POD);
    assertThat(reviewer.calls()).isEqualTo(2);
    assertThat(authenticator.reviewsAnswered()).isTrue();
  }

  @Test
  void aFailedReviewReachesItsWaitersAndLeavesNoCacheWarningInTheLog() throws Exception {
    // The cache logs a failed load with its stack trace (java.util.logging, then logback): once
    // per call refused while reviews were throttled or Kubernetes was away.
    java.util.logging.Logger cacheLog =
        java.util.logging.Logger.getLogger("com.github.benmanes.caffeine.cache.LocalAsyncCache");
    List<java.util.logging.LogRecord> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Handler handler =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord record) {
            logged.add(record);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    cacheLog.addHandler(handler);
    HeldReview held = new HeldReview();
    RecordingReviewer reviewer =
        held.answering(
            () -> {
              throw new BrokerException(
                  Reason.KUBERNETES_UNAVAILABLE, "down", Duration.ofSeconds(1), null);
            });
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<PodIdentity> reviewing = pool.submit(() -> authenticator.authenticate(token));
      assertThat(held.started.await(5, TimeUnit.SECONDS)).isTrue();
      Future<PodIdentity> waiting = pool.submit(() -> authenticator.authenticate(token));
      TimeUnit.MILLISECONDS.sleep(100);
      held.release.countDown();

      for (Future<PodIdentity> call : List.of(reviewing, waiting)) {
        assertThatThrownBy(() -> call.get(5, TimeUnit.SECONDS))
            .hasCauseInstanceOf(BrokerException.class)
            .cause()
            .satisfies(
                e -> {
                  assertThat(((BrokerException) e).reason())
                      .isEqualTo(Reason.KUBERNETES_UNAVAILABLE);
                  assertThat(((BrokerException) e).retryAfter()).isEqualTo(Duration.ofSeconds(1));
                });
      }
      // Not kept: the next call asks Kubernetes again.
      assertThatThrownBy(() -> authenticator.authenticate(token))
          .isInstanceOf(BrokerException.class);
      assertThat(reviewer.calls()).isEqualTo(2);
      assertThat(logged).isEmpty();
    } finally {
      pool.shutdownNow();
      cacheLog.removeHandler(handler);
    }
  }

  @Test
  void tokenWithoutPodIsRefusedUnlessAllowed() {
    PodIdentity unbound = new PodIdentity("public", "application", null, null);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));

    TokenAuthenticator strict =
        authenticator(RecordingReviewer.answering(t -> accepted(unbound)), false);
    assertThatThrownBy(() -> strict.authenticate(token))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.TOKEN_NOT_POD_BOUND));

    TokenAuthenticator lenient =
        authenticator(RecordingReviewer.answering(t -> accepted(unbound)), true);
    assertThat(lenient.authenticate(token)).isEqualTo(unbound);
  }

  @Test
  void reviewThatDoesNotConfirmTheBrokersAudienceIsRejected() {
    RecordingReviewer reviewer =
        RecordingReviewer.answering(t -> new TokenReviewOutcome(POD, List.of("vault")));
    TokenAuthenticator authenticator = authenticator(reviewer, false);

    assertThatThrownBy(
            () ->
                authenticator.authenticate(TestTokens.expiringAt(START.plus(Duration.ofHours(1)))))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.TOKEN_REJECTED));
  }

  @Test
  void missingTokenIsRefusedWithoutAReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);

    assertThatThrownBy(() -> authenticator.authenticate(null))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.TOKEN_MISSING));
    assertThat(reviewer.calls()).isZero();
  }

  @Test
  void tokenThatIsNotAJwtIsRefusedWithoutAReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);

    assertThatThrownBy(() -> authenticator.authenticate(new BearerToken("not-a-jwt")))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.TOKEN_MALFORMED);
              assertThat(e.getMessage()).doesNotContain("not-a-jwt");
            });
    assertThat(reviewer.calls()).isZero();
  }

  @Test
  void encryptedFivePartTokenIsMalformedWithoutAReviewOrACacheEntry() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);

    // A JWE in compact form: header, encrypted key, IV, ciphertext, tag.
    String jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn";
    assertThatThrownBy(() -> authenticator.authenticate(new BearerToken(jwe)))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.TOKEN_MALFORMED);
              assertThat(e.getMessage()).doesNotContain(jwe);
            });
    assertThat(reviewer.calls()).isZero();
    assertThat(authenticator.cachedVerdicts()).isZero();
  }

  @Test
  void jwtShapedJunkIsMalformedWithoutAReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);

    for (String junk : List.of("e30.e30.sig", "bm90IGpzb24.bm90IGpzb24.c2ln", "a.b.c")) {
      assertThatThrownBy(() -> authenticator.authenticate(new BearerToken(junk)))
          .isInstanceOfSatisfying(
              BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.TOKEN_MALFORMED));
    }
    assertThat(reviewer.calls()).isZero();
  }

  @Test
  void reviewsOfUnknownTokensAreLimitedPerSecondAndTheRestAreThrottledWithoutAReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> TokenReviewOutcome.rejected());
    TokenAuthenticator authenticator = authenticator(reviewer, 3, 64);

    int throttled = 0;
    for (int i = 0; i < 20; i++) {
      try {
        authenticator.authenticate(TestTokens.expiringAt(START.plus(Duration.ofHours(1))));
      } catch (BrokerException e) {
        if (e.reason() == Reason.TOKEN_REVIEWS_THROTTLED) {
          assertThat(e.retryAfter()).isPositive();
          throttled++;
        } else {
          assertThat(e.reason()).isEqualTo(Reason.TOKEN_REJECTED);
        }
      }
    }

    // 3 a second; the loop may straddle one refresh of the window.
    assertThat(reviewer.calls()).isBetween(3, 6);
    assertThat(throttled).isEqualTo(20 - reviewer.calls());
    assertThat(meters.counter("credbroker.tokenreview.throttled").count()).isEqualTo(throttled);
    assertThat(reportedTurnedAway.get()).isEqualTo(throttled);
  }

  @Test
  void aThrottledTokenIsNotRememberedAndIsReviewedOnceReviewsAreAdmittedAgain() throws Exception {
    HeldReview held = new HeldReview();
    RecordingReviewer reviewer = held.answering(() -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, 1000, 1);
    BearerToken slow = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));
    BearerToken other = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<PodIdentity> first = pool.submit(() -> authenticator.authenticate(slow));
      assertThat(held.started.await(5, TimeUnit.SECONDS)).isTrue();

      // The one review slot is taken.
      assertThatThrownBy(() -> authenticator.authenticate(other))
          .isInstanceOfSatisfying(
              BrokerException.class,
              e -> assertThat(e.reason()).isEqualTo(Reason.TOKEN_REVIEWS_THROTTLED));

      held.release.countDown();
      assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo(POD);
    } finally {
      pool.shutdownNow();
    }
    assertThat(authenticator.authenticate(other)).isEqualTo(POD);
    assertThat(reviewer.calls()).isEqualTo(2);
  }

  @Test
  void concurrentRequestsWithOneNewTokenShareOneReview() throws Exception {
    HeldReview held = new HeldReview();
    RecordingReviewer reviewer = held.answering(() -> accepted(POD));
    TokenAuthenticator authenticator = authenticator(reviewer, false);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<PodIdentity>> results = new ArrayList<>();
      results.add(pool.submit(() -> authenticator.authenticate(token)));
      assertThat(held.started.await(5, TimeUnit.SECONDS)).isTrue();
      for (int i = 0; i < 7; i++) {
        results.add(pool.submit(() -> authenticator.authenticate(token)));
      }
      held.release.countDown();
      for (Future<PodIdentity> result : results) {
        assertThat(result.get(5, TimeUnit.SECONDS)).isEqualTo(POD);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(reviewer.calls()).isEqualTo(1);
  }

  @Test
  void aTokenTheClusterDidNotSignIsRejectedWithoutAReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    TokenAuthenticator authenticator =
        authenticator(reviewer, jwt -> TokenSignatures.Verdict.INVALID);
    BearerToken token = TestTokens.expiringAt(START.plus(Duration.ofHours(1)));

    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> authenticator.authenticate(token))
          .isInstanceOfSatisfying(
              BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.TOKEN_REJECTED));
    }

    assertThat(reviewer.calls()).isZero();
    assertThat(meters.counter("credbroker.tokenreview.signatures", "outcome", "invalid").count())
        .isEqualTo(1);
  }

  @Test
  void tokensWhoseSignatureIsValidOrUncheckedGoToTheirReview() {
    RecordingReviewer reviewer = RecordingReviewer.answering(t -> accepted(POD));
    AtomicReference<TokenSignatures.Verdict> verdict =
        new AtomicReference<>(TokenSignatures.Verdict.VALID);
    TokenAuthenticator authenticator = authenticator(reviewer, jwt -> verdict.get());

    assertThat(authenticator.authenticate(TestTokens.expiringAt(START.plusSeconds(600))))
        .isEqualTo(POD);
    verdict.set(TokenSignatures.Verdict.UNCHECKED);
    assertThat(authenticator.authenticate(TestTokens.expiringAt(START.plusSeconds(601))))
        .isEqualTo(POD);

    assertThat(reviewer.calls()).isEqualTo(2);
    assertThat(meters.counter("credbroker.tokenreview.signatures", "outcome", "valid").count())
        .isEqualTo(1);
    assertThat(meters.counter("credbroker.tokenreview.signatures", "outcome", "unchecked").count())
        .isEqualTo(1);
  }

  private TokenAuthenticator authenticator(TokenReviewer reviewer, TokenSignatures signatures) {
    return authenticator(reviewer, false, Integer.MAX_VALUE, Integer.MAX_VALUE, signatures);
  }

  private TokenAuthenticator authenticator(TokenReviewer reviewer, boolean allowUnbound) {
    return authenticator(
        reviewer, allowUnbound, Integer.MAX_VALUE, Integer.MAX_VALUE, TokenSignatures.NONE);
  }

  private TokenAuthenticator authenticator(
      TokenReviewer reviewer, int reviewsPerSecond, int concurrentReviews) {
    return authenticator(
        reviewer, false, reviewsPerSecond, concurrentReviews, TokenSignatures.NONE);
  }

  private TokenAuthenticator authenticator(
      TokenReviewer reviewer,
      boolean allowUnbound,
      int reviewsPerSecond,
      int concurrentReviews,
      TokenSignatures signatures) {
    return new TokenAuthenticator(
        reviewer,
        "credbroker",
        allowUnbound,
        Duration.ofMinutes(5),
        Duration.ofSeconds(5),
        meters,
        time.clock(),
        time,
        reviewsPerSecond,
        concurrentReviews,
        reportedTurnedAway::incrementAndGet,
        signatures);
  }

  private static TokenReviewOutcome accepted(PodIdentity identity) {
    return new TokenReviewOutcome(identity, List.of("credbroker"));
  }

  /** A review that, once started, waits until the test releases it. */
  private static final class HeldReview {
    final CountDownLatch started = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    RecordingReviewer answering(java.util.function.Supplier<TokenReviewOutcome> outcome) {
      return RecordingReviewer.answering(
          t -> {
            started.countDown();
            await(release);
            return outcome.get();
          });
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A wall clock and a cache ticker that move together, only when told to. */
  private static final class FakeTime implements Ticker {
    private final AtomicLong nanos = new AtomicLong();

    @Override
    public long read() {
      return nanos.get();
    }

    void advance(Duration duration) {
      nanos.addAndGet(duration.toNanos());
    }

    Clock clock() {
      return new Clock() {
        @Override
        public ZoneOffset getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
          return START.plusNanos(nanos.get());
        }
      };
    }
  }

  /** A reviewer that answers with a function and counts its calls. */
  private static final class RecordingReviewer implements TokenReviewer {
    private final Function<BearerToken, TokenReviewOutcome> answer;
    private final AtomicInteger calls = new AtomicInteger();

    private RecordingReviewer(Function<BearerToken, TokenReviewOutcome> answer) {
      this.answer = answer;
    }

    static RecordingReviewer answering(Function<BearerToken, TokenReviewOutcome> answer) {
      return new RecordingReviewer(answer);
    }

    int calls() {
      return calls.get();
    }

    @Override
    public TokenReviewOutcome review(BearerToken token, List<String> audiences) {
      calls.incrementAndGet();
      assertThat(audiences).containsExactly("credbroker");
      return answer.apply(token);
    }
  }
}
