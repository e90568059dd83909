package io.credbroker.broker.cluster;

import org.springframework.context.ApplicationEvent;

/**
 * Published when this replica finds that the others presumed it dead (its heartbeat went stale,
 * e.g. during a long pause) and took over its credentials. Whatever this replica still holds for
 * them, such as open streams, no longer gets renewals here and must be given up.
 */
public final class OwnershipLostEvent extends ApplicationEvent {

  private static final long serialVersionUID = 1L;

  public OwnershipLostEvent(ReplicaId replica) {
    super(replica);
  }

  public ReplicaId replica() {
    return (ReplicaId) getSource();
  }
}
