package io.credbroker.broker.auth;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTParser;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;

/**
 * Turns a bearer token into a {@link PodIdentity}, asking Kubernetes at most once per token per
 * cache window.
 *
 * <p>Verdicts are cached by the SHA-256 of the token (the token itself is never kept). A positive
 * verdict lives until the token's own {@code exp} or {@link #cacheMaxTtl}, whichever comes first; a
 * rejection lives for {@code failureCacheTtl}, so a flood of bad tokens does not become a flood of
 * reviews. Concurrent requests with the same uncached token share one review: the first caller
 * performs it on its own thread and the others wait for its result. When Kubernetes cannot answer
 * nothing is cached and the caller gets {@code KUBERNETES_UNAVAILABLE} (fail closed).
 *
 * <p>What unknown tokens may cost. A token that is not shaped like a JWT (three base64url parts, at
 * most {@value #MAX_TOKEN_LENGTH} characters) is refused before the cache is even consulted, so
 * junk neither reaches Kubernetes nor fills the cache; an encrypted (five-part) JWT, which the
 * broker could not read and Kubernetes never issues, is refused the same way. Reviews of tokens
 * without a cached verdict are limited to {@code reviewsPerSecond} and {@code concurrentReviews}
 * for the whole process: a caller beyond either is refused with {@code TOKEN_REVIEWS_THROTTLED} and
 * a retry delay, without a review and without caching anything, so a flood of fresh forged tokens
 * costs Kubernetes a bounded rate. Before its review, a token's signature is checked against the
 * cluster's keys ({@link TokenSignatures}); a token the cluster did not sign is refused without a
 * review, so forged tokens do not even use up that rate.
 *
 * <p>Thread-safe; one instance serves the whole process.
 */
public final class TokenAuthenticator {

  /** Bounds the memory of the cache; far above the number of pods one broker serves. */
  private static final long MAX_CACHED_TOKENS = 200_000;

  /** Far above a projected service-account token (about 1 KiB). */
  static final int MAX_TOKEN_LENGTH = 16 * 1024;

  /** The review rate limit's window: a refused caller may try again after it. */
  private static final Duration REVIEW_WINDOW = Duration.ofSeconds(1);

  private final TokenReviewer reviewer;
  private final String audience;
  private final boolean allowUnboundTokens;
  private final Duration cacheMaxTtl;
  private final Duration failureCacheTtl;
  private final Clock clock;
  private final AsyncCache<String, Verdict> cache;
  private final Counter cacheHits;
  private final Counter cacheMisses;
  private final Timer reviewsAuthenticated;
  private final Timer reviewsRejected;
  private final Timer reviewsUnavailable;
  private final RateLimiter reviewRate;
  private final Semaphore reviewSlots;
  private final Counter reviewsThrottled;
  private final Runnable onTurnedAway;

  /** Whether Kubernetes failed the latest review to finish (none since was answered). */
  private volatile boolean unanswered;

  private final TokenSignatures signatures;
  private final Map<TokenSignatures.Verdict, Counter> signatureChecks =
      new EnumMap<>(TokenSignatures.Verdict.class);

  /**
   * @param ticker the cache's clock (nanoseconds); {@code clock} must move with it, tests pass
   *     fakes
   */
  public TokenAuthenticator(
      TokenReviewer reviewer,
      String audience,
      boolean allowUnboundTokens,
      Duration cacheMaxTtl,
      Duration failureCacheTtl,
      MeterRegistry meterRegistry,
      Clock clock,
      Ticker ticker) {
    this(
        reviewer,
        audience,
        allowUnboundTokens,
        cacheMaxTtl,
        failureCacheTtl,
        meterRegistry,
        clock,
        ticker,
        Integer.MAX_VALUE,
        Integer.MAX_VALUE,
        () -> {},
        TokenSignatures.NONE);
  }

