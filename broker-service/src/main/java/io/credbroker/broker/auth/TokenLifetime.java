package io.credbroker.broker.auth;

import com.nimbusds.jwt.JWTClaimsSet;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * When a service-account token was issued and when it expires, from its claims ({@code iat}, {@code
 * exp}). Immutable.
 *
 * @param issuedAt its {@code iat}, or {@code null} when it has none
 * @param expiry its {@code exp}: Kubernetes refuses it from then on
 */
public record TokenLifetime(@Nullable Instant issuedAt, Instant expiry) {

  /**
   * Where in a token's life the streams it opened begin to end (see {@link #streamEnd}): past the
   * point where the kubelet replaces a projected token (80 % of its lifetime), with some margin.
   */
  static final double STREAMS_END_FROM = 0.85;

  public TokenLifetime {
    Objects.requireNonNull(expiry, "expiry");
  }

  /** The lifetime in {@code claims}, or {@code null} when they have no {@code exp}. */
  static @Nullable TokenLifetime of(JWTClaimsSet claims) {
    Date exp = claims.getExpirationTime();
    if (exp == null) {
      return null;
    }
    Date iat = claims.getIssueTime();
    return new TokenLifetime(iat == null ? null : iat.toInstant(), exp.toInstant());
  }

  /**
   * When a stream this token opens at {@code openedAt} ends: never after the token's expiry. Spread
   * over the last part of the token's life, from {@value #STREAMS_END_FROM} of it on ({@code
   * spread}, in [0, 1), picks the point), when the kubelet has put the next token in the pod's file
   * already: pods started together (a rollout) got their tokens together, and would otherwise all
   * resume at the same second, each with a TokenReview of its new token, every token lifetime. A
   * stream opened within that part (with a token the kubelet has not replaced yet, or to resume its
   * credential) lasts until the expiry, so that it does not end again at once.
   */
  public Instant streamEnd(Instant openedAt, double spread) {
    return streamEnd(issuedAt, expiry, openedAt, spread);
  }

  /**
   * When a stream this token opens at {@code openedAt} ends when it may last at most {@code
   * maxAuthorisation} on this one review of its token: as {@link #streamEnd(Instant, double)}, or
   * earlier, at a point of the last part of {@code maxAuthorisation} that {@code spread} picks (the
   * same way, so that streams opened together do not all resume together).
   *
   * @param lifetime the token's lifetime, or {@code null} when it has no {@code exp}
   */
  public static Instant streamEnd(
      @Nullable TokenLifetime lifetime,
      Instant openedAt,
      double spread,
      Duration maxAuthorisation) {
    Instant capped = streamEnd(openedAt, openedAt.plus(maxAuthorisation), openedAt, spread);
    if (lifetime == null) {
      return capped;
    }
    Instant byToken = lifetime.streamEnd(openedAt, spread);
    return byToken.isBefore(capped) ? byToken : capped;
  }

  private static Instant streamEnd(
      @Nullable Instant issuedAt, Instant expiry, Instant openedAt, double spread) {
    if (spread < 0 || spread >= 1) {
      throw new IllegalArgumentException("spread must be in [0, 1)");
    }
    if (issuedAt == null || !issuedAt.isBefore(expiry)) {
      return expiry;
    }
    Duration life = Duration.between(issuedAt, expiry);
    Instant from = issuedAt.plusNanos((long) (life.toNanos() * STREAMS_END_FROM));
    if (!openedAt.isBefore(from)) {
      return expiry;
    }
    return from.plusNanos((long) (Duration.between(from, expiry).toNanos() * spread));
  }
}
