package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.LeaseReconciler;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultResponse;

/**
 * No PostgreSQL role lives untracked, and learning how far a lease may be renewed stretches none:
 * through the real wire (Vault's HTTP API on the stand-in, which runs the role's statements against
 * PostgreSQL; gRPC to the broker).
 */
class UntrackedLeasesIT {

  /** A Vault role whose leases live 3 s and can be renewed up to 60 s after issue. */
  private static final String SHORT_ROLE = "db1short";

  private static final Duration RECONCILE_GRACE = Duration.ofSeconds(4);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static VaultTemplate root;
  private static TestPods pods;
  private final List<EventStream> streams = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.lease.poll-interval", "200ms");
    properties.put("credbroker.lease.reconnect-grace", "30s");
    properties.put("credbroker.lease.renewal-retry-max", "1s");
    properties.put("credbroker.lease.reconcile.interval", "1s");
    properties.put("credbroker.lease.reconcile.grace", RECONCILE_GRACE.toMillis() + "ms");
    properties.putAll(BrokerFixture.secondBinding(SHORT_ROLE));
    fixture =
        BrokerFixture.start(
            workDir,
            properties,
            BrokerFixture.shortLivedVaultRole(
                SHORT_ROLE, Duration.ofSeconds(3), Duration.ofSeconds(60)));
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "untracked-");
    root =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(fixture.devStack.vaultAddress())),
            new TokenAuthentication(fixture.devStack.vaultRootToken()));
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @AfterEach
  void closeStreams() {
    streams.forEach(EventStream::close);
    streams.clear();
  }

  @Test
  void leaseVaultIssuedThatNoRecordKnowsIsRevokedAfterTheGraceAndItsRoleDropped() throws Exception {
    // What a failed state write whose cleanup failed too leaves behind: a lease of an issuing token
    // under the broker's role, with no credential record.
    Credential tracked = firstCredential(watch(pods.token(pods.create()), "db1", null));
    String username = issueBehindTheBrokersBack("db1").username();
    assertThat(fixture.roleExists(username)).isTrue();

    await()
        .atMost(RECONCILE_GRACE.plusSeconds(15))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> !fixture.roleExists(username));

    assertThat(fixture.httpGet("/actuator/prometheus").body())
        .containsPattern("credbroker_lease_orphans_total\\{[^}]*outcome=\"revoked\"[^}]*\\} [1-9]");
    // The credential the broker tracks is untouched.
    assertThat(fixture.roleExists(tracked.getUsername())).isTrue();
    assertThat(selectOne(tracked)).isEqualTo(1);
  }

  @Test
  void leaseYoungerThanTheGraceIsLeftAloneAsACredentialBeingIssuedRightNow() throws Exception {
    Untracked fresh = issueBehindTheBrokersBack("db1");
    LeaseReconciler reconciler = fixture.broker.getBean(LeaseReconciler.class);

    // The periodic pass may hold the lock at this moment: ask until a pass of our own ran.
    LeaseReconciler.Pass pass = reconciler.reconcile();
    while (pass.skipped()) {
      Thread.sleep(50);
      pass = reconciler.reconcile();
    }

    assertThat(Duration.between(issueTime(fresh.leaseId()), Instant.now()))
        .isLessThan(RECONCILE_GRACE);
    assertThat(pass.listed()).isPositive();
    assertThat(lookup(fresh.leaseId())).isNotNull();
    assertThat(fixture.roleExists(fresh.username())).isTrue();
    root.write("sys/leases/revoke", Map.of("lease_id", fresh.leaseId()));
  }

  @Test
  void maxTtlIsLearnedWithoutRenewingTheNewLease() {
    Credential credential = firstCredential(watch(pods.token(pods.create()), "db1", null));
    String leaseId = fixture.record(credential.getCredentialId()).leaseId();

    // db1 may be renewed up to 5 min after issue (counted a second short).
    Instant issued = instant(credential.getIssueTime());
    assertThat(instant(credential.getMaxExpireTime()))
        .isBetween(issued.plusSeconds(290), issued.plusSeconds(300));
    // Vault saw no renewal of the lease: it was not stretched to its max to learn the max.
    Map<String, Object> lease = Objects.requireNonNull(lookup(leaseId));
    assertThat(lease.get("last_renewal")).isNull();
    assertThat(OffsetDateTime.parse((String) lease.get("expire_time")).toInstant())
        .isBefore(issued.plusSeconds(62));
  }

  @Test
  void renewalVaultRefusesForTheBrokersOwnTokenKeepsTheDetachedCredentialAlive() throws Exception {
    EventStream stream = watch(pods.token(pods.create()), SHORT_ROLE, null);
    Credential credential = firstCredential(stream);
    String leaseId = fixture.record(credential.getCredentialId()).leaseId();
    // The pod's stream breaks: the credential waits for a resume through the reconnect grace, and
    // the broker keeps renewing its 3 s lease meanwhile.
    stream.close();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> fixture.record(credential.getCredentialId()).detachedTime() != null);

    // An operator revokes the broker's login (or it expired while the broker was paused): the next
    // renewal is answered 403. That says nothing about the lease.
    Instant revoked = Instant.now();
    root.write("auth/token/revoke-accessor", Map.of("accessor", brokerLoginAccessor()));

    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Map<String, Object> lease = lookup(leaseId);
              return lease != null
                  && lease.get("last_renewal") instanceof String last
                  && OffsetDateTime.parse(last).toInstant().isAfter(revoked);
            });
    assertThat(fixture.record(credential.getCredentialId()).state())
        .isEqualTo(CredentialState.ACTIVE);
    assertThat(selectOne(credential)).isEqualTo(1);
  }

  /** A lease created as the broker creates them (with an issuing token) but never recorded. */
  private record Untracked(String leaseId, String username) {}

  private static Untracked issueBehindTheBrokersBack(String role) {
    VaultResponse token = root.write("auth/token/create/credential-broker-issuer", Map.of());
    String issuingToken = (String) Objects.requireNonNull(token.getAuth()).get("client_token");
    VaultTemplate issuer =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(fixture.devStack.vaultAddress())),
            new TokenAuthentication(issuingToken));
    VaultResponse creds = Objects.requireNonNull(issuer.read("database/creds/" + role));
    return new Untracked(
        creds.getLeaseId(), (String) Objects.requireNonNull(creds.getData()).get("username"));
  }

  private static @Nullable Map<String, Object> lookup(String leaseId) {
    try {
      return root.write("sys/leases/lookup", Map.of("lease_id", leaseId)).getData();
    } catch (org.springframework.vault.VaultException e) {
      // 400 "invalid lease": revoked or expired.
      return null;
    }
  }

  private static Instant issueTime(String leaseId) {
    return OffsetDateTime.parse((String) Objects.requireNonNull(lookup(leaseId)).get("issue_time"))
        .toInstant();
  }

  /** The accessor of the broker's own Vault login (Kubernetes auth), as an operator finds it. */
  private static String brokerLoginAccessor() {
    List<String> accessors = root.list("auth/token/accessors/");
    for (String accessor : accessors) {
      Map<String, Object> token =
          root.write("auth/token/lookup-accessor", Map.of("accessor", accessor)).getData();
      if (token != null && String.valueOf(token.get("path")).startsWith("auth/kubernetes/login")) {
        return accessor;
      }
    }
    throw new AssertionError("the broker has no Vault login");
  }

  private EventStream watch(String token, String databaseRole, @Nullable Duration ttl) {
    EventStream stream =
        EventStream.open(fixture.channel, token, EventStream.request(databaseRole, ttl));
    streams.add(stream);
    return stream;
  }

  private static Credential firstCredential(EventStream stream) {
    CredentialEvent first = stream.first();
    assertThat(first.hasIssued()).as("first event %s", first).isTrue();
    return first.getIssued().getCredential();
  }

  private static int selectOne(Credential credential) throws SQLException {
    try (Connection db =
            DriverManager.getConnection(
                fixture.jdbcUrl("db1"), credential.getUsername(), credential.getPassword());
        Statement sql = db.createStatement();
        ResultSet rs = sql.executeQuery("SELECT 1")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static Instant instant(Timestamp timestamp) {
    return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
  }
}
