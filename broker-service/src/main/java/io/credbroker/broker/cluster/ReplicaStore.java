package io.credbroker.broker.cluster;

import java.time.Duration;
import java.util.Objects;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The statements on the {@code replica} table that run on the pool serving requests, in their
 * caller's transaction: the deletion of dead replicas' rows for retention. The heartbeat's own
 * statements are {@link ReplicaHeartbeat}'s, on its own connection.
 *
 * <p>Every broker process registers a row under a new id, so without this the table grows with
 * every rolling update, crash and reschedule. A row is deleted only once its heartbeat is older
 * than the given age, and never while a live credential names the replica as its owner: the schema
 * keeps such a row (trigger {@code replica_keep_while_owning}, migration V10) until the takeover
 * has moved its credentials to a live replica, because the takeover finds them only through the
 * row.
 *
 * <p>Thread-safe (stateless apart from the shared {@link JdbcClient}); a plain bean, as the other
 * stores are.
 */
public final class ReplicaStore {

  private final JdbcClient jdbc;
  private final ReplicaId self;

  /**
   * @param self this process's replica, never deleted here whatever its heartbeat's age
   */
  public ReplicaStore(JdbcClient jdbc, ReplicaId self) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
    this.self = Objects.requireNonNull(self, "self");
  }

  /**
   * Deletes up to {@code batch} rows of other replicas whose heartbeat is older than {@code
   * silentFor} by the database's clock, oldest heartbeat first, except those still owning a live
   * credential (skipped by the schema, so fewer than {@code batch} may go although more are old).
   * Rows another transaction has locked (a heartbeat being written) are skipped, and the age is
   * checked again on the row being deleted, so a replica that beats again in between keeps its row.
   * A replica whose row was deleted and that beats again after all registers afresh, as one that
   * was presumed dead does ({@link ReplicaHeartbeat}). Runs in the caller's transaction.
   *
   * @return how many rows it deleted
   */
  public int deleteDead(Duration silentFor, int batch) {
    return jdbc.sql(
            "DELETE FROM replica WHERE id IN (SELECT id FROM replica WHERE id <> :self"
                + " AND heartbeat_time < now() - :seconds * interval '1 second'"
                + " ORDER BY heartbeat_time LIMIT :batch FOR UPDATE SKIP LOCKED)"
                + " AND heartbeat_time < now() - :seconds * interval '1 second'")
        .param("self", self.value())
        .param("seconds", silentFor.toSeconds())
        .param("batch", batch)
        .update();
  }
}
