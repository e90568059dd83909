package io.credbroker.broker.revocation;

import java.util.List;
import java.util.Objects;

/**
 * What a bulk revocation ends, or would end when {@code dryRun}: the pods holding matching live
 * credentials (each pod is revoked as a single pod revocation is: its UIDs blocked, all its live
 * credentials revoked) and the matching credentials of tokens bound to no pod.
 *
 * @param dryRun whether this is only the preview (nothing was changed)
 * @param selector the filters given
 * @param pods the pods, with their matching live credentials as they were selected
 * @param credentials the matching live credentials that belong to no pod
 */
public record BulkRevocation(
    boolean dryRun,
    RevocationSelector selector,
    List<PodTarget> pods,
    List<CredentialSummary> credentials) {

  public BulkRevocation {
    Objects.requireNonNull(selector, "selector");
    pods = List.copyOf(pods);
    credentials = List.copyOf(credentials);
  }

  /**
   * One pod a bulk revocation ends.
   *
   * @param namespace the pod's namespace
   * @param podName the pod's name
   * @param credentials its matching live credentials when selected, newest first
   */
  public record PodTarget(String namespace, String podName, List<CredentialSummary> credentials) {
    public PodTarget {
      Objects.requireNonNull(namespace, "namespace");
      Objects.requireNonNull(podName, "podName");
      credentials = List.copyOf(credentials);
    }
  }
}
