package io.credbroker.broker;

import static io.credbroker.broker.BrokerTestClient.login;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialQuery;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rolling update that takes service account {@code public/application} out of the {@code db1}
 * binding: replicas with the new configuration end that identity's live credentials, wherever they
 * are held, with PERMISSION_DENIED {@code NOT_BOUND} on their streams and the roles dropped after
 * the drain grace. Through the real wire: TLS gRPC, Vault, PostgreSQL, one state database shared by
 * brokers with the old and the new configuration.
 *
 * <p>The fixture's broker runs the new configuration; replicas with the old one (the binding still
 * lists the service account) are started per test.
 */
class BindingChangeIT {

  private static final Duration DRAIN = Duration.ofSeconds(3);

  /** Far longer than the tests wait: a credential revoked by then was not merely abandoned. */
  private static final Duration RECONNECT_GRACE = Duration.ofSeconds(60);

  /** Sweep, poll and tend take well under a second; this bounds them on a busy machine. */
  private static final Duration NOTICE_WITHIN = Duration.ofSeconds(5);

  /** The old configuration: binding 0 ({@code db1}) still lists {@code public/application}. */
  private static final Map<String, Object> OLD_BINDINGS =
      Map.of("credbroker.bindings[0].service-accounts[0]", "application");

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static TestPods pods;

  private final List<EventStream> streams = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    // The new configuration: binding 0 lists another service account instead.
    properties.put("credbroker.bindings[0].service-accounts[0]", "reporting");
    properties.put("credbroker.lease.poll-interval", "200ms");
    properties.put("credbroker.lease.drain-grace", DRAIN.toMillis() + "ms");
    properties.put("credbroker.lease.reconnect-grace", RECONNECT_GRACE.toSeconds() + "s");
    properties.put("credbroker.cluster.heartbeat-interval", "500ms");
    fixture = BrokerFixture.start(workDir, properties, devStack -> {});
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "unbound-");
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
  void replicaWithTheNewBindingsEndsTheStreamAnOldReplicaHoldsAndDropsItsRoleAfterTheDrainGrace()
      throws Exception {
    try (BrokerFixture.Replica old = fixture.startReplica(OLD_BINDINGS)) {
      String pod = pods.create();
      EventStream stream = watch(old, pods.token(pod));
      Credential credential = stream.first().getIssued().getCredential();
      try (var session = login(credential)) {
        assertThat(session.isValid(2)).isTrue();
      }

      Instant rolledOut = Instant.now();
      try (BrokerFixture.Replica updated = fixture.startReplica(Map.of())) {
        await().atMost(NOTICE_WITHIN).until(() -> !stream.open());
        assertEndedNotBound(stream);
        // Still usable while the pod's last connections drain, then dropped.
        assertThat(fixture.record(credential.getCredentialId()).state())
            .isEqualTo(CredentialState.ACTIVE);
        await()
            .atMost(DRAIN.plus(NOTICE_WITHIN))
            .until(() -> !fixture.roleExists(credential.getUsername()));
        CredentialRecord ended = fixture.record(credential.getCredentialId());
        assertThat(ended.state()).isEqualTo(CredentialState.REVOKED);
        assertThat(ended.endReason()).isEqualTo("UNBOUND");
        assertThat(Duration.between(rolledOut, ended.endTime())).isGreaterThanOrEqualTo(DRAIN);
        assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
        // The old replica neither renewed it into a new role nor rotated it.
        assertThat(credentialsOf(pod))
            .singleElement()
            .satisfies(c -> assertThat(c.state()).isEqualTo(CredentialState.REVOKED));

        // A fresh call to the new configuration is refused alike.
        BrokerTestClient.assertRefused(
            () -> new BrokerTestClient(updated.channel).issue(pods.token(pod), "db1"),
            Status.Code.PERMISSION_DENIED,
            "NOT_BOUND");
        assertThat(
                updated
                    .context
                    .getBean(io.micrometer.core.instrument.MeterRegistry.class)
                    .counter("credbroker.credentials.unbound", "role", "db1")
                    .count())
            .isEqualTo(1);
      }
    }
  }

  @Test
  void credentialAnOldReplicaIssuedAfterTheSweepIsEndedByTheNewReplicaThatTakesItOver()
      throws Exception {
    String pod = pods.create();
    Credential credential;
    Instant stopped;
    try (BrokerFixture.Replica old = fixture.startReplica(OLD_BINDINGS)) {
      credential = watch(old, pods.token(pod)).first().getIssued().getCredential();
      stopped = Instant.now();
    }

    // The fixture's broker (new configuration, its sweep long done) claims the stopped replica's
    // credential and, tending it, ends it instead of renewing it through the reconnect grace.
    await()
        .atMost(DRAIN.plus(NOTICE_WITHIN).plus(NOTICE_WITHIN))
        .until(
            () -> fixture.record(credential.getCredentialId()).state() != CredentialState.ACTIVE);
    CredentialRecord ended = fixture.record(credential.getCredentialId());
    assertThat(ended.state()).isEqualTo(CredentialState.REVOKED);
    assertThat(ended.endReason()).isEqualTo("UNBOUND");
    assertThat(Duration.between(stopped, ended.endTime())).isGreaterThanOrEqualTo(DRAIN);
    assertThat(fixture.roleExists(credential.getUsername())).isFalse();
    assertThatThrownBy(() -> login(credential).close()).isInstanceOf(SQLException.class);
  }

  private static void assertEndedNotBound(EventStream stream) {
    assertThat(stream.error.get()).isInstanceOf(StatusRuntimeException.class);
    StatusRuntimeException error = (StatusRuntimeException) stream.error.get();
    assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(error.getStatus().getDescription())
        .isEqualTo("service account public/application is not bound to database role 'db1'");
    assertThat(BrokerTestClient.errorInfo(error).getReason()).isEqualTo("NOT_BOUND");
    assertThat(BrokerTestClient.errorInfo(error).getDomain()).isEqualTo("credbroker.io");
  }

  private static List<CredentialRecord> credentialsOf(String pod) {
    return fixture
        .broker
        .getBean(CredentialQueries.class)
        .search(new CredentialQuery("public", pod, null, null, false, 100));
  }

  private EventStream watch(BrokerFixture.Replica replica, String token) {
    EventStream stream =
        EventStream.open(
            replica.channel,
            token,
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build());
    streams.add(stream);
    return stream;
  }
}
