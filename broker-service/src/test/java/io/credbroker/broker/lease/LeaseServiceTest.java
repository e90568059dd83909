package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.vault.DatabaseSecret;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.springframework.dao.DataAccessResourceFailureException;

class LeaseServiceTest {

  private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");
  private static final Binding DB1 =
      new Binding(
          "db1",
          "database",
          "db1-role",
          Set.of("public"),
          Set.of("application"),
          new ConnectionHints("127.0.0.1", 5432, "db1", "disable"));
  private static final DatabaseSecret SECRET =
      new DatabaseSecret(
          "database/creds/db1-role/abc", "v-k-db1-abc", "Pa55-word-xyz", Duration.ofSeconds(60), true);

  private final VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
  private final CredentialStore store = mock(CredentialStore.class);
  private final LeaseService leases =
      new LeaseService(
          vault,
          store,
          mock(RevocationRetryQueue.class),
          new ReplicaId("replica-a"),
          Clock.fixed(NOW, ZoneOffset.UTC),
          new LeaseMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()),
          Duration.ofSeconds(5));

  @Test
  void issuedCredentialIsRecordedWithItsLeasePodAndOwnerButNoPassword() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.STREAM, null);

    ArgumentCaptor<CredentialRecord> recorded = ArgumentCaptor.forClass(CredentialRecord.class);
    verify(store).insert(recorded.capture());
    CredentialRecord record = recorded.getValue();
    assertThat(record).isEqualTo(issued.record());
    assertThat(record.leaseId()).isEqualTo("database/creds/db1-role/abc");
    assertThat(record.username()).isEqualTo("v-k-db1-abc");
    assertThat(record.owner()).isEqualTo(POD);
    assertThat(record.ownerReplica()).isEqualTo("replica-a");
    assertThat(record.state()).isEqualTo(CredentialState.ACTIVE);
    assertThat(record.renewable()).isTrue();
    assertThat(record.issueTime()).isEqualTo(NOW);
    assertThat(record.expireTime()).isEqualTo(NOW.plusSeconds(60));
    assertThat(record.toString()).doesNotContain("Pa55-word-xyz");
    assertThat(issued.password()).isEqualTo("Pa55-word-xyz");
    assertThat(issued.toString()).doesNotContain("Pa55-word-xyz");
    verify(vault, never()).renew(any(), any());
  }

  @Test
  void credentialWithoutStreamIsNotRenewable() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.ONE_SHOT, null);

    assertThat(issued.record().renewable()).isFalse();
    assertThat(issued.record().kind()).isEqualTo(CredentialKind.ONE_SHOT);
  }

  @Test
  void requestedLifetimeIsAppliedByRenewingTheNewLease() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    when(vault.renew("database/creds/db1-role/abc", Duration.ofSeconds(30)))
        .thenReturn(Duration.ofSeconds(30));

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.STREAM, Duration.ofSeconds(30));

    assertThat(issued.record().expireTime()).isEqualTo(NOW.plusSeconds(30));
  }

  @Test
  void leaseThatCannotBeRecordedIsRevokedAgain() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    doThrow(new DataAccessResourceFailureException("connection refused")).when(store).insert(any());

    assertThatThrownBy(() -> leases.issue(POD, DB1, CredentialKind.STREAM, null))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.STATE_STORE_UNAVAILABLE);
              assertThat(e.retryAfter()).isNotNull();
            });
    verify(vault).revoke("database/creds/db1-role/abc");
  }

  @Test
  void leaseWhoseRenewalFailsIsRevokedAndNotRecorded() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    when(vault.renew(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));

    assertThatThrownBy(() -> leases.issue(POD, DB1, CredentialKind.STREAM, Duration.ofSeconds(30)))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
    verify(vault).revoke("database/creds/db1-role/abc");
    verify(store, never()).insert(any());
  }

  @Test
  void vaultFailureLeavesNothingBehind() {
    when(vault.issue("database", "db1-role"))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));

    assertThatThrownBy(() -> leases.issue(POD, DB1, CredentialKind.STREAM, null))
        .isInstanceOf(BrokerException.class);
    verify(store, never()).insert(any());
    verify(vault, never()).revoke(any());
  }
}
