package io.credbroker.broker.admin;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.KubernetesUser;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks {@code POST /apis/authorization.k8s.io/v1/subjectaccessreviews} with the caller's user name,
 * UID, groups and extra, for resource {@code credentials} in API group {@code credbroker.io}.
 *
 * <p>Thread-safe (the fabric8 client is shared).
 */
final class Fabric8AccessReviewer implements AccessReviewer {

  private static final Logger log = LoggerFactory.getLogger(Fabric8AccessReviewer.class);
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final KubernetesClient client;

  Fabric8AccessReviewer(KubernetesClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public boolean allowed(KubernetesUser user, AdminVerb verb, @Nullable String namespace) {
    SubjectAccessReview review =
        new SubjectAccessReviewBuilder()
            .withNewSpec()
            .withUser(user.username())
            .withUid(user.uid())
            .withGroups(user.groups())
            .withExtra(user.extra())
            .withNewResourceAttributes()
            .withGroup(AdminVerb.API_GROUP)
            .withResource(AdminVerb.RESOURCE)
            .withVerb(verb.rbacName())
            // An empty namespace asks about all namespaces (what a ClusterRoleBinding grants).
            .withNamespace(namespace == null ? "" : namespace)
            .endResourceAttributes()
            .endSpec()
            .build();
    SubjectAccessReview answer;
    try {
      answer = client.authorization().v1().subjectAccessReview().create(review);
    } catch (KubernetesClientException e) {
      // Fail closed: nobody is allowed anything while the API server cannot answer.
      log.warn("SubjectAccessReview failed: HTTP {} {}", e.getCode(), e.getMessage());
      throw new BrokerException(
          Reason.KUBERNETES_UNAVAILABLE,
          "the Kubernetes API is unavailable; try again later",
          RETRY_AFTER,
          e);
    }
    return answer != null
        && answer.getStatus() != null
        && Boolean.TRUE.equals(answer.getStatus().getAllowed());
  }
}
