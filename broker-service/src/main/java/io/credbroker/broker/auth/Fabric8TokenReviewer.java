package io.credbroker.broker.auth;

import io.credbroker.broker.BrokerException;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reviews tokens with {@code POST /apis/authentication.k8s.io/v1/tokenreviews} through a fabric8
 * client.
 *
 * <p>Thread-safe: the fabric8 client is shared and handles concurrent requests (its per-host limit
 * must be raised by whoever builds it, see {@code AuthConfiguration}).
 */
public final class Fabric8TokenReviewer implements TokenReviewer, UserTokenReviewer {

  private static final Logger log = LoggerFactory.getLogger(Fabric8TokenReviewer.class);
  static final String POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
  static final String POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final KubernetesClient client;

  public Fabric8TokenReviewer(KubernetesClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public TokenReviewOutcome review(BearerToken token, List<String> audiences) {
    return toOutcome(send(token, audiences));
  }

  @Override
  public @Nullable KubernetesUser reviewUser(BearerToken token, List<String> audiences) {
    return toUser(send(token, audiences), audiences);
  }

  private TokenReview send(BearerToken token, List<String> audiences) {
    TokenReview request =
        new TokenReviewBuilder()
            .withNewSpec()
            .withToken(token.value())
            .withAudiences(audiences)
            .endSpec()
            .build();
    TokenReview response;
    try {
      response = client.authentication().v1().tokenReviews().create(request);
    } catch (KubernetesClientException e) {
      // Fail closed: without an answer from the API server nobody is authenticated. The exception's
      // message is about the broker's connection, never the token, so it may be logged.
      log.warn("TokenReview failed: HTTP {} {}", e.getCode(), e.getMessage());
      throw new BrokerException(
          BrokerException.Reason.KUBERNETES_UNAVAILABLE,
          "the Kubernetes API is unavailable; try again later",
          RETRY_AFTER,
          e);
    }
    return response;
  }

  /**
   * The user a review authenticated, or {@code null}. When {@code audiences} were asked for, the
   * review must confirm one of them in {@code status.audiences}: the API reference asks a client
   * that sets {@code spec.audiences} to check this, "to ensure that the TokenReview server is
   * audience aware"; an authenticator that ignores audiences would otherwise accept a token minted
   * for another service.
   */
  static @Nullable KubernetesUser toUser(@Nullable TokenReview response, List<String> audiences) {
    TokenReviewStatus status = response == null ? null : response.getStatus();
    if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
      return null;
    }
    if (!audiences.isEmpty()
        && (status.getAudiences() == null
            || status.getAudiences().stream().noneMatch(audiences::contains))) {
      log.debug("TokenReview confirmed none of the audiences {}", audiences);
      return null;
    }
    UserInfo user = status.getUser();
    if (user == null || user.getUsername() == null || user.getUsername().isBlank()) {
      return null;
    }
    return new KubernetesUser(
        user.getUsername(),
        user.getUid() == null || user.getUid().isBlank() ? null : user.getUid(),
        user.getGroups() == null ? List.of() : user.getGroups(),
        user.getExtra() == null ? Map.of() : user.getExtra());
  }

  static TokenReviewOutcome toOutcome(@Nullable TokenReview response) {
    TokenReviewStatus status = response == null ? null : response.getStatus();
    if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
      // status.error is opaque text from the API server; it says why, but callers never see it.
      if (status != null && status.getError() != null) {
        log.debug("TokenReview rejected a token: {}", status.getError());
      }
      return TokenReviewOutcome.rejected();
    }
    UserInfo user = status.getUser();
    if (user == null || user.getUsername() == null) {
      return TokenReviewOutcome.rejected();
    }
    Map<String, List<String>> extra = user.getExtra() == null ? Map.of() : user.getExtra();
    PodIdentity identity =
        PodIdentity.fromUsername(
            user.getUsername(), first(extra, POD_NAME_EXTRA), first(extra, POD_UID_EXTRA));
    List<String> confirmed = status.getAudiences() == null ? List.of() : status.getAudiences();
    return identity == null
        ? TokenReviewOutcome.rejected()
        : new TokenReviewOutcome(identity, confirmed);
  }

  private static @Nullable String first(Map<String, List<String>> extra, String key) {
    List<String> values = extra.get(key);
    if (values == null || values.isEmpty() || values.get(0) == null || values.get(0).isBlank()) {
      return null;
    }
    return values.get(0);
  }
}
