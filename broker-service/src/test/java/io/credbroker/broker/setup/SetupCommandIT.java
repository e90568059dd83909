package io.credbroker.broker.setup;

import static io.credbroker.broker.setup.VaultTestSupport.issue;
import static io.credbroker.broker.setup.VaultTestSupport.login;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.setup.VaultTestSupport.Credential;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.PostgresInfo;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.VaultException;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultResponse;

/**
 * The {@code setup} command end to end against the dev-stack: idempotence, rotate-root, dry run,
 * the broker's own login.
 */
class SetupCommandIT {

  private static final String INITIAL_ADMIN_PASSWORD = "initial-admin-password-1234";

  @TempDir static Path workDir;
  private static DevStack stack;
  private static Path postgresPasswordFile;
  private static Path vaultTokenFile;

  /**
   * Output of the first real run of database "app", shared by the tests that need the stack set up.
   */
  private static String firstRun;

  @BeforeAll
  static void setUp() throws IOException {
    stack = VaultTestSupport.startStack(workDir.resolve("stack"));
    postgresPasswordFile =
        Files.writeString(workDir.resolve("pg-password"), stack.postgres().adminPassword() + "\n");
    vaultTokenFile = Files.writeString(workDir.resolve("vault-token"), stack.vaultRootToken());
    Run run = setup(() -> Secret.of(INITIAL_ADMIN_PASSWORD), args("app", "database"));
    assertThat(run.code).as(run.err).isZero();
    firstRun = run.out;
  }

  @AfterAll
  static void tearDown() {
    if (stack != null) {
      stack.close();
    }
  }

  private record Run(int code, String out, String err) {}

  private static Run setup(Supplier<Secret> initialAdminPasswords, List<String> args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        SetupCommand.run(
            args.toArray(String[]::new),
            new PrintWriter(out),
            new PrintWriter(err),
            initialAdminPasswords);
    return new Run(code, out.toString(), err.toString());
  }

  private static List<String> args(String database, String mount, String... extra) {
    PostgresInfo pg = stack.postgres();
    List<String> args =
        new ArrayList<>(
            List.of(
                "--postgres-url",
                pg.jdbcUrl("postgres"),
                "--postgres-user",
                pg.adminUser(),
                "--postgres-password-file",
                postgresPasswordFile.toString(),
                "--vault-address",
                stack.vaultAddress(),
                "--vault-token-file",
                vaultTokenFile.toString(),
                "--database",
                database,
                "--mount",
                mount,
                "--default-ttl",
                "5m",
                "--max-ttl",
                "10m",
                "--kubernetes-host",
                stack.kubernetesUrl(),
                "--kubernetes-ca-file",
                stack.caCertPath().toString()));
    List<String> more = List.of(extra);
    if (!more.contains("--dry-run") && !more.contains("--vault-postgres-parameters")) {
      // The embedded server has no TLS; a dry run shows the default (verify-full) instead.
      args.addAll(List.of("--vault-postgres-parameters", "sslmode=disable"));
    }
    args.addAll(more);
    return args;
  }

  private static void assertNoSecretsIn(String text) {
    assertThat(text)
        .doesNotContain(stack.postgres().adminPassword())
        .doesNotContain(INITIAL_ADMIN_PASSWORD);
    if (stack.vaultRootToken().length() > 4) { // the default "root" is an ordinary word
      assertThat(text).doesNotContain(stack.vaultRootToken());
    }
  }

  @Test
  void firstRunCreatesEverythingAndTheSecondReportsNoChanges() {
    assertThat(firstRun)
        .contains(
            "created",
            "root credentials database/rotate-root/app",
            "policy credential-broker",
            "policy credential-broker-issuer",
            "token role auth/token/roles/credential-broker-issuer",
            "auth/kubernetes/role/credential-broker");
    assertNoSecretsIn(firstRun);

    Run second =
        setup(
            () -> {
              throw new AssertionError("an unchanged connection must not get a new admin password");
            },
            args("app", "database"));

    assertThat(second.code).as(second.err).isZero();
    assertThat(second.out)
        .contains("No changes: everything was already set up.")
        .doesNotContain("created")
        .doesNotContain("updated");
    assertNoSecretsIn(second.out);
  }

