package io.credbroker.devstack.kubernetes;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What reviewing one token found: the user and the audiences it is good for, or the error text the
 * real API server would put into {@code status.error}.
 */
record TokenReviewOutcome(@Nullable UserInfo user, List<String> audiences, @Nullable String error) {

  TokenReviewOutcome {
    audiences = List.copyOf(audiences);
  }

  static TokenReviewOutcome authenticated(UserInfo user, List<String> audiences) {
    return new TokenReviewOutcome(user, audiences, null);
  }

  static TokenReviewOutcome rejected(String error) {
    return new TokenReviewOutcome(null, List.of(), error);
  }

  boolean isAuthenticated() {
    return user != null;
  }
}
