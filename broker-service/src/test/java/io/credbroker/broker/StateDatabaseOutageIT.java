package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.LeaseService;
import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.network.TcpProxy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultResponse;

/**
 * The broker's state database unreachable (a partition: its TCP proxy holds every byte) for longer
 * than a lease's TTL, with the real wire otherwise: Vault's HTTP API on the stand-in (which expires
 * leases and drops their roles, and runs the renewal statements for real), PostgreSQL as the
 * target. The replica fences itself and keeps renewing the lease in Vault from memory, so the pod's
 * role still logs in after its first expiry; nothing is revoked, and once the database is back the
 * credential's row catches up with what Vault granted.
 */
class StateDatabaseOutageIT {

  private static final String AUDIENCE = "credbroker";

  /** A Vault role whose leases live 4 s and can be renewed up to 5 minutes after issue. */
  private static final String SHORT_ROLE = "db1fenced";

  private static final Duration TTL = Duration.ofSeconds(4);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static TcpProxy stateDb;

  @BeforeAll
  static void startBroker() {
    // The state database's address is known once the dev-stack runs: the preparation step puts
    // the proxy in front of it into these properties, which the broker gets after it.
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.lease.poll-interval", "200ms");
    properties.put("credbroker.lease.renewal-retry-max", "1s");
    // Longer than the test: the stream the fence ends is not revoked as abandoned meanwhile.
    properties.put("credbroker.lease.reconnect-grace", "5m");
    properties.put("credbroker.cluster.heartbeat-interval", "300ms");
    properties.put("credbroker.cluster.stale-after", "2s");
    properties.putAll(BrokerFixture.secondBinding(SHORT_ROLE));
    fixture =
        BrokerFixture.start(
            workDir,
            properties,
            devStack -> {
              BrokerFixture.shortLivedVaultRole(SHORT_ROLE, TTL, Duration.ofMinutes(5))
                  .accept(devStack);
              stateDb =
                  TcpProxy.start(
                      "state-db", devStack.postgres().host(), devStack.postgres().port());
              properties.put(
                  "spring.datasource.url",
                  "jdbc:postgresql://127.0.0.1:" + stateDb.port() + "/credbroker");
            });
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
    if (stateDb != null) {
      stateDb.close();
    }
  }

  @Test
  void leaseOutlivesAStateDatabaseOutageLongerThanItsTtlAndNothingIsRevoked() throws Exception {
    String token = podToken("outage-1");
    EventStream stream = watch(token);
    Credential credential = stream.first().getIssued().getCredential();
    UUID id = UUID.fromString(credential.getCredentialId());
    String leaseId = fixture.record(credential.getCredentialId()).leaseId();
    Instant firstExpiry = instant(credential.getExpireTime());
    assertThat(fixture.selectOne(credential)).isEqualTo(1);
    MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);

    stateDb.blackhole();
    Instant cut = Instant.now();
    try {
      await("the replica fencing itself")
          .atMost(Duration.ofSeconds(10))
          .until(() -> meters.get("credbroker.cluster.fenced").gauge().value() >= 1);
      // The outage lasts two TTLs past the lease's expiry as issued (and its renewal before it).
      Instant end = firstExpiry.plus(TTL.multipliedBy(2));
      await("the end of the outage")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> Instant.now().isAfter(end));

      // Still cut off: the role logs in with the password issued before the outage, Vault holds
      // the lease, and PostgreSQL's VALID UNTIL moved with the renewals.
      assertThat(fixture.selectOne(credential)).isEqualTo(1);
      Instant vaultExpiry = vaultExpiry(leaseId);
      assertThat(vaultExpiry).isAfter(Instant.now());
      assertThat(fixture.validUntil(credential.getUsername())).isAfter(Instant.now());
      assertThat(fencedRenewals(meters, "renewed")).isGreaterThanOrEqualTo(2);
      assertThat(fencedRenewals(meters, "refused")).isZero();
      assertThat(stateDb.mode()).isEqualTo(TcpProxy.Mode.BLACKHOLE);
      assertThat(Duration.between(cut, Instant.now())).isGreaterThan(TTL.multipliedBy(2));
    } finally {
      stateDb.pass();
    }

    await("the replica serving again")
        .atMost(Duration.ofSeconds(20))
        .until(() -> meters.get("credbroker.cluster.fenced").gauge().value() == 0);
    Instant back = Instant.now();
    // The row catches up with Vault: recorded, not revoked as expired by its old expiry.
    AtomicReference<CredentialRecord> row = new AtomicReference<>();
    await("the credential's row recording what Vault granted")
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              row.set(fixture.record(credential.getCredentialId()));
              assertThat(row.get().expireTime()).isAfter(back);
            });
    assertThat(row.get().state()).isEqualTo(CredentialState.ACTIVE);
    assertThat(queuedRevocations(id)).isZero();
    assertThat(
            meters.find("credbroker.lease.revocations").counters().stream()
                .mapToDouble(Counter::count)
                .sum())
        .isZero();
    assertThat(fixture.roleExists(credential.getUsername())).isTrue();
    assertThat(fixture.selectOne(credential)).isEqualTo(1);

    stream.close();
    // Released as its pod would, through the broker's own service: the gRPC server the fence
    // stopped listens on another ephemeral port now.
    fixture
        .broker
        .getBean(LeaseService.class)
        .revoke(id, io.credbroker.broker.lease.RevocationTrigger.RELEASE);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !fixture.roleExists(credential.getUsername()));
  }

  // ---- helpers ----

  private static double fencedRenewals(MeterRegistry meters, String outcome) {
    return meters.get("credbroker.lease.fenced.renewals").tag("outcome", outcome).counter().count();
  }

  private static EventStream watch(String token) {
    return EventStream.open(
        fixture.channel,
        token,
        WatchCredentialRequest.newBuilder().setDatabaseRole(SHORT_ROLE).build());
  }

  private static String podToken(String pod) {
    fixture.devStack.kubernetes().createPod("public", pod, "application");
    return fixture
        .devStack
        .kubernetes()
        .issueToken("public", "application", pod, List.of(AUDIENCE), Duration.ofMinutes(10));
  }

  /** When Vault's lease runs out, as Vault itself says (root token: the test's own view). */
  private static Instant vaultExpiry(String leaseId) {
    DevStack devStack = fixture.devStack;
    VaultTemplate vault =
        new VaultTemplate(
            VaultEndpoint.from(URI.create(devStack.vaultAddress())),
            new TokenAuthentication(devStack.vaultRootToken()));
    VaultResponse lookup = vault.write("sys/leases/lookup", Map.of("lease_id", leaseId));
    assertThat(lookup).isNotNull();
    return java.time.OffsetDateTime.parse(
            String.valueOf(lookup.getRequiredData().get("expire_time")))
        .toInstant();
  }

  /** Live rows of the revocation queue for the credential, read past the broker's proxy. */
  private static long queuedRevocations(UUID id) throws SQLException {
    try (Connection db = fixture.devStack.postgres().connect("credbroker");
        PreparedStatement query =
            db.prepareStatement("SELECT count(*) FROM revocation_retry WHERE credential_id = ?")) {
      query.setObject(1, id);
      try (ResultSet rs = query.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private static Instant instant(Timestamp timestamp) {
    return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
  }
}