  /**
   * @param reviewsPerSecond the most reviews of uncached tokens per second
   * @param concurrentReviews the most reviews in flight at once
   * @param onTurnedAway called for each caller refused because reviews were at their limit or
   *     because Kubernetes could not answer its review, so that the cluster knows when it last
   *     turned a client away through no fault of the client's ({@code ClusterRefusals}: a detached
   *     credential's reconnect grace also counts from then)
   * @param signatures checks a token's signature before its review; a token it finds {@link
   *     TokenSignatures.Verdict#INVALID} is refused without one
   */
  public TokenAuthenticator(
      TokenReviewer reviewer,
      String audience,
      boolean allowUnboundTokens,
      Duration cacheMaxTtl,
      Duration failureCacheTtl,
      MeterRegistry meterRegistry,
      Clock clock,
      Ticker ticker,
      int reviewsPerSecond,
      int concurrentReviews,
      Runnable onTurnedAway,
      TokenSignatures signatures) {
    this.signatures = Objects.requireNonNull(signatures, "signatures");
    for (TokenSignatures.Verdict verdict : TokenSignatures.Verdict.values()) {
      signatureChecks.put(
          verdict,
          Counter.builder("credbroker.tokenreview.signatures")
              .description(
                  "Signatures of tokens without a cached verdict checked against the cluster's"
                      + " keys before their TokenReview")
              .tag("outcome", verdict.name().toLowerCase(Locale.ROOT))
              .register(meterRegistry));
    }
    this.onTurnedAway = Objects.requireNonNull(onTurnedAway, "onTurnedAway");
    if (reviewsPerSecond < 1 || concurrentReviews < 1) {
      throw new IllegalArgumentException("reviewsPerSecond and concurrentReviews must be positive");
    }
    this.reviewRate =
        RateLimiter.of(
            "tokenreview",
            RateLimiterConfig.custom()
                .limitForPeriod(reviewsPerSecond)
                .limitRefreshPeriod(REVIEW_WINDOW)
                .timeoutDuration(Duration.ZERO)
                .build());
    this.reviewSlots = new Semaphore(concurrentReviews);
    this.reviewsThrottled =
        Counter.builder("credbroker.tokenreview.throttled")
            .description(
                "Unknown tokens refused without a TokenReview because reviews were at their limit")
            .register(meterRegistry);
    this.reviewer = Objects.requireNonNull(reviewer, "reviewer");
    this.audience = Objects.requireNonNull(audience, "audience");
    this.allowUnboundTokens = allowUnboundTokens;
    this.cacheMaxTtl = requirePositive(cacheMaxTtl, "cacheMaxTtl");
    this.failureCacheTtl = requirePositive(failureCacheTtl, "failureCacheTtl");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(MAX_CACHED_TOKENS)
            .ticker(ticker)
            .expireAfter(new VerdictExpiry())
            .buildAsync();
    this.cacheHits = cacheCounter(meterRegistry, "hit");
    this.cacheMisses = cacheCounter(meterRegistry, "miss");
    this.reviewsAuthenticated = reviewTimer(meterRegistry, "authenticated");
    this.reviewsRejected = reviewTimer(meterRegistry, "rejected");
    this.reviewsUnavailable = reviewTimer(meterRegistry, "unavailable");
  }

  /**
   * Authenticates a caller.
   *
   * @param token the caller's bearer token, or {@code null} when it sent none
   * @return who the caller is
   * @throws BrokerException {@code TOKEN_*} reasons when the token is refused, {@code
   *     KUBERNETES_UNAVAILABLE} when it cannot be checked
   */
  public PodIdentity authenticate(@Nullable BearerToken token) {
    if (token == null) {
      throw new BrokerException(
          Reason.TOKEN_MISSING, "missing bearer token in the authorization metadata");
    }
    if (!looksLikeSignedJwt(token.value())) {
      // Not worth a cache entry, let alone a review; the token itself is never quoted.
      throw new BrokerException(Reason.TOKEN_MALFORMED, "the bearer token is not a JWT");
    }
    String key = token.sha256Hex();
    // A plain read first: almost every call finds its verdict, and a read costs less than the
    // put-if-absent (which also allocates a future) that makes the first caller the only reviewer.
    CompletableFuture<Verdict> existing = cache.getIfPresent(key);
    CompletableFuture<Verdict> mine = null;
    if (existing == null) {
      mine = new CompletableFuture<>();
      existing = cache.asMap().putIfAbsent(key, mine);
    }
    if (existing == null && mine != null) {
      cacheMisses.increment();
      try {
        mine.complete(decide(token));
      } catch (RuntimeException e) {
        // Not kept, so the next caller asks Kubernetes again. Taken out and completed with the
        // failure rather than completed exceptionally: the cache logs every failed future as a
        // failed load, with its stack trace, once per call refused while reviews are throttled or
        // Kubernetes is away. Callers waiting on it get the failure all the same.
        cache.asMap().remove(key, mine);
        mine.complete(Verdict.failed(e));
        throw e;
      } catch (Error e) {
        mine.completeExceptionally(e);
        throw e;
      }
      return mine.join().identityOrThrow();
    }
    cacheHits.increment();
    try {
      return existing.join().identityOrThrow();
    } catch (CompletionException e) {
      if (e.getCause() instanceof BrokerException broker) {
        throw new BrokerException(
            broker.reason(), broker.getMessage(), broker.retryAfter(), broker);
      }
      throw e;
    }
  }

