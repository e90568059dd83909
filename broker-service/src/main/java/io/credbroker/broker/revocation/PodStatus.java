package io.credbroker.broker.revocation;

import java.util.List;
import java.util.Objects;

/**
 * Everything the broker knows about pods of one name: their blocks and their credentials (live and
 * ended), newest first.
 *
 * @param namespace the pod's namespace
 * @param podName the pod's name
 * @param blocks blocked UIDs; empty when the pod was never revoked
 * @param credentials the credentials issued to pods of that name
 */
public record PodStatus(
    String namespace, String podName, List<PodBlock> blocks, List<CredentialSummary> credentials) {

  public PodStatus {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(podName, "podName");
    blocks = List.copyOf(blocks);
    credentials = List.copyOf(credentials);
  }
}
