package io.credbroker.broker.cluster;

import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.DeadReplicaClaims;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.springframework.jdbc.core.simple.JdbcClient;

/** For tests of other packages: a replica's takeover of stale replicas' credentials, at once. */
public final class TakeOver {

  private TakeOver() {}

  /**
   * Registers {@code replica} and lets it claim the live credentials of every replica whose
   * heartbeat is older than 5 s, as its next heartbeat would.
   *
   * @return how many credentials it claimed
   */
  public static int claimStale(JdbcClient jdbc, String replica) {
    ReplicaHeartbeat claimer =
        new ReplicaHeartbeat(
            jdbc,
            new DeadReplicaClaims(),
            new ReplicaId(replica),
            new BrokerProperties.Cluster(Duration.ofSeconds(1), Duration.ofSeconds(5), 500, null),
            event -> {},
            StateDatabaseClock.systemUtc(),
            new ClusterRefusals(StateDatabaseClock.systemUtc()),
            new SimpleMeterRegistry());
    claimer.afterPropertiesSet();
    return claimer.claimFromDeadReplicas();
  }
}
