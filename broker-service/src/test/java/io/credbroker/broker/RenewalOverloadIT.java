package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.RotationReason;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * More renewals due than Vault completes, through the real wire: one lease worker, leases of 5 s,
 * and a Vault stand-in that takes 4 s to answer a renewal (as a Vault whose database connection is
 * busy with a queue of renewals, one at a time). The renewal backlog shows in the gauges while it
 * lasts, and a lease that ran out while its renewal waited is replaced on its stream without the
 * renewal Vault would refuse.
 */
class RenewalOverloadIT {

  /** A Vault role whose leases live 5 s (asked for nothing else, so no renewal at issue). */
  private static final String SHORT_ROLE = "db1short";

  /** How long Vault takes to answer a renewal: below the broker's read timeout (20 s here). */
  private static final Duration RENEWAL_TIME = Duration.ofSeconds(12);

  private static final int STREAMS = 3;

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static TestPods pods;

  @BeforeAll
  static void startBroker() {
    fixture =
        BrokerFixture.startWithShortRole(
            workDir,
            Map.of(
                "credbroker.lease.poll-interval", "200ms",
                "credbroker.lease.workers", 1,
                "spring.cloud.vault.read-timeout", "20000",
                "credbroker.lease.reconnect-grace", "2s",
                "credbroker.lease.drain-grace", "1s"),
            SHORT_ROLE,
            Duration.ofSeconds(5),
            Duration.ofMinutes(5));
    pods = new TestPods(fixture.devStack.kubernetes(), "overload-");
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void backlogShowsInTheGaugesAndALeaseThatRanOutIsReplacedWithoutAskingVault() throws Exception {
    List<EventStream> streams = new ArrayList<>();
    Map<String, String> credentialOfLease = new LinkedHashMap<>();
    Set<String> renewalsAsked = ConcurrentHashMap.newKeySet();
    MeterRegistry meters = fixture.broker.getBean(MeterRegistry.class);
    try {
      fixture
          .devStack
          .vaultFaults()
          .delay(
              request -> {
                boolean renewal = request.path().contains("sys/leases/renew");
                if (renewal) {
                  // The lease id is in the body (sys/leases/renew) or the path (.../renew/<id>).
                  renewalsAsked.add(request.path() + " " + request.bodyText());
                }
                return renewal;
              },
              RENEWAL_TIME);
      for (int i = 0; i < STREAMS; i++) {
        EventStream stream =
            EventStream.open(
                fixture.channel, pods.token(pods.create()), EventStream.request(SHORT_ROLE, null));
        streams.add(stream);
        Credential credential = stream.first().getIssued().getCredential();
        credentialOfLease.put(
            fixture.record(credential.getCredentialId()).leaseId(), credential.getCredentialId());
      }

      // The first renewal due holds the one worker for 12 s: the others wait, overdue.
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () ->
                  meters.get("credbroker.lease.renewals.overdue").gauge().value() >= 2
                      && meters.get("credbroker.lease.renewal.lag").gauge().value() >= 1.0);

      // Every credential is replaced once its lease ran out: the first after Vault refused its
      // renewal (it arrived too late), the others without asking Vault.
      for (EventStream stream : streams) {
        CredentialEvent rotated =
            stream.await(CredentialEvent::hasRotated, 1, Duration.ofSeconds(40));
        assertThat(rotated.getRotated().getReason())
            .isEqualTo(RotationReason.ROTATION_REASON_RENEWAL_REFUSED);
      }
      Set<String> originalsAsked =
          credentialOfLease.keySet().stream()
              .filter(lease -> renewalsAsked.stream().anyMatch(asked -> asked.contains(lease)))
              .collect(Collectors.toSet());
      assertThat(originalsAsked).hasSize(1);
      assertThat(meters.counter("credbroker.lease.renewals", "outcome", "expired").count())
          .isGreaterThanOrEqualTo(STREAMS - 1);
    } finally {
      fixture.devStack.vaultFaults().clear();
      streams.forEach(EventStream::close);
    }
    OrphanCheck.assertNoOrphans(
        fixture.devStack.postgres(), "db1", "credbroker", Duration.ofSeconds(30));
  }
}
