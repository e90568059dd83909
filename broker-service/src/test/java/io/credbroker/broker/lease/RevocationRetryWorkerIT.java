package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;

import io.credbroker.broker.revocation.StateDatabase;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The revocation queue worked by several replicas at once, on a real state database. */
class RevocationRetryWorkerIT {

  @TempDir static Path workDir;

  private static StateDatabase db;

  @BeforeAll
  static void migrate() {
    db = new StateDatabase(workDir);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @Test
  void twoReplicasWorkingTheQueueAtOnceRevokeEachLeaseOnce() throws Exception {
    // Twenty deferred releases, each revocation taking Vault 50 ms, against a claim of 300 ms:
    // before, one replica claimed all twenty for its pass, its claim ran out after six, and the
    // other replica claimed and revoked the rest a second time.
    Map<String, AtomicInteger> revocations = new ConcurrentHashMap<>();
    VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
    doAnswer(
            call -> {
              revocations
                  .computeIfAbsent(call.getArgument(0), lease -> new AtomicInteger())
                  .incrementAndGet();
              Thread.sleep(50);
              return null;
            })
        .when(vault)
        .revoke(anyString());
    List<String> leases = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      leases.add(queuedRevocation());
    }
    RevocationRetryQueue queue = new RevocationRetryQueue(db.jdbc);
    Duration claim = Duration.ofMillis(300);

    ExecutorService replicas = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> passes = new ArrayList<>();
      for (int replica = 0; replica < 2; replica++) {
        RevocationRetryWorker worker =
            new RevocationRetryWorker(
                queue,
                vault,
                Clock.systemUTC(),
                LeaseTestSettings.lease(),
                new LeaseMetrics(new SimpleMeterRegistry()),
                claim);
        passes.add(
            replicas.submit(
                () -> {
                  while (queue.depth() > 0) {
                    worker.workRetryQueue();
                    Thread.sleep(10);
                  }
                  return null;
                }));
      }
      for (Future<?> pass : passes) {
        pass.get(60, TimeUnit.SECONDS);
      }
    } finally {
      replicas.shutdownNow();
    }

    assertThat(revocations.keySet()).containsExactlyInAnyOrderElementsOf(leases);
    assertThat(revocations).allSatisfy((lease, count) -> assertThat(count).as(lease).hasValue(1));
  }

  /** A released credential whose revocation waits in the queue, due now; its lease id. */
  private static String queuedRevocation() {
    UUID id =
        db.insertCredential(
            "application", "app-1", UUID.randomUUID().toString(), "v-" + UUID.randomUUID(), null);
    String lease = "database/creds/db1/" + id;
    db.jdbc
        .sql(
            "INSERT INTO revocation_retry (credential_id, lease_id, trigger, next_attempt_time)"
                + " VALUES (:id, :lease, 'RELEASE', :now)")
        .param("id", id)
        .param("lease", lease)
        .param("now", OffsetDateTime.now(ZoneOffset.UTC).minusSeconds(1))
        .update();
    return lease;
  }
}
