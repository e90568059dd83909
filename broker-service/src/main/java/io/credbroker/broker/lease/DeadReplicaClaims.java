package io.credbroker.broker.lease;

import io.credbroker.broker.cluster.CredentialTakeover;
import io.credbroker.broker.cluster.ReplicaId;
import java.util.List;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The {@code credential} side of a takeover: the claim of dead replicas' live credentials ({@link
 * CredentialTakeover}), one batch per call. Claiming uses {@code FOR UPDATE SKIP LOCKED}, so
 * replicas claiming at once split the work instead of waiting on each other.
 *
 * <p>Stateless and thread-safe; the statement runs on the caller's {@link JdbcClient}.
 */
public final class DeadReplicaClaims implements CredentialTakeover {

  @Override
  public List<TakenOver> claim(
      JdbcClient jdbc, DeadReplicas deadReplicas, ReplicaId claimer, int batch) {
    return jdbc.sql(
            "WITH dead AS ("
                + deadReplicas.query()
                + "),"
                + " picked AS (SELECT c.id, c.owner_replica, dead.stopped FROM credential c"
                + " JOIN dead ON dead.id = c.owner_replica WHERE c.state = 'ACTIVE'"
                + " LIMIT :batch FOR UPDATE OF c SKIP LOCKED)"
                + " UPDATE credential c SET owner_replica = :claimer, stream_id = NULL,"
                + " detached_time = CASE WHEN c.kind = 'STREAM'"
                + " THEN COALESCE(c.detached_time, now()) ELSE c.detached_time END,"
                + " next_action_time = now(), updated_time = now()"
                + " FROM picked WHERE c.id = picked.id"
                + " RETURNING picked.owner_replica, picked.stopped")
        .params(deadReplicas.parameters())
        .param("claimer", claimer.value())
        .param("batch", batch)
        .query((rs, row) -> new TakenOver(rs.getString(1), rs.getBoolean(2)))
        .list();
  }
}
