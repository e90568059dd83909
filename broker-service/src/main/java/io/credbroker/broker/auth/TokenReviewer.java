package io.credbroker.broker.auth;

import java.util.List;

/**
 * Asks the Kubernetes API whether a token is valid, one call per invocation (no caching here).
 *
 * <p>Implementations are thread-safe and may be called concurrently.
 */
public interface TokenReviewer {

  /**
   * Reviews one token for the given audiences.
   *
   * @return the outcome; a rejected token is an outcome, not an exception
   * @throws io.credbroker.broker.BrokerException with {@code KUBERNETES_UNAVAILABLE} when the API
   *     server cannot answer
   */
  TokenReviewOutcome review(BearerToken token, List<String> audiences);
}
