package io.credbroker.broker.revocation;

import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import java.nio.file.Path;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/** A real PostgreSQL (the dev-stack's) with the broker's schema migrated by Flyway, for one test class. */
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
    dataSource = new DriverManagerDataSource(jdbcUrl, postgres.adminUser(), postgres.adminPassword());
    Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
    jdbc = JdbcClient.create(dataSource);
    transactions = new TransactionTemplate(new DataSourceTransactionManager(dataSource));
  }

  @Override
  public void close() {
    devStack.close();
  }
}
