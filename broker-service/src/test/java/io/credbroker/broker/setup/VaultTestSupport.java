package io.credbroker.broker.setup;

import io.credbroker.devstack.DevStack;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
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