  /**
   * When a token this authenticator accepted was issued and stops being valid (its {@code exp},
   * after which Kubernetes refuses it). Read from its cached verdict, or from the token itself when
   * that is gone (it was accepted, so its claims are the cluster's).
   *
   * @return {@code null} when the token has no {@code exp} or cannot be read
   */
  public @Nullable TokenLifetime tokenLifetime(BearerToken token) {
    CompletableFuture<Verdict> cached = cache.getIfPresent(token.sha256Hex());
    if (cached != null && cached.isDone() && !cached.isCompletedExceptionally()) {
      Verdict verdict = cached.join();
      if (verdict.identity() != null) {
        return verdict.lifetime();
      }
    }
    try {
      return TokenLifetime.of(JWTParser.parse(token.value()).getJWTClaimsSet());
    } catch (ParseException | RuntimeException e) {
      return null;
    }
  }

  /** How many verdicts are cached right now (approximately); for tests and diagnostics. */
  public long cachedVerdicts() {
    return cache.synchronous().estimatedSize();
  }

  /**
   * Whether {@code token} has the shape of a JWT in the JWS compact form: header, payload and
   * signature (empty when unsecured, which only tests send; Kubernetes refuses those), base64url
   * without padding, at most {@value #MAX_TOKEN_LENGTH} characters. An encrypted JWT has five
   * parts.
   *
   * <p>The regular expression {@code [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*} as one pass
   * over the characters: every call carries a token of about 1 KiB, and the pattern's matcher cost
   * a few per cent of a call's CPU.
   */
  static boolean looksLikeSignedJwt(String token) {
    int length = token.length();
    if (length > MAX_TOKEN_LENGTH) {
      return false;
    }
    int dots = 0;
    int partStart = 0;
    for (int i = 0; i < length; i++) {
      char c = token.charAt(i);
      if (c == '.') {
        if (i == partStart || ++dots > 2) {
          return false; // an empty header or payload, or a fourth part
        }
        partStart = i + 1;
      } else if (!isBase64Url(c)) {
        return false;
      }
    }
    return dots == 2;
  }

  private static boolean isBase64Url(char c) {
    return (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')
        || c == '-'
        || c == '_';
  }

  private Verdict decide(BearerToken token) {
    TokenLifetime lifetime;
    JWT jwt;
    try {
      jwt = JWTParser.parse(token.value());
      lifetime = TokenLifetime.of(jwt.getJWTClaimsSet());
    } catch (ParseException | RuntimeException e) {
      // Shaped like a JWT but not one (bad base64, bad JSON, no alg): no point asking Kubernetes.
      // The parser's message may quote the token, so it goes nowhere.
      return Verdict.refused(Reason.TOKEN_MALFORMED, "the bearer token is not a JWT");
    }
    TokenSignatures.Verdict signature = signatures.check(jwt);
    signatureChecks.get(signature).increment();
    if (signature == TokenSignatures.Verdict.INVALID) {
      // Not signed by the cluster: no review could accept it, so none is spent on it.
      return rejected();
    }
    TokenReviewOutcome outcome = throttledReview(token);
    if (!outcome.authenticated() || !outcome.audiences().contains(audience)) {
      return rejected();
    }
    PodIdentity identity = Objects.requireNonNull(outcome.identity());
    if (!identity.boundToPod() && !allowUnboundTokens) {
      return Verdict.refused(
          Reason.TOKEN_NOT_POD_BOUND,
          "the token is not bound to a pod; use the pod's projected service-account token");
    }
    return Verdict.accepted(identity, lifetime);
  }

  /**
   * Kubernetes (or the cluster's signing keys) refused the token. Remembered for {@code
   * failureCacheTtl}, which the refusal says as its retry delay: a retry sooner gets this same
   * answer, and a client that gives up after a few quick retries would otherwise give up on a
   * refusal that was only transient (a key the cluster had just rotated in, a review that failed
   * its lookup).
   */
  private Verdict rejected() {
    return Verdict.refused(
        Reason.TOKEN_REJECTED,
        "the token was rejected: it may be expired, forged, issued for another audience than '"
            + audience
            + "', or its pod no longer exists",
        failureCacheTtl);
  }

  /**
   * A review if the process-wide limits allow one now. A refusal is thrown, so the cache drops the
   * pending verdict and the next caller with this token may be reviewed.
   */
  private TokenReviewOutcome throttledReview(BearerToken token) {
    if (!reviewSlots.tryAcquire()) {
      throw throttled();
    }
    try {
      if (!reviewRate.acquirePermission()) {
        throw throttled();
      }
      return timedReview(token);
    } finally {
      reviewSlots.release();
    }
  }

  private BrokerException throttled() {
    reviewsThrottled.increment();
    onTurnedAway.run();
    return new BrokerException(
        Reason.TOKEN_REVIEWS_THROTTLED,
        "too many unknown tokens are being checked right now; retry with the same token later",
        REVIEW_WINDOW,
        null);
  }

  private TokenReviewOutcome timedReview(BearerToken token) {
    long start = System.nanoTime();
    Timer timer = reviewsUnavailable;
    try {
      TokenReviewOutcome outcome = reviewer.review(token, List.of(audience));
      timer = outcome.authenticated() ? reviewsAuthenticated : reviewsRejected;
      unanswered = false;
      return outcome;
    } catch (RuntimeException e) {
      // The pod may be fine; it cannot be let back in until Kubernetes answers again.
      unanswered = true;
      onTurnedAway.run();
      throw e;
    } finally {
      timer.record(Duration.ofNanos(System.nanoTime() - start));
    }
  }

  /**
   * Whether Kubernetes answered (accepted or rejected the token) a TokenReview since the last one
   * it could not answer; {@code true} before the first. While it has not, no stream could be let
   * back in, so streams are not ended for their authorisation (see {@code WatchStreams}).
   */
  public boolean reviewsAnswered() {
    return !unanswered;
  }

  private static Counter cacheCounter(MeterRegistry registry, String result) {
    return Counter.builder("credbroker.tokenreview.cache")
        .description("Token verdicts looked up in the TokenReview cache")
        .tag("result", result)
        .register(registry);
  }

  private static Timer reviewTimer(MeterRegistry registry, String outcome) {
    return Timer.builder("credbroker.tokenreview.request")
        .description("TokenReview calls to the Kubernetes API")
        .tag("outcome", outcome)
        .publishPercentileHistogram()
        .register(registry);
  }

  private static Duration requirePositive(Duration value, String name) {
    Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive");
    }
    return value;
  }

