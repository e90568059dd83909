package io.credbroker.broker.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.credbroker.broker.cluster.ClusterConfiguration.HeartbeatDatabase;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.DeadReplicaClaims;
import io.credbroker.broker.revocation.StateDatabase;
import io.credbroker.devstack.network.TcpProxy;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;

/**
 * Takeovers as an operator's metrics count them, on the real schema in PostgreSQL: credentials of a
 * replica that stopped cleanly (a rolling update) and of one that went silent are told apart, and a
 * replica that finds itself presumed dead counts it; and the heartbeat's own connection, behind a
 * proxy that can hold its traffic.
 */
class ReplicaHeartbeatIT {

  private static final BrokerProperties.Cluster SETTINGS =
      new BrokerProperties.Cluster(Duration.ofSeconds(1), Duration.ofSeconds(5), 500, null);

  /** Stale after 2 s: statements give up after 1 s on the server, reads after 2 s on the client. */
  private static final BrokerProperties.Cluster QUICKLY_STALE =
      new BrokerProperties.Cluster(Duration.ofMillis(500), Duration.ofSeconds(2), 500, null);

  @TempDir static Path workDir;
  private static StateDatabase db;

  @BeforeAll
  static void migrate() {
    db = new StateDatabase(workDir);
  }

  @AfterAll
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Test
  void takeoversAreCountedByWhetherTheOwnerStoppedOrWentSilent() {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    ReplicaHeartbeat me = heartbeat("claimer", meters);
    me.afterPropertiesSet();
    replica("stopped-replica", "stopped_time = now()");
    replica("silent-replica", "heartbeat_time = now() - interval '1 minute'");
    replica("live-replica", "heartbeat_time = now()");
    for (int i = 0; i < 3; i++) {
      activeCredential("stopped-replica");
    }
    for (int i = 0; i < 2; i++) {
      activeCredential("silent-replica");
    }
    activeCredential("live-replica");

    assertThat(me.claimFromDeadReplicas()).isEqualTo(5);

    assertThat(takeovers(meters, "stopped")).isEqualTo(3);
    assertThat(takeovers(meters, "silent")).isEqualTo(2);
    assertThat(meters.get("credbroker.cluster.ownership.lost").counter().count()).isZero();
  }

  @Test
  void aRefusalForLoadIsPublishedWithTheHeartbeatAndKnownToTheOtherReplicas() {
    Instant refusedAt = Instant.now().truncatedTo(ChronoUnit.MILLIS).minusSeconds(7);
    ClusterRefusals shedding = new ClusterRefusals(Clock.fixed(refusedAt, ZoneOffset.UTC));
    ClusterRefusals quiet = new ClusterRefusals(StateDatabaseClock.systemUtc());
    ReplicaHeartbeat busy = heartbeat("busy", new SimpleMeterRegistry(), shedding);
    ReplicaHeartbeat other = heartbeat("other", new SimpleMeterRegistry(), quiet);
    busy.afterPropertiesSet();
    other.afterPropertiesSet();
    other.beat();
    assertThat(quiet.last()).isNull();

    shedding.refused();
    busy.beat();
    other.beat();

    assertThat(quiet.last()).isEqualTo(refusedAt);
    // An older refusal never moves the cluster's last one back.
    ClusterRefusals older =
        new ClusterRefusals(Clock.fixed(refusedAt.minusSeconds(60), ZoneOffset.UTC));
    ReplicaHeartbeat late = heartbeat("late", new SimpleMeterRegistry(), older);
    late.afterPropertiesSet();
    older.refused();
    late.beat();
    other.beat();
    assertThat(quiet.last()).isEqualTo(refusedAt);
    assertThat(older.last()).isEqualTo(refusedAt);
  }

  @Test
  void aReplicaThatFindsItselfPresumedDeadCountsIt() {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    ReplicaHeartbeat paused = heartbeat("paused", meters);
    paused.afterPropertiesSet();
    paused.beat();
    assertThat(meters.get("credbroker.cluster.ownership.lost").counter().count()).isZero();

    // Another replica claimed its credentials while it was paused.
    db.jdbc.sql("UPDATE replica SET claimed_time = now() WHERE id = 'paused'").update();
    paused.beat();

    assertThat(meters.get("credbroker.cluster.ownership.lost").counter().count()).isEqualTo(1);
    assertThat(takeovers(meters, "silent") + takeovers(meters, "stopped")).isZero();
  }

