package io.credbroker.broker.revocation;

import java.time.Instant;
import java.util.Objects;

/**
 * One blocked pod UID: that pod obtains no credential on any replica any more.
 *
 * @param podUid the blocked UID (a replacement pod has another one)
 * @param namespace the pod's namespace
 * @param podName the pod's name
 * @param reason why the operator revoked it
 * @param blockedBy the Kubernetes user name of the operator
 * @param blockedTime when the block was written
 */
public record PodBlock(
    String podUid,
    String namespace,
    String podName,
    String reason,
    String blockedBy,
    Instant blockedTime) {

  public PodBlock {
    Objects.requireNonNull(podUid, "podUid");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(podName, "podName");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(blockedBy, "blockedBy");
    Objects.requireNonNull(blockedTime, "blockedTime");
  }
}
