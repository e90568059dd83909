package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.vault.authentication.SimpleSessionManager;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultResponse;

/** Direct Vault HTTP calls the integration tests make, as an application or an operator would. */
final class VaultTestSupport {

  /** One issued credential. */
  record Credential(String leaseId, String username, String password) {
    @Override
    public String toString() {
      return "Credential[leaseId="
          + leaseId
          + ", username="
          + username
          + ", password="
          + Secret.MASK
          + "]";
    }
  }

  private VaultTestSupport() {}

  /** Starts a dev-stack with the stand-ins on free ports. */
  static DevStack startStack(java.nio.file.Path workDir) {
    return DevStack.builder().workDir(workDir).start();
  }

  /**
   * Starts a dev-stack on an existing PostgreSQL server: Vault's stand-in keeps its state there and
   * issues its roles there.
   */
  static DevStack startStack(
      java.nio.file.Path workDir, String jdbcUrl, String superuser, String password) {
    return DevStack.builder()
        .workDir(workDir)
        .existingPostgres(jdbcUrl, superuser, password)
        .start();
  }

  /**
   * Sets up {@code database} and a Vault role of the same name on the mount {@code database}, with
   * credentials that live 5 minutes (10 at most), as the setup command would.
   */
  static SetupReport setUpDatabase(DevStack stack, String database) {
    PostgresInfo pg = stack.postgres();
    VaultSetupOptions options =
        VaultSetupOptions.defaults(
                URI.create(stack.vaultAddress()),
                Secret.of(stack.vaultRootToken()),
                database,
                pg.host(),
                pg.port())
            .withConnectionParameters("sslmode=disable")
            .withTtls(Duration.ofMinutes(5), Duration.ofMinutes(10));
    return Setup.apply(databaseOptions(stack, database), options, false);
  }

  /** The PostgreSQL half of {@link #setUpDatabase}, with the defaults of the setup command. */
  static TargetDatabaseOptions databaseOptions(DevStack stack, String database) {
    PostgresInfo pg = stack.postgres();
    return TargetDatabaseOptions.defaults(
        pg.jdbcUrl("postgres"), pg.adminUser(), Secret.of(pg.adminPassword()), database);
  }

  /** The first column of every row, queried as the superuser in {@code database}. */
  static List<Object> query(DevStack stack, String database, String sql) throws SQLException {
    try (Connection c = stack.postgres().connect(database);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      List<Object> values = new ArrayList<>();
      while (rs.next()) {
        values.add(rs.getObject(1));
      }
      return values;
    }
  }

  /** The one value a query returns. */
  static Object single(Statement st, String sql) throws SQLException {
    try (ResultSet rs = st.executeQuery(sql)) {
      assertThat(rs.next()).isTrue();
      return rs.getObject(1);
    }
  }

  static VaultTemplate vault(DevStack stack, String token) {
    return new VaultTemplate(
        VaultEndpoint.from(URI.create(stack.vaultAddress())),
        new JdkClientHttpRequestFactory(),
        new SimpleSessionManager(new TokenAuthentication(token)));
  }

  static Credential issue(VaultTemplate vault, String mount, String role) {
    VaultResponse response =
        Objects.requireNonNull(vault.read(mount + "/creds/" + role), "no credential");
    Map<String, Object> data = Objects.requireNonNull(response.getData());
    return new Credential(
        response.getLeaseId(), (String) data.get("username"), (String) data.get("password"));
  }

  static void revoke(VaultTemplate vault, Credential credential) {
    vault.write("sys/leases/revoke", Map.of("lease_id", credential.leaseId()));
  }

  static Connection login(DevStack stack, String database, Credential credential)
      throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", credential.username());
    props.setProperty("password", credential.password());
    return DriverManager.getConnection(stack.postgres().jdbcUrl(database), props);
  }
}
