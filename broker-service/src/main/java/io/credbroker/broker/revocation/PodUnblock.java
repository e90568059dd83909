package io.credbroker.broker.revocation;

import java.util.List;
import java.util.Objects;

/**
 * The blocks an operator lifted from pods of one name: those UIDs may obtain credentials again
 * (their revoked credentials stay revoked).
 *
 * @param namespace the pod's namespace
 * @param podName the pod's name
 * @param lifted the blocks removed, as they were
 */
public record PodUnblock(String namespace, String podName, List<PodBlock> lifted) {

  public PodUnblock {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(podName, "podName");
    lifted = List.copyOf(lifted);
  }
}
