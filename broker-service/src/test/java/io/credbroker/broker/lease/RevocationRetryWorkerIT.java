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

  @Test
  void confirmationsAreDeletedInBatchesAndNoLongerCountAsWaitingMeanwhile() {
    // Every release confirms one revocation; a delete per confirmation was a statement per
    // release. They are deleted together, and until then no longer count as waiting here.
    RevocationRetryQueue queue = new RevocationRetryQueue(db.jdbc);
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i <= RevocationRetryQueue.CONFIRMATION_BATCH; i++) {
      ids.add(credentialOf(queuedRevocation()));
    }
    long before = rows();

    for (UUID id : ids.subList(0, RevocationRetryQueue.CONFIRMATION_BATCH - 1)) {
      queue.confirmed(id);
    }
    assertThat(rows()).as("no delete before a batch is full").isEqualTo(before);
    assertThat(queue.contains(ids.get(0))).isFalse();
    assertThat(queue.queuedAmong(ids))
        .containsExactlyInAnyOrderElementsOf(
            ids.subList(RevocationRetryQueue.CONFIRMATION_BATCH - 1, ids.size()));

    queue.confirmed(ids.get(RevocationRetryQueue.CONFIRMATION_BATCH - 1));
    assertThat(rows()).as("one delete for the whole batch").isEqualTo(before - ids.size() + 1);
    UUID last = ids.get(ids.size() - 1);
    assertThat(queue.contains(last)).isTrue();

    queue.confirmed(last);
    assertThat(queue.depth()).as("a count of the queue deletes the rest first").isZero();
    assertThat(rows()).isEqualTo(before - ids.size());
  }

  @Test
  void aConfirmationLeftInMemoryIsDeletedAtTheWorkersNextPassOrWhenItStops() {
    RevocationRetryQueue queue = new RevocationRetryQueue(db.jdbc);
    RevocationRetryWorker worker =
        new RevocationRetryWorker(
            queue,
            mock(VaultDatabaseCredentials.class),
            Clock.systemUTC(),
            LeaseTestSettings.lease(),
            new LeaseMetrics(new SimpleMeterRegistry()));
    UUID passed = credentialOf(queuedRevocation());
    UUID stopped = credentialOf(queuedRevocation());
    db.jdbc
        .sql("UPDATE revocation_retry SET next_attempt_time = now() + interval '1 hour'")
        .update();

    queue.confirmed(passed);
    worker.workRetryQueue();
    assertThat(queued(passed)).as("deleted at the worker's pass").isFalse();

    queue.confirmed(stopped);
    assertThat(queued(stopped)).isTrue();
    worker.deleteConfirmed();
    assertThat(queued(stopped)).as("deleted as the replica stops").isFalse();
  }

  private static long rows() {
    return db.jdbc.sql("SELECT count(*) FROM revocation_retry").query(Long.class).single();
  }

  private static boolean queued(UUID credentialId) {
    return db.jdbc
            .sql("SELECT count(*) FROM revocation_retry WHERE credential_id = ?")
            .param(credentialId)
            .query(Long.class)
            .single()
        > 0;
  }

  private static UUID credentialOf(String lease) {
    return UUID.fromString(lease.substring(lease.lastIndexOf('/') + 1));
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