  /** A cached decision about one token. Holds no secret. */
  /**
   * A token's verdict: accepted with the pod it names, refused with a reason, or failed (it could
   * not be decided, {@code failure}: a review throttled, Kubernetes away), which is never kept.
   */
  private record Verdict(
      @Nullable PodIdentity identity,
      @Nullable TokenLifetime lifetime,
      @Nullable Reason refusal,
      @Nullable String message,
      @Nullable Duration retryAfter,
      @Nullable RuntimeException failure) {

    static Verdict accepted(PodIdentity identity, @Nullable TokenLifetime lifetime) {
      return new Verdict(identity, lifetime, null, null, null, null);
    }

    static Verdict failed(RuntimeException failure) {
      return new Verdict(null, null, null, null, null, failure);
    }

    @Nullable Instant tokenExpiry() {
      return lifetime == null ? null : lifetime.expiry();
    }

    static Verdict refused(Reason reason, String message) {
      return refused(reason, message, null);
    }

    static Verdict refused(Reason reason, String message, @Nullable Duration retryAfter) {
      return new Verdict(null, null, reason, message, retryAfter, null);
    }

    PodIdentity identityOrThrow() {
      if (failure instanceof BrokerException broker) {
        // A copy, with this caller's stack.
        throw new BrokerException(
            broker.reason(), broker.getMessage(), broker.retryAfter(), broker);
      }
      if (failure != null) {
        throw failure;
      }
      if (identity == null) {
        throw new BrokerException(
            Objects.requireNonNull(refusal), Objects.requireNonNull(message), retryAfter, null);
      }
      return identity;
    }
  }

  private final class VerdictExpiry implements Expiry<String, Verdict> {

    @Override
    public long expireAfterCreate(String key, Verdict verdict, long currentTime) {
      if (verdict.failure() != null) {
        return 0;
      }
      if (verdict.identity() == null) {
        return failureCacheTtl.toNanos();
      }
      return BearerToken.verdictTtl(cacheMaxTtl, verdict.tokenExpiry(), clock).toNanos();
    }

    @Override
    public long expireAfterUpdate(
        String key, Verdict verdict, long currentTime, long currentDuration) {
      return expireAfterCreate(key, verdict, currentTime);
    }

    @Override
    public long expireAfterRead(
        String key, Verdict verdict, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }
}
