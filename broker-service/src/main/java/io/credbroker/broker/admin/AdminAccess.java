package io.credbroker.broker.admin;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jwt.JWTParser;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.BearerToken;
import io.credbroker.broker.auth.KubernetesUser;
import io.credbroker.broker.auth.UserTokenReviewer;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Decides whether an admin API call may proceed: {@code Authorization: Bearer <token>} is reviewed
 * with TokenReview (any Kubernetes user, people included), then a SubjectAccessReview asks whether
 * that user may perform the verb on {@code credentials.credbroker.io} in the namespace, so that the
 * operator's existing Kubernetes identity and RBAC decide.
 *
 * <p>Both answers are cached briefly: reviews by the SHA-256 of the token (never the token), at
 * most until the token's own expiry when it is a JWT; access decisions by user and question. When
 * Kubernetes cannot answer, nothing is cached and the call fails with {@code
 * KUBERNETES_UNAVAILABLE} (fail closed).
 *
 * <p>Thread-safe; one instance per process.
 */
final class AdminAccess {

  private static final long MAX_ENTRIES = 10_000;

  private final UserTokenReviewer reviewer;
  private final AccessReviewer accessReviewer;
  private final List<String> audiences;
  private final Duration authenticationTtl;
  private final Clock clock;
  private final Cache<String, Reviewed> users;
  private final Cache<Question, Boolean> decisions;

  AdminAccess(
      UserTokenReviewer reviewer,
      AccessReviewer accessReviewer,
      List<String> audiences,
      Duration authenticationTtl,
      Duration authorizationTtl,
      Clock clock,
      Ticker ticker) {
    this.reviewer = Objects.requireNonNull(reviewer, "reviewer");
    this.accessReviewer = Objects.requireNonNull(accessReviewer, "accessReviewer");
    this.audiences = List.copyOf(audiences);
    this.authenticationTtl = Objects.requireNonNull(authenticationTtl, "authenticationTtl");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.users =
        Caffeine.newBuilder()
            .maximumSize(MAX_ENTRIES)
            .ticker(ticker)
            .expireAfter(new ReviewExpiry())
            .build();
    this.decisions =
        Caffeine.newBuilder()
            .maximumSize(MAX_ENTRIES)
            .ticker(ticker)
            .expireAfterWrite(Objects.requireNonNull(authorizationTtl, "authorizationTtl"))
            .build();
  }

  /**
   * Authenticates a caller.
   *
   * @param authorization the {@code Authorization} header, or {@code null} when absent
   * @throws BrokerException {@code TOKEN_MISSING}/{@code TOKEN_REJECTED} (401), {@code
   *     KUBERNETES_UNAVAILABLE} (503)
   */
  KubernetesUser authenticate(@Nullable String authorization) {
    BearerToken token = BearerToken.fromAuthorizationHeader(authorization);
    if (token == null) {
      throw new BrokerException(
          Reason.TOKEN_MISSING, "missing bearer token in the Authorization header");
    }
    String key = token.sha256Hex();
    Reviewed reviewed = users.getIfPresent(key);
    if (reviewed == null) {
      KubernetesUser user = reviewer.reviewUser(token, audiences);
      reviewed = new Reviewed(Optional.ofNullable(user), expiryOf(token));
      users.put(key, reviewed);
    }
    return reviewed
        .user()
        .orElseThrow(
            () ->
                new BrokerException(
                    Reason.TOKEN_REJECTED,
                    "the token was rejected: it may be expired, forged or issued for another"
                        + " audience"));
  }

  /**
   * Checks that an authenticated user may perform {@code verb} on credentials in {@code namespace}.
   *
   * @param namespace the namespace acted in, or {@code null} for all namespaces
   * @throws BrokerException {@code ACCESS_DENIED} (403), {@code KUBERNETES_UNAVAILABLE} (503)
   */
  AdminCaller authorize(KubernetesUser user, AdminVerb verb, @Nullable String namespace) {
    if (!allowed(user, verb, namespace)) {
      throw new BrokerException(
          Reason.ACCESS_DENIED,
          "user '"
              + user.username()
              + "' may not "
              + verb.rbacName()
              + " "
              + AdminVerb.RESOURCE
              + "."
              + AdminVerb.API_GROUP
              + (namespace == null ? " in all namespaces" : " in namespace '" + namespace + "'"));
    }
    return new AdminCaller(user.username());
  }

  /**
   * Checks that {@code user} may perform {@code verb} in all namespaces; the refusal names no
   * namespace (used where naming one would tell the caller where a resource is).
   *
   * @throws BrokerException {@code ACCESS_DENIED} (403), {@code KUBERNETES_UNAVAILABLE} (503)
   */
  AdminCaller authorizeWithoutNamespace(KubernetesUser user, AdminVerb verb) {
    if (!allowed(user, verb, null)) {
      throw new BrokerException(
          Reason.ACCESS_DENIED,
          "user '"
              + user.username()
              + "' may not "
              + verb.rbacName()
              + " this "
              + AdminVerb.RESOURCE
              + "."
              + AdminVerb.API_GROUP);
    }
    return new AdminCaller(user.username());
  }

  /** Whether {@code user} may perform {@code verb} in {@code namespace} (all when {@code null}). */
  boolean allowed(KubernetesUser user, AdminVerb verb, @Nullable String namespace) {
    Question question = new Question(user, verb, namespace);
    Boolean allowed = decisions.getIfPresent(question);
    if (allowed == null) {
      allowed = accessReviewer.allowed(user, verb, namespace);
      decisions.put(question, allowed);
    }
    return allowed;
  }

  private static @Nullable Instant expiryOf(BearerToken token) {
    try {
      Date exp = JWTParser.parse(token.value()).getJWTClaimsSet().getExpirationTime();
      return exp == null ? null : exp.toInstant();
    } catch (ParseException e) {
      // Not every Kubernetes token is a JWT (static or OIDC tokens may be opaque); the cache TTL
      // alone bounds it then.
      return null;
    }
  }

  /** A review outcome; a rejection is remembered too, so that a flood of bad tokens stays cheap. */
  private record Reviewed(Optional<KubernetesUser> user, @Nullable Instant tokenExpiry) {}

  private record Question(KubernetesUser user, AdminVerb verb, @Nullable String namespace) {}

  private final class ReviewExpiry implements Expiry<String, Reviewed> {

    @Override
    public long expireAfterCreate(String key, Reviewed reviewed, long currentTime) {
      return BearerToken.verdictTtl(authenticationTtl, reviewed.tokenExpiry(), clock).toNanos();
    }

    @Override
    public long expireAfterUpdate(
        String key, Reviewed reviewed, long currentTime, long currentDuration) {
      return expireAfterCreate(key, reviewed, currentTime);
    }

    @Override
    public long expireAfterRead(
        String key, Reviewed reviewed, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }
}