  @Test
  void adminPasswordGivenAtFirstRunNoLongerWorksAfterRotateRoot() throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", "admin_app");
    props.setProperty("password", INITIAL_ADMIN_PASSWORD);
    assertThatThrownBy(
            () ->
                java.sql.DriverManager.getConnection(stack.postgres().jdbcUrl("app"), props)
                    .close())
        .isInstanceOfSatisfying(
            SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));

    // Vault alone knows the rotated password: it can still create roles.
    Credential credential =
        issue(VaultTestSupport.vault(stack, stack.vaultRootToken()), "database", "app");
    try (Connection c = login(stack, "app", credential);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE proof (id int)");
    }
  }

  @Test
  void dryRunPrintsThePlanWithSecretsMaskedAndChangesNothing() throws SQLException {
    Run plan = setup(Secret::random, args("planned", "planned-db", "--dry-run"));

    assertThat(plan.code).as(plan.err).isZero();
    assertThat(plan.out)
        .contains(
            "Dry run: nothing is changed.",
            "would create",
            "password=" + Secret.MASK,
            "connection_url=postgresql://{{username}}:{{password}}@",
            "steps would change.");
    // Vault reaches PostgreSQL with TLS that checks the server's certificate and name unless told
    // otherwise.
    assertThat(plan.out).containsPattern("connection_url=postgresql://\\S+\\?sslmode=verify-full");
    assertNoSecretsIn(plan.out);
    try (Connection c = stack.postgres().connect("postgres");
        Statement st = c.createStatement();
        var rs = st.executeQuery("SELECT count(*) FROM pg_database WHERE datname = 'planned'")) {
      rs.next();
      assertThat(rs.getLong(1)).isZero();
    }
    assertThat(VaultTestSupport.vault(stack, stack.vaultRootToken()).opsForSys().getMounts())
        .doesNotContainKey("planned-db/");
  }

  @Test
  void vaultAdminRoleEqualToTheSetupsOwnSuperuserIsRefusedAndItsPasswordKeepsWorking()
      throws SQLException {
    String superuser = stack.postgres().adminUser();
    Run refused =
        setup(
            () -> {
              throw new AssertionError("the superuser's password must not be changed");
            },
            args("lockout", "database", "--vault-admin-role", superuser));

    assertThat(refused.code).isEqualTo(1);
    assertThat(refused.err)
        .contains(
            "setup failed: the Vault admin role must differ from the PostgreSQL admin user "
                + superuser);
    assertThat(refused.out).doesNotContain("created");
    Properties props = new Properties();
    props.setProperty("user", superuser);
    props.setProperty("password", stack.postgres().adminPassword());
    try (Connection c =
            java.sql.DriverManager.getConnection(stack.postgres().jdbcUrl("postgres"), props);
        Statement st = c.createStatement();
        var rs = st.executeQuery("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) {
      rs.next();
      assertThat(rs.getBoolean(1)).isTrue();
    }
  }

  @Test
  void superuserVaultAdminRoleIsDemotedAndVaultStillIssuesAndRevokes() throws SQLException {
    try (Connection c = stack.postgres().connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("CREATE ROLE admin_demoted LOGIN SUPERUSER CREATEDB REPLICATION BYPASSRLS");
    }

    Run run = setup(Secret::random, args("demoted", "database"));

    assertThat(run.code).as(run.err).isZero();
    assertThat(run.out)
        .contains(
            "ALTER ROLE \"admin_demoted\" LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION"
                + " NOBYPASSRLS");
    try (Connection c = stack.postgres().connect("postgres");
        Statement st = c.createStatement();
        var rs =
            st.executeQuery(
                "SELECT rolsuper OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles"
                    + " WHERE rolname = 'admin_demoted'")) {
      rs.next();
      assertThat(rs.getBoolean(1)).isFalse();
    }
    VaultTemplate vault = VaultTestSupport.vault(stack, stack.vaultRootToken());
    Credential credential = issue(vault, "database", "demoted");
    try (Connection c = login(stack, "demoted", credential);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE made_by_a_dynamic_role (id int)");
    }
    VaultTestSupport.revoke(vault, credential);
    assertThatThrownBy(() -> login(stack, "demoted", credential).close())
        .isInstanceOf(SQLException.class);
  }

  @Test
  void rerunAfterAConnectionUpdateVaultRefusedLeavesVaultAbleToReconnect() throws SQLException {
    Run first = setup(Secret::random, args("reconnect", "database"));
    assertThat(first.code).as(first.err).isZero();

    // Vault cannot verify this connection: the embedded server has no TLS. Vault keeps the config
    // it had, with its password.
    Run refused =
        setup(
            Secret::random,
            args("reconnect", "database", "--vault-postgres-parameters", "sslmode=require"));
    assertThat(refused.code).isEqualTo(1);
    assertThat(refused.err)
        .contains("connection database/config/reconnect")
        .containsIgnoringCase("SSL");

    Run reverted =
        setup(
            () -> {
              throw new AssertionError("an unchanged connection must not get a new admin password");
            },
            args("reconnect", "database"));
    assertThat(reverted.code).as(reverted.err).isZero();

    // What a Vault restart does: connect anew with the stored config.
    VaultTemplate vault = VaultTestSupport.vault(stack, stack.vaultRootToken());
    vault.write("database/reset/reconnect", null);
    Credential credential = issue(vault, "database", "reconnect");
    try (Connection c = login(stack, "reconnect", credential);
        Statement st = c.createStatement()) {
      st.execute("SELECT 1");
    }
  }

  @Test
  void vaultWithACertificateFromAPrivateCaIsSetUpWhenThatCaIsGivenWithVaultCaCert() {
    Run run =
        setup(
            Secret::random,
            overTls(
                args("tlstrusted", "database", "--vault-ca-cert", stack.caCertPath().toString())));

    assertThat(run.code).as(run.err).isZero();
    assertThat(run.out)
        .contains("Vault " + stack.vaultTlsAddress(), "connection database/config/tlstrusted");
    VaultTemplate vault = VaultTestSupport.vault(stack, stack.vaultRootToken());
    assertThat(vault.read("database/config/tlstrusted")).isNotNull();
    assertThat(vault.read("database/roles/tlstrusted").getRequiredData())
        .containsEntry("db_name", "tlstrusted");
  }

  @Test
  void vaultWithACertificateFromAPrivateCaIsRefusedWithoutVaultCaCertBeforeAnythingChanges()
      throws SQLException {
    Run refused =
        setup(
            () -> {
              throw new AssertionError("no admin password may be issued for an untrusted Vault");
            },
            overTls(args("tlsrefused", "database")));

    assertThat(refused.code).isEqualTo(1);
    assertThat(refused.err)
        .contains(
            "setup failed: Vault step",
            "cannot reach Vault",
            "unable to find valid certification path",
            "Vault's TLS certificate is not signed by a CA setup trusts",
            "--vault-ca-cert");
    assertThat(refused.out).doesNotContain("created", "updated");
    assertThat(
            VaultTestSupport.vault(stack, stack.vaultRootToken())
                .read("database/config/tlsrefused"))
        .isNull();
    try (Connection c = stack.postgres().connect("postgres");
        Statement st = c.createStatement();
        var rs =
            st.executeQuery(
                "SELECT (SELECT count(*) FROM pg_database WHERE datname = 'tlsrefused')"
                    + " + (SELECT count(*) FROM pg_roles WHERE rolname IN ('admin_tlsrefused',"
                    + " 'tlsrefused_grp'))")) {
      rs.next();
      assertThat(rs.getLong(1)).as("PostgreSQL objects of tlsrefused").isZero();
    }
  }

  /** The same arguments with the dev-stack Vault's TLS listener as the address. */
  private static List<String> overTls(List<String> args) {
    List<String> overTls = new ArrayList<>(args);
    overTls.set(overTls.indexOf("--vault-address") + 1, stack.vaultTlsAddress());
    return overTls;
  }

  @Test
  void brokerLogsInWithItsServiceAccountAndMayOnlyIssueAndManageLeases() throws SQLException {
    VaultTemplate anonymous = VaultTestSupport.vault(stack, stack.vaultRootToken());
    // Like the default kube-api-access token: with no reviewer JWT configured, Vault presents the
    // broker's own token to the TokenReview API, so it must be valid for the API server audience.
    String jwt =
        stack
            .kubernetes()
            .issueToken(
                "credbroker",
                "credential-broker",
                null,
                List.of(KubernetesApiServer.API_AUDIENCE),
                Duration.ofMinutes(10));
    VaultResponse login =
        anonymous.write("auth/kubernetes/login", Map.of("role", "credential-broker", "jwt", jwt));
    assertThat(login).isNotNull();
    assertThat(login.getAuth()).isNotNull();
    assertThat((List<?>) login.getAuth().get("policies")).asList().contains("credential-broker");
    VaultTemplate broker =
        VaultTestSupport.vault(stack, (String) login.getAuth().get("client_token"));

    // The login creates issuing tokens through the token role: orphans of fixed lifetime.
    VaultResponse created = broker.write("auth/token/create/credential-broker-issuer", Map.of());
    assertThat(created).isNotNull();
    assertThat(created.getAuth())
        .containsEntry("orphan", true)
        .containsEntry("renewable", false)
        .containsEntry("policies", List.of("credential-broker-issuer"));
    assertThat(((Number) created.getAuth().get("lease_duration")).longValue())
        .isEqualTo(48 * 3600L);
    VaultTemplate issuer =
        VaultTestSupport.vault(stack, (String) created.getAuth().get("client_token"));
    Credential credential = issue(issuer, "database", "app");

    // The login renews and revokes leases it did not create; it cannot read credentials itself.
    broker.write("sys/leases/renew", Map.of("lease_id", credential.leaseId(), "increment", 60));
    assertThatThrownBy(() -> issue(broker, "database", "app"))
        .isInstanceOfSatisfying(
            VaultException.class, e -> assertThat(e.getMessage()).contains("permission denied"));
    assertThatThrownBy(
            () -> issuer.write("sys/leases/renew", Map.of("lease_id", credential.leaseId())))
        .isInstanceOfSatisfying(
            VaultException.class, e -> assertThat(e.getMessage()).contains("permission denied"));
    assertThatThrownBy(() -> broker.read("database/config/app"))
        .isInstanceOfSatisfying(
            VaultException.class, e -> assertThat(e.getMessage()).contains("permission denied"));

    // It finds the leases of its mount's credentials (a sudo path in Vault) to revoke those nobody
    // tracks, and reads the TTL limits of the role and the mount instead of renewing a lease to
    // learn them.
    assertThat(broker.list("sys/leases/lookup/database/creds/app/"))
        .contains(credential.leaseId().substring("database/creds/app/".length()));
    assertThat(broker.read("database/roles/app").getRequiredData()).containsKey("max_ttl");
    assertThat(broker.read("sys/mounts/database/tune").getRequiredData())
        .containsKey("max_lease_ttl");
    assertThatThrownBy(() -> broker.list("sys/leases/lookup/auth/"))
        .isInstanceOfSatisfying(
            VaultException.class, e -> assertThat(e.getMessage()).contains("permission denied"));

    // What killed every pod's session at a rolling update: the broker's login token dying. Its
    // credentials belong to the issuing token and survive it.
    broker.write("auth/token/revoke-self", null);
    try (Connection c = login(stack, "app", credential);
        Statement st = c.createStatement()) {
      st.execute("SELECT 1");
    }
    anonymous.write("sys/leases/revoke", Map.of("lease_id", credential.leaseId()));
    assertThatThrownBy(() -> login(stack, "app", credential).close())
        .isInstanceOf(SQLException.class);
  }
}
