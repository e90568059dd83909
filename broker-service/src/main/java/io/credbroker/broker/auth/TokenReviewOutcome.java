package io.credbroker.broker.auth;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What the Kubernetes API said about one token.
 *
 * @param identity who the token belongs to, or {@code null} when the token was rejected or names no
 *     service account
 * @param audiences the audiences the review confirmed (the intersection of requested and carried)
 */
public record TokenReviewOutcome(@Nullable PodIdentity identity, List<String> audiences) {

  public TokenReviewOutcome {
    audiences = List.copyOf(Objects.requireNonNull(audiences, "audiences"));
  }

  public static TokenReviewOutcome rejected() {
    return new TokenReviewOutcome(null, List.of());
  }

  public boolean authenticated() {
    return identity != null;
  }
}
