package io.credbroker.broker.auth;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Any authenticated Kubernetes user (a person, a group member or a service account) as a
 * TokenReview described it: what a SubjectAccessReview needs to ask the API server's authorizers
 * about the same user. Holds no token. Immutable.
 *
 * @param username the user name, e.g. {@code alice} or {@code system:serviceaccount:ops:sre}
 * @param uid the user's UID, or {@code null} when the authenticator reported none
 * @param groups the groups the user belongs to
 * @param extra further attributes (e.g. the pod a token is bound to), passed on to authorizers
 */
public record KubernetesUser(
    String username, @Nullable String uid, List<String> groups, Map<String, List<String>> extra) {

  public KubernetesUser {
    Objects.requireNonNull(username, "username");
    if (username.isBlank()) {
      throw new IllegalArgumentException("username must not be blank");
    }
    groups = List.copyOf(groups);
    extra =
        extra.entrySet().stream()
            .collect(
                Collectors.toUnmodifiableMap(Map.Entry::getKey, e -> List.copyOf(e.getValue())));
  }
}
