package io.credbroker.broker.cluster;

import java.util.List;
import java.util.Map;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The claim of dead replicas' live credentials, written by the package that owns the {@code
 * credential} table (lease) and called by {@link ReplicaHeartbeat}, which owns {@code replica} and
 * so knows which replicas are dead. The cluster package sits below lease and cannot call it: this
 * interface inverts the call.
 *
 * <p>One statement. The dead replicas are read in the statement that claims their credentials, on
 * one snapshot, with {@code FOR UPDATE OF} the credentials {@code SKIP LOCKED}: the heartbeat hands
 * over the query of its table ({@link DeadReplicas}, a constant, never input) for the claim to
 * embed, so that each table's SQL stays with its owner and the takeover stays atomic.
 */
public interface CredentialTakeover {

  /**
   * Claims for {@code claimer} up to {@code batch} live credentials owned by the replicas that
   * {@code deadReplicas} selects, in one auto-committed statement on {@code jdbc} (the heartbeat's
   * own connection): each claimed credential is owned by {@code claimer}, counts as detached from
   * now if it belongs to a stream, and is due at once.
   *
   * @return the credentials claimed, with the replica each was taken from
   */
  List<TakenOver> claim(JdbcClient jdbc, DeadReplicas deadReplicas, ReplicaId claimer, int batch);

  /**
   * The replicas presumed dead: a query whose rows are {@code id} (the replica) and {@code stopped}
   * (whether it stopped cleanly rather than went silent), and its named parameters, which must not
   * be called {@code claimer} or {@code batch}.
   */
  record DeadReplicas(String query, Map<String, ?> parameters) {}

  /** A credential claimed from {@code previousOwner}, which had stopped cleanly or gone silent. */
  record TakenOver(String previousOwner, boolean ownerStopped) {}
}