  @Test
  void aReplicaThatCannotWriteItsHeartbeatFencesItselfBeforeItIsPresumedDead() throws Exception {
    List<ReplicaHeartbeat.Fencing> seen = new CopyOnWriteArrayList<>();
    BrokerProperties.Cluster timings =
        new BrokerProperties.Cluster(
            Duration.ofMillis(100), Duration.ofSeconds(3), 500, Duration.ofMillis(400));
    ReplicaHeartbeat me = fencingWatched("fencing", timings, seen);
    me.afterPropertiesSet();
    me.watchOwnHeartbeat();
    assertThat(me.fenced()).isFalse();
    assertThat(seen).isEmpty();

    // Its heartbeat goes unwritten (the state database unreachable) for self-fence-after.
    Thread.sleep(450);
    me.watchOwnHeartbeat();
    assertThat(seen).containsExactly(ReplicaHeartbeat.Fencing.FENCED);
    assertThat(me.fenced()).isTrue();

    // ... and for stale-after, when the others claim its credentials.
    Thread.sleep(2_600);
    me.watchOwnHeartbeat();
    assertThat(seen)
        .containsExactly(ReplicaHeartbeat.Fencing.FENCED, ReplicaHeartbeat.Fencing.PRESUMED_DEAD);

    me.beat();
    assertThat(seen)
        .containsExactly(
            ReplicaHeartbeat.Fencing.FENCED,
            ReplicaHeartbeat.Fencing.PRESUMED_DEAD,
            ReplicaHeartbeat.Fencing.SERVING);
    assertThat(me.fenced()).isFalse();
  }

  /**
   * A replica whose start took longer than self-fence-after after it registered (a slow context
   * start) beats when it starts, before its watch first looks: it does not fence itself (refusing
   * its first calls) until the first heartbeat of the interval.
   */
  @Test
  void aReplicaThatStartsLongAfterRegisteringDoesNotFenceItself() throws Exception {
    List<ReplicaHeartbeat.Fencing> seen = new CopyOnWriteArrayList<>();
    BrokerProperties.Cluster timings =
        new BrokerProperties.Cluster(
            Duration.ofSeconds(1), Duration.ofSeconds(3), 500, Duration.ofSeconds(1));
    ReplicaHeartbeat me = fencingWatched("slow-start", timings, seen);
    me.afterPropertiesSet();
    Thread.sleep(1_200);

    me.start();
    try {
      // Its watch looks (as its own thread does within 250 ms, long before the first heartbeat
      // of the interval, 1 s on).
      me.watchOwnHeartbeat();
      assertThat(seen).isEmpty();
      assertThat(me.fenced()).isFalse();
    } finally {
      me.stop();
    }
  }

  /**
   * A replica whose host clock runs ahead (or behind) reads the state database's time once it has
   * written a heartbeat: the reconnect and drain graces that another replica stamped with the
   * database's {@code now()} then end on time, not early by the skew.
   */
  @Test
  void theBrokersClockFollowsTheStateDatabaseWhateverTheHostsClockSays() {
    for (Duration skew : List.of(Duration.ofSeconds(4), Duration.ofSeconds(-4))) {
      StateDatabaseClock clock = new StateDatabaseClock(Clock.offset(Clock.systemUTC(), skew));
      assertThat(databaseNowMinus(clock.instant()))
          .as("before any heartbeat the host's clock stands, %s off", skew)
          .isCloseTo(skew.negated(), Duration.ofMillis(500));

      ReplicaHeartbeat me =
          new ReplicaHeartbeat(
              db.jdbc,
              new DeadReplicaClaims(),
              new ReplicaId("skewed" + skew.getSeconds()),
              SETTINGS,
              event -> {},
              clock,
              new ClusterRefusals(clock),
              new SimpleMeterRegistry());
      me.afterPropertiesSet();
      assertThat(databaseNowMinus(clock.instant()))
          .isCloseTo(Duration.ZERO, Duration.ofMillis(250));
      assertThat(clock.offset()).isCloseTo(skew.negated(), Duration.ofMillis(250));

      me.beat();
      assertThat(databaseNowMinus(clock.instant()))
          .isCloseTo(Duration.ZERO, Duration.ofMillis(250));
    }
  }

  /** The database's clock minus {@code instant}. */
  private static Duration databaseNowMinus(Instant instant) {
    Instant database =
        db.jdbc
            .sql("SELECT clock_timestamp()")
            .query((rs, row) -> rs.getTimestamp(1).toInstant())
            .single();
    return Duration.between(instant, database);
  }

