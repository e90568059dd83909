package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SetupCommandTest {

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return SetupCommand.run(args, new PrintWriter(out), new PrintWriter(err), Secret::random);
  }

  /** Runs setup with {@code vaultAddress} and {@code vaultToken}, PostgreSQL on a closed port. */
  private int runAgainstVault(String vaultAddress, String vaultToken) {
    return run(
        "--postgres-url",
        "jdbc:postgresql://127.0.0.1:1/postgres",
        "--postgres-password",
        "pw",
        "--vault-address",
        vaultAddress,
        "--vault-token",
        vaultToken);
  }

  @Test
  void invalidDatabaseNameFailsBeforeConnectingAnywhere() {
    // Port 1 would refuse a connection: the failure must come from validation, not from the
    // network.
    int code =
        run(
            "--postgres-url",
            "jdbc:postgresql://127.0.0.1:1/postgres",
            "--postgres-password",
            "pw",
            "--vault-address",
            "http://127.0.0.1:1",
            "--vault-token",
            "t",
            "--database",
            "db1; DROP DATABASE postgres");
    assertThat(code).isEqualTo(1);
    assertThat(err.toString())
        .contains("setup failed: database 'db1; DROP DATABASE postgres' is not a valid name");
    assertThat(out.toString()).doesNotContain("PostgreSQL jdbc");
  }

  @Test
  void vaultAdminRoleEqualToThePostgresUserFailsBeforeConnectingAnywhere() {
    int code =
        run(
            "--postgres-url",
            "jdbc:postgresql://127.0.0.1:1/postgres",
            "--postgres-user",
            "dba",
            "--postgres-password",
            "pw",
            "--vault-address",
            "http://127.0.0.1:1",
            "--vault-token",
            "t",
            "--vault-admin-role",
            "dba");
    assertThat(code).isEqualTo(1);
    assertThat(err.toString())
        .contains(
            "setup failed: the Vault admin role must differ from the PostgreSQL admin user dba");
    assertThat(out.toString()).doesNotContain("PostgreSQL jdbc");
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://vault.example:8200", "http://10.0.0.5:8200"})
  void plainHttpVaultAddressOfAnotherHostIsRefusedBeforeConnectingAnywhere(String address) {
    int code = runAgainstVault(address, "t");
    assertThat(code).isEqualTo(1);
    assertThat(err.toString())
        .contains(
            "setup failed: refusing the Vault address " + address,
            "would cross the network in clear text",
            "use https");
    assertThat(out.toString()).doesNotContain("PostgreSQL jdbc");
  }

  @Test
  void missingVaultCaCertFileIsAClearErrorAndVaultIsNotContacted() throws IOException {
    try (ServerSocket vault = new ServerSocket(0)) {
      int code = runWithVaultCaCert(vault, "/nonexistent/vault-ca.pem");

      assertThat(code).isEqualTo(1);
      assertThat(err.toString())
          .contains(
              "setup failed: cannot read the Vault CA certificates from /nonexistent/vault-ca.pem:"
                  + " no such file");
      assertThat(out.toString()).doesNotContain("PostgreSQL jdbc");
      assertNobodyConnected(vault);
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "vault.example:8200\n",
        "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6\n-----END PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
      })
  void vaultCaCertFileWithoutACertificateIsAClearErrorAndVaultIsNotContacted(
      String contents, @TempDir Path dir) throws IOException {
    Path file = Files.writeString(dir.resolve("vault-ca.pem"), contents);
    try (ServerSocket vault = new ServerSocket(0)) {
      int code = runWithVaultCaCert(vault, file.toString());

      assertThat(code).isEqualTo(1);
      assertThat(err.toString())
          .contains(
              "setup failed: the Vault CA file " + file + " holds no certificate",
              "give a PEM bundle of the CA certificates that signed Vault's certificate");
      assertThat(out.toString()).doesNotContain("PostgreSQL jdbc");
      assertNobodyConnected(vault);
    }
  }

  /** Fails if anything connected to {@code server} (which never accepted). */
  private static void assertNobodyConnected(ServerSocket server) throws IOException {
    server.setSoTimeout(1);
    assertThatThrownBy(server::accept)
        .as("a connection to the Vault port")
        .isInstanceOf(java.net.SocketTimeoutException.class);
  }

  @Test
  void aVaultTokenWithATrailingNewlineIsRefusedWithoutPrintingIt() {
    int code = runAgainstVault("http://127.0.0.1:1", "hvs.s3cret-token\n");

    assertThat(code).isEqualTo(1);
    assertThat(out.toString() + err.toString()).doesNotContain("s3cret-token");
    assertThat(err.toString()).contains("trailing newline");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"https://admin:pw-s3cret@127.0.0.1:1", "https://admin:pw-s3cret@vault example"})
  void aVaultAddressIsPrintedWithoutItsUserInfo(String address) {
    int code = runAgainstVault(address, "t");

    assertThat(code).isEqualTo(1);
    assertThat(out.toString() + err.toString()).doesNotContain("pw-s3cret");
  }

  @Test
  void missingVaultTokenIsAClearError() {
    int code =
        run(
            "--postgres-url",
            "jdbc:postgresql://127.0.0.1:1/postgres",
            "--postgres-password",
            "pw",
            "--vault-token-file",
            "/nonexistent/token");
    assertThat(code).isEqualTo(1);
    assertThat(err.toString()).contains("cannot read the Vault token from /nonexistent/token");
  }

  @Test
  void unparseableDurationIsAUsageError() {
    int code =
        run("--postgres-url", "jdbc:postgresql://127.0.0.1:1/postgres", "--default-ttl", "soon");
    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).contains("'soon' is not a duration");
  }

  @Test
  void helpListsOptionsWithoutRevealingSecretsFromTheEnvironment() {
    int code = run("--help");
    assertThat(code).isZero();
    assertThat(out.toString())
        .contains(
            "--postgres-url",
            "--dry-run",
            "--template-database",
            "--kubernetes-host",
            "--vault-ca-cert",
            "VAULT_CACERT");
    String token = System.getenv("VAULT_TOKEN");
    if (token != null && !token.isEmpty()) {
      assertThat(out.toString()).doesNotContain(token);
    }
  }

  @Test
  void unparseableAdminUrlIsAClearErrorThatDoesNotPrintItsPassword() {
    // The port is not a number: the JDBC driver cannot parse the URL.
    int code =
        run(
            "--postgres-url",
            "jdbc:postgresql://127.0.0.1:notaport/postgres?password=s3cret-in-url",
            "--postgres-password",
            "pw",
            "--vault-address",
            "http://127.0.0.1:1",
            "--vault-token",
            "t");
    assertThat(code).isEqualTo(1);
    assertThat(err.toString())
        .contains("setup failed:", "not a valid PostgreSQL JDBC URL")
        .doesNotContain("s3cret-in-url");
  }

  @Test
  void adminUrlPasswordParameterIsMaskedInOutput() {
    assertThat(
            Masking.url(
                "jdbc:postgresql://db:5432/postgres?user=postgres&password=s3cret&ssl=true"))
        .isEqualTo(
            "jdbc:postgresql://db:5432/postgres?user=postgres&password="
                + Secret.MASK
                + "&ssl=true");
    assertThat(Masking.url("postgresql://admin:s3cret@db:5432/db1"))
        .isEqualTo("postgresql://admin:" + Secret.MASK + "@db:5432/db1");
  }

  @Test
  void userInfoPasswordIsMaskedWholeWhenItHoldsAtSignsOrSlashes() {
    assertThat(Masking.url("jdbc:postgresql://admin:p@ss@w0rd@db:5432/db1?ssl=true"))
        .isEqualTo("jdbc:postgresql://admin:" + Secret.MASK + "@db:5432/db1?ssl=true");
    assertThat(Masking.url("postgresql://admin:pa/ss@db/db1"))
        .isEqualTo("postgresql://admin:" + Secret.MASK + "@db/db1");
    // An @ in the query is not user info: the host and port stay readable.
    assertThat(Masking.url("jdbc:postgresql://db:5432/db1?user=ops@example.org"))
        .isEqualTo("jdbc:postgresql://db:5432/db1?user=ops@example.org");
  }

  /** Setup with {@code --vault-ca-cert caFile}, its Vault at {@code vault}'s port. */
  private int runWithVaultCaCert(ServerSocket vault, String caFile) {
    return run(
        "--postgres-url",
        "jdbc:postgresql://127.0.0.1:1/postgres",
        "--postgres-password",
        "pw",
        "--vault-address",
        "https://127.0.0.1:" + vault.getLocalPort(),
        "--vault-token",
        "t",
        "--vault-ca-cert",
        caFile);
  }
}
