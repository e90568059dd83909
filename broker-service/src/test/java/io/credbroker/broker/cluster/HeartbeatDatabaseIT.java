package io.credbroker.broker.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.credbroker.broker.cluster.ClusterConfiguration.HeartbeatDatabase;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.revocation.StateDatabase;
import io.credbroker.devstack.network.TcpProxy;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;

/**
 * The heartbeat's own connection to the state database, on real PostgreSQL behind a proxy that can
 * hold the traffic of the connection it has open (a database host that died without closing its
 * connections: no answer, no reset).
 */
class HeartbeatDatabaseIT {

  /** Stale after 2 s: statements give up after 1 s on the server, reads after 2 s on the client. */
  private static final BrokerProperties.Cluster SETTINGS =
      new BrokerProperties.Cluster(Duration.ofMillis(500), Duration.ofSeconds(2), 500, null);

  @TempDir static Path workDir;
  private static StateDatabase db;

  @BeforeAll
  static void start() {
    db = new StateDatabase(workDir);
  }

  @AfterAll
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Test
  void aStatementWhoseDatabaseStopsAnsweringFailsWithinTheStalePeriodInsteadOfWaitingOnTcp()
      throws Exception {
    URI target = URI.create(db.jdbcUrl.substring("jdbc:".length()));
    try (TcpProxy proxy = TcpProxy.start("state-database", target.getHost(), target.getPort());
        HeartbeatDatabase heartbeat =
            ClusterConfiguration.heartbeatDatabase(
                details(db.jdbcUrl.replace(":" + target.getPort() + "/", ":" + proxy.port() + "/")),
                SETTINGS)) {
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
