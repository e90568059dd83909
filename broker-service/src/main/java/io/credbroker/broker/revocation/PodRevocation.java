package io.credbroker.broker.revocation;

import java.util.List;
import java.util.Objects;

/**
 * The state of a revoked pod after a revocation call: which UIDs are blocked and every credential
 * operators revoked for it. A repeated call gives the same answer (nothing new is revoked).
 *
 * @param namespace the pod's namespace
 * @param podName the pod's name
 * @param blocks the blocked UIDs of pods of that name that the broker has seen
 * @param credentials every credential of those pods that operators revoked
 */
public record PodRevocation(
    String namespace, String podName, List<PodBlock> blocks, List<RevokedCredential> credentials) {

  public PodRevocation {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(podName, "podName");
    blocks = List.copyOf(blocks);
    credentials = List.copyOf(credentials);
  }
}
