package io.credbroker.broker.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyList;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.LeaseService;
import io.credbroker.broker.lease.RevocationOutcome;
import io.credbroker.broker.lease.RevocationTrigger;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.CannotGetJdbcConnectionException;
import org.springframework.transaction.support.TransactionCallback;
import org.springframework.transaction.support.TransactionTemplate;

/** What a pod's revocation answers when the state database fails half-way. */
class RevocationServiceTest {

  private final RevocationStore store = mock(RevocationStore.class);
  private final LeaseService leases = mock(LeaseService.class);
  private final TransactionTemplate transactions = mock(TransactionTemplate.class);
  private final RevocationService service =
      new RevocationService(
          store,
          leases,
          mock(RevocationNotifications.class),
          transactions,
          new ReplicaId("replica-a"),
          new SimpleMeterRegistry());

  @Test
  void aRevocationThatFailsHalfWayAnswersItsOwnFailureWhenItsAuditRecordFailsToo() {
    UUID revoked = UUID.randomUUID();
    UUID failed = UUID.randomUUID();
    when(transactions.execute(any()))
        .thenAnswer(
            invocation -> invocation.<TransactionCallback<?>>getArgument(0).doInTransaction(null));
    when(store.podUidsOf("public", "app-1")).thenReturn(List.of("uid-1"));
    when(store.block(eq("uid-1"), anyString(), anyString(), anyString(), anyString()))
        .thenReturn(true);
    when(store.activeCredentialsOf(List.of("uid-1"))).thenReturn(List.of(revoked, failed));
    when(leases.revoke(revoked, RevocationTrigger.ADMIN))
        .thenReturn(new RevocationOutcome(revoked, "v-app-1", true, true));
    when(leases.revoke(failed, RevocationTrigger.ADMIN))
        .thenThrow(
            new BrokerException(Reason.STATE_STORE_UNAVAILABLE, "the state database is down"));
    when(store.appendAudit(
            anyString(),
            anyString(),
            anyString(),
            anyString(),
            anyList(),
            anyList(),
            anyList(),
            anyString(),
            anyString()))
        .thenThrow(
            new CannotGetJdbcConnectionException("no connection", new SQLException("refused")));

    // Answered 503 with a retry (the call is idempotent), not a 500 from the audit's failure.
    assertThatThrownBy(() -> service.revokePod("public", "app-1", "leaked", "sre"))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.STATE_STORE_UNAVAILABLE));
  }

  @Test
  void aBulkRevocationBlocksEveryPodBeforeItRevokesAnyCredential() {
    CredentialSummary first = credential("app-1", "uid-1");
    CredentialSummary second = credential("app-2", "uid-2");
    when(transactions.execute(any()))
        .thenAnswer(
            invocation -> invocation.<TransactionCallback<?>>getArgument(0).doInTransaction(null));
    when(store.search(any())).thenReturn(List.of(first, second));
    when(store.podUidsOf("public", "app-1")).thenReturn(List.of("uid-1"));
    when(store.podUidsOf("public", "app-2")).thenReturn(List.of("uid-2"));
    Set<String> blocked = ConcurrentHashMap.newKeySet();
    when(store.block(anyString(), anyString(), anyString(), anyString(), anyString()))
        .thenAnswer(invocation -> blocked.add(invocation.getArgument(0)));
    when(store.activeCredentialsOf(List.of("uid-1"))).thenReturn(List.of(first.id()));
    when(store.activeCredentialsOf(List.of("uid-2"))).thenReturn(List.of(second.id()));
    List<Set<String>> blockedAtEachRevocation = new ArrayList<>();
    when(leases.revoke(any(), eq(RevocationTrigger.ADMIN)))
        .thenAnswer(
            invocation -> {
              blockedAtEachRevocation.add(Set.copyOf(blocked));
              UUID id = invocation.getArgument(0);
              return new RevocationOutcome(id, "v-" + id, true, true);
            });

    service.revokeMatching(
        new RevocationSelector("public", "application", null), false, "leaked account", "sre");

    // Revoking the first pod's credentials waits for Vault; the second pod obtains nothing
    // meanwhile.
    assertThat(blockedAtEachRevocation)
        .containsExactly(Set.of("uid-1", "uid-2"), Set.of("uid-1", "uid-2"));
  }

  private static CredentialSummary credential(String podName, String podUid) {
    Instant now = Instant.parse("2026-12-05T12:00:00Z");
    return new CredentialSummary(
        UUID.randomUUID(),
        "db1",
        "v-" + podName,
        "public",
        "application",
        podName,
        podUid,
        "STREAM",
        "ACTIVE",
        "replica-a",
        now,
        now.plusSeconds(60),
        null,
        null,
        null,
        null);
  }
}
