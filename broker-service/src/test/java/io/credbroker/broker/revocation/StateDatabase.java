package io.credbroker.broker.revocation;

import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * A real PostgreSQL (the dev-stack's) with the broker's schema migrated by Flyway, for one test
 * class.
 */
public final class StateDatabase implements AutoCloseable {

  public final DevStack devStack;
  public final PostgresInfo postgres;
  public final String jdbcUrl;
  public final DataSource dataSource;
  public final JdbcClient jdbc;
  public final TransactionTemplate transactions;

  public StateDatabase(Path workDir) {
    devStack = DevStack.builder().workDir(workDir).start();
    postgres = devStack.postgres();
    postgres.createDatabase("credbroker");
    jdbcUrl = postgres.jdbcUrl("credbroker");
    dataSource =
        new DriverManagerDataSource(jdbcUrl, postgres.adminUser(), postgres.adminPassword());
    Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
    jdbc = JdbcClient.create(dataSource);
    transactions = new TransactionTemplate(new DataSourceTransactionManager(dataSource));
  }

  /**
   * Records a live stream credential of database role {@code db1} for pod {@code public/pod} (UID
   * {@code podUid}), expiring in an hour.
   *
   * @param ownerReplica the replica that looks after it, or null for none
   * @return its id
   */
  public UUID insertCredential(
      String serviceAccount, String pod, String podUid, String username, String ownerReplica) {
    UUID id = UUID.randomUUID();
    OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.MICROS);
    jdbc.sql(
            "INSERT INTO credential (id, database_role, vault_mount, vault_role, lease_id, username,"
                + " namespace, service_account, pod_name, pod_uid, kind, state, renewable,"
                + " issue_time, expire_time, owner_replica) VALUES (:id, 'db1', 'database', 'db1',"
                + " :lease, :username, 'public', :sa, :pod, :uid, 'STREAM', 'ACTIVE', true, :now,"
                + " :expire, :replica)")
        .param("id", id)
        .param("lease", "database/creds/db1/" + id)
        .param("username", username)
        .param("sa", serviceAccount)
        .param("pod", pod)
        .param("uid", podUid)
        .param("now", now)
        .param("expire", now.plusHours(1))
        .param("replica", ownerReplica)
        .update();
    return id;
  }

  @Override
  public void close() {
    devStack.close();
  }
}
