package io.credbroker.broker.auth;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Asks the Kubernetes API who a token belongs to, for callers that may be people as well as service
 * accounts (the admin API). One call per invocation, no caching here.
 *
 * <p>Implementations are thread-safe and may be called concurrently.
 */
public interface UserTokenReviewer {

  /**
   * Reviews one token.
   *
   * @param audiences the audiences the token must carry; empty means the API server's own audiences
   *     (what {@code kubectl create token} issues by default)
   * @return the user, or {@code null} when the token was rejected
   * @throws io.credbroker.broker.BrokerException with {@code KUBERNETES_UNAVAILABLE} when the API
   *     server cannot answer
   */
  @Nullable KubernetesUser reviewUser(BearerToken token, List<String> audiences);
}
