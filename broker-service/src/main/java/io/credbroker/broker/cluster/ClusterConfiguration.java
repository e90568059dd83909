package io.credbroker.broker.cluster;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.credbroker.broker.config.BrokerProperties;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;

/** Decides this process's replica id once, at startup, and keeps its membership in the cluster. */
@Configuration(proxyBeanMethods = false)
class ClusterConfiguration {

  @Bean
  ReplicaId replicaId(BrokerProperties properties) {
    return ReplicaId.configuredOrGenerated(properties.replica().id());
  }

  /**
   * The heartbeat's own connection to the state database, outside the pool that serves requests: a
   * replica whose pool is exhausted by request work is busy, not dead, and must go on beating, or
   * the others would claim the credentials it still renews. One connection (the heartbeat and the
   * claims run one after the other on one thread), which waits at most one heartbeat interval to be
   * (re)established, and statements that give up after half the stale period, so that a stuck
   * statement fails and the next tick tries again well before the others presume this replica dead;
   * a read with no answer at all gives up after the stale period.
   */
  @Bean(destroyMethod = "close")
  HeartbeatDatabase heartbeatDatabase(
      JdbcConnectionDetails connectionDetails, BrokerProperties properties) {
    return heartbeatDatabase(connectionDetails, properties.cluster());
  }

  /**
   * The heartbeat's connection (see {@link #heartbeatDatabase(JdbcConnectionDetails,
   * BrokerProperties)}).
   */
  static HeartbeatDatabase heartbeatDatabase(
      JdbcConnectionDetails connectionDetails, BrokerProperties.Cluster cluster) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("replica-heartbeat");
    config.setJdbcUrl(connectionDetails.getJdbcUrl());
    config.setUsername(connectionDetails.getUsername());
    config.setPassword(connectionDetails.getPassword());
    if (connectionDetails.getDriverClassName() != null) {
      config.setDriverClassName(connectionDetails.getDriverClassName());
    }
    config.setMaximumPoolSize(1);
    config.setMinimumIdle(1);
    // Hikari's own floor is 250 ms.
    config.setConnectionTimeout(Math.max(250, cluster.heartbeatInterval().toMillis()));
    long statementTimeout = Math.max(1, cluster.staleAfter().dividedBy(2).toMillis());
    config.setConnectionInitSql("SET statement_timeout = " + statementTimeout);
    // A read that gets no answer at all (a database host gone without closing its connections, a
    // failover whose old address swallows packets) fails on the client after the stale period:
    // statement_timeout never ends a statement the server did not receive, and the heartbeat's one
    // thread would wait until TCP gave up (minutes), its replica fenced long after the database
    // answered again. Seconds, at least one, and longer than the statement timeout.
    long staleSeconds = (cluster.staleAfter().toMillis() + 999) / 1000;
    config.addDataSourceProperty("socketTimeout", Long.toString(Math.max(1, staleSeconds)));
    // The pool starts even when the database is briefly away; the heartbeat then logs and retries.
    config.setInitializationFailTimeout(-1);
    return new HeartbeatDatabase(new HikariDataSource(config));
  }

  /**
   * The one clock every component reads the time from (UTC): this host's, corrected by every
   * heartbeat to the state database's, so that the graces and schedules one replica writes and
   * another acts on are read on one time whatever the hosts' clocks say.
   */
  @Bean
  StateDatabaseClock clock() {
    return StateDatabaseClock.systemUtc();
  }

  /**
   * When the cluster last refused a call for load: recorded by call admission and the TokenReview
   * limits, published and read back by the heartbeat, read by the lease scheduler before it revokes
   * a credential as abandoned. Gauge {@code credbroker.cluster.last.refusal.timestamp}: while it is
   * less than {@code lease.reconnect-grace} ago, the graces of detached credentials are extended.
   */
  @Bean
  ClusterRefusals clusterRefusals(StateDatabaseClock clock, MeterRegistry meterRegistry) {
    ClusterRefusals refusals = new ClusterRefusals(clock);
    Gauge.builder(
            "credbroker.cluster.last.refusal.timestamp",
            refusals,
            r -> {
              Instant last = r.last();
              return last == null ? 0 : last.toEpochMilli() / 1000.0;
            })
        .baseUnit("seconds")
        .description(
            "When any replica last turned a client away for load (a call shed at admission, a"
                + " TokenReview throttled), as this replica knows it; 0 before the first")
        .register(meterRegistry);
    return refusals;
  }

  @Bean
  ReplicaHeartbeat replicaHeartbeat(
      HeartbeatDatabase heartbeatDatabase,
      CredentialTakeover takeover,
      ReplicaId replicaId,
      BrokerProperties properties,
      ApplicationEventPublisher events,
      StateDatabaseClock clock,
      ClusterRefusals refusals,
      MeterRegistry meterRegistry) {
    return new ReplicaHeartbeat(
        JdbcClient.create(heartbeatDatabase.dataSource()),
        takeover,
        replicaId,
        properties.cluster(),
        events,
        clock,
        refusals,
        meterRegistry);
  }

  /**
   * The replica table's statements on the pool serving requests (retention's deletion of dead
   * replicas' rows, in the transaction that holds retention's lock).
   */
  @Bean
  ReplicaStore replicaStore(JdbcClient jdbc, ReplicaId replicaId) {
    return new ReplicaStore(jdbc, replicaId);
  }

  /**
   * The heartbeat's private pool; closed after the heartbeat (which depends on it) is destroyed.
   */
  record HeartbeatDatabase(HikariDataSource dataSource) implements AutoCloseable {
    @Override
    public void close() {
      dataSource.close();
    }
  }
}