  @Test
  void selfFenceMustComeBeforeTheOthersPresumeTheReplicaDead() {
    assertThat(
            new BrokerProperties.Cluster(Duration.ofSeconds(2), Duration.ofSeconds(15), 500, null)
                .selfFence())
        .isEqualTo(Duration.ofMillis(7500));
    assertThatThrownBy(
            () ->
                new BrokerProperties.Cluster(
                    Duration.ofSeconds(2), Duration.ofSeconds(15), 500, Duration.ofSeconds(14)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("self-fence-after");
    assertThatThrownBy(
            () ->
                new BrokerProperties.Cluster(
                    Duration.ofSeconds(2), Duration.ofSeconds(15), 500, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("self-fence-after");
  }

  private static ReplicaHeartbeat heartbeat(String id, SimpleMeterRegistry meters) {
    return heartbeat(id, meters, new ClusterRefusals(StateDatabaseClock.systemUtc()));
  }

  private static ReplicaHeartbeat heartbeat(
      String id, SimpleMeterRegistry meters, ClusterRefusals refusals) {
    return new ReplicaHeartbeat(
        db.jdbc,
        new DeadReplicaClaims(),
        new ReplicaId(id),
        SETTINGS,
        event -> {},
        StateDatabaseClock.systemUtc(),
        refusals,
        meters);
  }

  /** A replica with {@code timings} whose fencing events are added to {@code seen}. */
  private static ReplicaHeartbeat fencingWatched(
      String id, BrokerProperties.Cluster timings, List<ReplicaHeartbeat.Fencing> seen) {
    return new ReplicaHeartbeat(
        db.jdbc,
        new DeadReplicaClaims(),
        new ReplicaId(id),
        timings,
        event -> {
          if (event instanceof ReplicaFencingEvent fencing) {
            seen.add(fencing.fencing());
          }
        },
        StateDatabaseClock.systemUtc(),
        new ClusterRefusals(StateDatabaseClock.systemUtc()),
        new SimpleMeterRegistry());
  }

  private static double takeovers(SimpleMeterRegistry meters, String cause) {
    return meters.get("credbroker.cluster.takeovers").tag("cause", cause).counter().count();
  }

  private static void replica(String id, String state) {
    db.jdbc.sql("INSERT INTO replica (id) VALUES (:id)").param("id", id).update();
    db.jdbc.sql("UPDATE replica SET " + state + " WHERE id = :id").param("id", id).update();
  }

  private static void activeCredential(String owner) {
    UUID id = UUID.randomUUID();
    OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
    db.jdbc
        .sql(
            "INSERT INTO credential (id, database_role, vault_mount, vault_role, lease_id, username,"
                + " namespace, service_account, kind, state, renewable, owner_replica, issue_time,"
                + " expire_time) VALUES (:id, 'db1', 'database', 'db1', :lease, :username, 'public',"
                + " 'application', 'ONE_SHOT', 'ACTIVE', false, :owner, :now, :expire)")
        .param("id", id)
        .param("lease", "database/creds/db1/" + id)
        .param("username", "v-" + id)
        .param("owner", owner)
        .param("now", now)
        .param("expire", now.plusHours(1))
        .update();
  }

  @Test
  void aStatementWhoseDatabaseStopsAnsweringFailsWithinTheStalePeriodInsteadOfWaitingOnTcp()
      throws Exception {
    URI target = URI.create(db.jdbcUrl.substring("jdbc:".length()));
    try (TcpProxy proxy = TcpProxy.start("state-database", target.getHost(), target.getPort());
        HeartbeatDatabase heartbeat =
            ClusterConfiguration.heartbeatDatabase(
                details(db.jdbcUrl.replace(":" + target.getPort() + "/", ":" + proxy.port() + "/")),
                QUICKLY_STALE)) {
      try (Connection c = heartbeat.dataSource().getConnection();
          Statement st = c.createStatement()) {
        st.execute("SELECT 1");
        proxy.blackhole();
        long start = System.nanoTime();

        // The server never sees it, so its statement_timeout cannot end it; without a read timeout
        // the heartbeat thread would wait until TCP gave up (minutes), keeping its replica fenced.
        try {
          assertTimeoutPreemptively(
              Duration.ofSeconds(10),
              () ->
                  assertThatThrownBy(() -> st.execute("SELECT 1"))
                      .isInstanceOf(SQLException.class));
        } finally {
          proxy.pass();
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(6));
      }
    }
  }

  private static JdbcConnectionDetails details(String jdbcUrl) {
    return new JdbcConnectionDetails() {
      @Override
      public String getUsername() {
        return db.postgres.adminUser();
      }

      @Override
      public String getPassword() {
        return db.postgres.adminPassword();
      }

      @Override
      public String getJdbcUrl() {
        return jdbcUrl;
      }
    };
  }
}
