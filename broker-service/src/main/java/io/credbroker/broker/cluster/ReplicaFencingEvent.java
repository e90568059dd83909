package io.credbroker.broker.cluster;

import org.springframework.context.ApplicationEvent;

/**
 * Published when this replica's standing with its own heartbeat changes (see {@link
 * ReplicaHeartbeat}): {@code FENCED} when it could not write its heartbeat for {@code
 * selfFenceAfter} and must stop serving before the others presume it dead, {@code PRESUMED_DEAD}
 * when that went on for {@code staleAfter}, {@code SERVING} once it wrote it again.
 */
public final class ReplicaFencingEvent extends ApplicationEvent {

  private static final long serialVersionUID = 1L;

  private final ReplicaHeartbeat.Fencing fencing;

  public ReplicaFencingEvent(ReplicaId replica, ReplicaHeartbeat.Fencing fencing) {
    super(replica);
    this.fencing = fencing;
  }

  public ReplicaId replica() {
    return (ReplicaId) getSource();
  }

  public ReplicaHeartbeat.Fencing fencing() {
    return fencing;
  }
}
