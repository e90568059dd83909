package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.vault.DatabaseSecret;
import io.credbroker.broker.vault.LeaseRenewal;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.slf4j.LoggerFactory;
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
          "database/creds/db1-role/abc",
          "v-k-db1-abc",
          "Pa55-word-xyz",
          Duration.ofSeconds(60),
          true,
          NOW.plus(Duration.ofDays(2)));

  private final VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
  private final CredentialStore store = mock(CredentialStore.class);
  private final CredentialQueries credentials = mock(CredentialQueries.class);
  private final RevocationRetryQueue retryQueue = mock(RevocationRetryQueue.class);
  private final LeaseService leases =
      new LeaseService(
          vault,
          store,
          credentials,
          retryQueue,
          new ReplicaId("replica-a"),
          Clock.fixed(NOW, ZoneOffset.UTC),
          new LeaseMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()),
          LeaseTestSettings.lease(),
          LeaseTestSettings.releaseRevocations());

  @Test
  void issuedCredentialIsRecordedWithItsLeasePodAndOwnerButNoPassword() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    stubMaxTtl(Duration.ofSeconds(300));

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.STREAM, null);

    ArgumentCaptor<CredentialRecord> recorded = ArgumentCaptor.forClass(CredentialRecord.class);
    verify(store).insert(recorded.capture(), any(), any(), any(), any());
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
    stubMaxTtl(Duration.ofSeconds(300));
    when(vault.renewLease("database/creds/db1-role/abc", Duration.ofSeconds(30)))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(30), false));

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.STREAM, Duration.ofSeconds(30));

    assertThat(issued.record().expireTime()).isEqualTo(NOW.plusSeconds(30));
    // Vault's cap, counted conservatively (a second early).
    assertThat(issued.record().maxExpireTime()).isEqualTo(NOW.plusSeconds(299));
  }

  @Test
  void credentialWhoseTokenDiesBeforeTheMaxTtlIsLimitedByTheTokenMinusTheMargin() {
    // The issuing token dies in 10 min; Vault's max TTL (1 h) would allow more.
    when(vault.issue("database", "db1-role"))
        .thenReturn(
            new DatabaseSecret(
                SECRET.leaseId(),
                SECRET.username(),
                SECRET.password(),
                Duration.ofSeconds(60),
                true,
                NOW.plus(Duration.ofMinutes(10))));
    stubMaxTtl(Duration.ofHours(1));

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.STREAM, null);

    assertThat(issued.record().tokenExpireTime()).isEqualTo(NOW.plus(Duration.ofMinutes(10)));
    // Renewals stop the 5 min margin before the token dies; the next renewal there rotates it.
    assertThat(issued.record().maxExpireTime()).isEqualTo(NOW.plus(Duration.ofMinutes(5)));
    assertThat(issued.record().expireTime()).isEqualTo(NOW.plusSeconds(60));
  }

  @Test
  void oneShotCredentialNeverOutlivesTheTokenThatCreatedIt() {
    when(vault.issue("database", "db1-role"))
        .thenReturn(
            new DatabaseSecret(
                SECRET.leaseId(),
                SECRET.username(),
                SECRET.password(),
                Duration.ofSeconds(60),
                true,
                NOW.plusSeconds(45)));

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.ONE_SHOT, null);

    assertThat(issued.record().expireTime()).isEqualTo(NOW.plusSeconds(45));
    assertThat(issued.record().maxExpireTime()).isEqualTo(NOW.plusSeconds(45));
  }

  @Test
  void issuingTokensTooShortToCoverTheRotationMarginAreReportedAtStartUp() {
    // Half of 10 min, less the 5 min margin, leaves nothing to renew in.
    when(vault.issuingTokenLifetime()).thenReturn(Duration.ofMinutes(10));
    assertThat(leases.checkIssuingTokenLifetime()).isFalse();

    when(vault.issuingTokenLifetime()).thenReturn(Duration.ofHours(48));
    assertThat(leases.checkIssuingTokenLifetime()).isTrue();

    when(vault.issuingTokenLifetime())
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));
    assertThat(leases.checkIssuingTokenLifetime()).isFalse();
  }

  @Test
  void leaseThatCannotBeRecordedIsRevokedAgain() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    stubMaxTtl(Duration.ofSeconds(300));
    doThrow(new DataAccessResourceFailureException("connection refused"))
        .when(store)
        .insert(any(), any(), any(), any(), any());

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
    when(vault.renewLease(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));

    assertThatThrownBy(() -> leases.issue(POD, DB1, CredentialKind.STREAM, Duration.ofSeconds(30)))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.VAULT_UNAVAILABLE));
    verify(vault).revoke("database/creds/db1-role/abc");
    verify(store, never()).insert(any(), any(), any(), any(), any());
  }

  @Test
  void maxTtlIsReadOncePerVaultRoleAndNoLeaseIsRenewedToLearnIt() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    stubMaxTtl(Duration.ofSeconds(300));

    leases.issue(POD, DB1, CredentialKind.STREAM, null);
    IssuedCredential second = leases.issue(POD, DB1, CredentialKind.STREAM, null);

    verify(vault, times(1)).maxTtl("database", "db1-role");
    // The lease already has the wanted lifetime: nothing renews it at issue.
    verify(vault, never()).renewLease(any(), any());
    assertThat(second.record().expireTime()).isEqualTo(NOW.plusSeconds(60));
    assertThat(second.record().maxExpireTime()).isEqualTo(NOW.plusSeconds(299));
  }

  @Test
  void maxTtlVaultCannotTellLeavesTheTokenAsTheLimitAndIssuingGoesOn() {
    when(vault.issue("database", "db1-role")).thenReturn(SECRET);
    when(vault.maxTtl("database", "db1-role"))
        .thenThrow(new BrokerException(Reason.VAULT_REJECTED, "refused"));

    IssuedCredential issued = leases.issue(POD, DB1, CredentialKind.STREAM, null);

    assertThat(issued.record().maxExpireTime())
        .isEqualTo(SECRET.tokenExpireTime().minus(LeaseTestSettings.lease().tokenExpiryMargin()));
  }

  @Test
  void revocationThatVaultCannotConfirmStaysQueuedAndTheCredentialEnds() {
    CredentialRecord record = activeRecord();
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));
    when(store.endAndQueue(
            eq(record.id()),
            eq(CredentialState.REVOKED),
            eq(RevocationTrigger.ADMIN),
            any(),
            any()))
        .thenReturn(true);
    doThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"))
        .when(vault)
        .revoke(record.leaseId());

    RevocationOutcome outcome = leases.revoke(record.id(), RevocationTrigger.ADMIN);

    assertThat(outcome.revokedInVault()).isFalse();
    assertThat(outcome.username()).isEqualTo(record.username());
    verify(retryQueue).failed(eq(record.id()), any(), eq("VAULT_UNAVAILABLE"));
    verify(retryQueue, never()).confirmed(any());
  }

  @Test
  void revokingAnEndedCredentialAgainChangesNothing() {
    CredentialRecord record = activeRecord();
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));
    when(store.endAndQueue(any(), any(), any(), any(), any())).thenReturn(false);

    RevocationOutcome outcome = leases.revoke(record.id(), RevocationTrigger.RELEASE);

    assertThat(outcome.revokedInVault()).isTrue();
    verify(vault, never()).revoke(any());
  }

  @Test
  void aRevocationByItsOwnerSaysWhetherItsReadingWasCurrentAndEndedTheCredential() {
    CredentialRecord record = activeRecord();
    LeaseEntry seen = readByItsOwner(record);
    // Resumed or claimed since the owner read it: nothing is ended, and Vault is not asked.
    when(store.endAndQueue(eq(record.id()), eq(seen), any(), any(), any(), any()))
        .thenReturn(false);

    assertThat(leases.revokeAsOwner(seen, RevocationTrigger.EXPIRED)).isFalse();
    verify(vault, never()).revoke(any());

    // Still held as read: ended, and revoked in Vault.
    when(store.endAndQueue(eq(record.id()), eq(seen), any(), any(), any(), any())).thenReturn(true);

    assertThat(leases.revokeAsOwner(seen, RevocationTrigger.EXPIRED)).isTrue();
    verify(vault).revoke(record.leaseId());
  }

  @Test
  void aRevocationWhoseQueueEntryCannotBeUpdatedStillSaysItEndedTheCredential() {
    CredentialRecord record = activeRecord();
    LeaseEntry seen = readByItsOwner(record);
    when(store.endAndQueue(eq(record.id()), eq(seen), any(), any(), any(), any())).thenReturn(true);
    // Vault revoked it; the state database fails as the queue entry is confirmed.
    doThrow(new DataAccessResourceFailureException("connection refused"))
        .when(retryQueue)
        .confirmed(record.id());

    // Ended, and said so: the keeper then tells a stream that holds it.
    assertThat(leases.revokeAsOwner(seen, RevocationTrigger.EXPIRED)).isTrue();
    verify(vault).revoke(record.leaseId());
  }

  @Test
  void releaseEndsTheCredentialInOneStatementAndReadsOnlyTheOneItReplaced() {
    CredentialRecord draining = activeRecord();
    UUID released = UUID.randomUUID();
    when(store.endOwnedAndQueue(
            eq(released),
            eq("uid-1"),
            eq(CredentialState.RELEASED),
            eq(RevocationTrigger.RELEASE),
            eq(NOW),
            eq(NOW.plusSeconds(30))))
        .thenReturn(
            Optional.of(
                new CredentialStore.EndedCredential(
                    released, "database/creds/db1-role/def", "v-k-db1-def", draining.id(), false)));
    when(credentials.findById(draining.id())).thenReturn(Optional.of(draining));
    when(store.endAndQueue(any(), eq(CredentialState.RELEASED), any(), any(), any()))
        .thenReturn(true);

    leases.release(POD, released);

    verify(store)
        .endAndQueue(
            eq(draining.id()),
            eq(CredentialState.RELEASED),
            eq(RevocationTrigger.RELEASE),
            any(),
            any());
    verify(vault).revoke("database/creds/db1-role/def");
    verify(vault).revoke("database/creds/db1-role/abc");
    verify(retryQueue).confirmed(released);
    verify(retryQueue).confirmed(draining.id());
    // The released credential is not read: the statement that ended it returned its lease and
    // user. The one it replaced is read once, and revoked as read.
    verify(credentials, never()).findById(released);
    verify(credentials, times(1)).findById(draining.id());
    // Not replaced by a rotation: no replacement to look for.
    verify(credentials, never()).findLiveReplacements(any(), any());
  }

  @Test
  void releasingACredentialARotationReplacedAlsoEndsItsReplacement() {
    // The pod lets go of its credential just as a rotation replaced it: the replacement, on its
    // way to the pod's stream, is never taken. Before, it lived on until the stream's grace ran
    // out.
    UUID released = UUID.randomUUID();
    CredentialRecord replacement = activeRecord();
    when(store.endOwnedAndQueue(eq(released), eq("uid-1"), any(), any(), any(), any()))
        .thenReturn(
            Optional.of(
                new CredentialStore.EndedCredential(
                    released, "database/creds/db1-role/def", "v-k-db1-def", null, true)));
    when(credentials.findLiveReplacements(released, "uid-1")).thenReturn(List.of(replacement));
    when(store.endAndQueue(eq(replacement.id()), eq(CredentialState.RELEASED), any(), any(), any()))
        .thenReturn(true);

    assertThat(leases.release(POD, released)).containsExactly(released, replacement.id());

    verify(vault).revoke("database/creds/db1-role/def");
    verify(vault).revoke(replacement.leaseId());
    verify(retryQueue).confirmed(replacement.id());
  }

  @Test
  void releasingACredentialThatEndedAlreadyChangesNothingAndAnotherPodsIsNotFound() {
    CredentialRecord record = endedRecord(CredentialState.RELEASED, null);
    when(store.endOwnedAndQueue(any(), any(), any(), any(), any(), any()))
        .thenReturn(Optional.empty());
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));

    leases.release(POD, record.id());

    verify(vault, never()).revoke(any());
    verify(retryQueue, never()).confirmed(any());
    assertThatThrownBy(() -> leases.release(POD, UUID.randomUUID()))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.CREDENTIAL_NOT_FOUND));
  }

  @Test
  void aReleaseVaultConfirmedIsNoInfoLineButEveryOtherEndingIs() {
    CredentialRecord record = activeRecord();
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));
    when(store.endAndQueue(any(), any(), any(), any(), any())).thenReturn(true);
    when(store.endOwnedAndQueue(any(), any(), any(), any(), any(), any()))
        .thenReturn(
            Optional.of(
                new CredentialStore.EndedCredential(
                    record.id(), record.leaseId(), record.username(), null, false)));
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Logger logger = (Logger) LoggerFactory.getLogger(LeaseService.class);
    logger.addAppender(logs);
    try {
      leases.release(POD, record.id());
      assertThat(logs.list).noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.INFO));

      leases.revoke(record.id(), RevocationTrigger.ADMIN);
      assertThat(logs.list)
          .filteredOn(e -> e.getLevel() == Level.INFO)
          .singleElement()
          .satisfies(e -> assertThat(e.getFormattedMessage()).contains("v-k-db1-abc", "admin"));

      logs.list.clear();
      doThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"))
          .when(vault)
          .revoke(record.leaseId());
      leases.release(POD, record.id());
      assertThat(logs.list)
          .filteredOn(e -> e.getLevel() == Level.INFO)
          .singleElement()
          .satisfies(
              e -> assertThat(e.getFormattedMessage()).contains("release", "waits for Vault"));
    } finally {
      logger.detachAppender(logs);
    }
  }

  @Test
  void anotherPodsCredentialCannotBeResumedReleasedOrAcknowledged() {
    CredentialRecord record = activeRecord();
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));
    PodIdentity otherPod = new PodIdentity("public", "application", "app-2", "uid-2");

    assertThatThrownBy(() -> leases.resume(otherPod, DB1, record.id(), UUID.randomUUID()))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.CREDENTIAL_OF_ANOTHER_POD));
    assertThatThrownBy(() -> leases.release(otherPod, record.id()))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.CREDENTIAL_NOT_FOUND));
    assertThatThrownBy(() -> leases.acknowledge(otherPod, record.id()))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.CREDENTIAL_NOT_FOUND));
    verify(store, never()).attach(any(), any(), any(), any(), any());
    verify(store, never()).endAndQueue(any(), any(), any(), any(), any());
    verify(vault, never()).revoke(any());
  }

  @Test
  void acknowledgingACredentialThatReplacedNothingIsRefused() {
    CredentialRecord record = activeRecord();
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));

    assertThatThrownBy(() -> leases.acknowledge(POD, record.id()))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_A_ROTATION));
  }

  @Test
  void acknowledgingAReplacementThatHasEndedIsRefusedAndLeavesTheCredentialItReplaced() {
    // The stream closed as the rotation was handed to it: the replacement was revoked, and the
    // credential it replaced kept; the client had switched to the replacement all the same.
    UUID replaced = UUID.randomUUID();
    CredentialRecord replacement = endedRecord(CredentialState.REVOKED, replaced);
    when(credentials.findById(replacement.id())).thenReturn(Optional.of(replacement));

    assertThatThrownBy(() -> leases.acknowledge(POD, replacement.id()))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.CREDENTIAL_REVOKED));
    verify(store, never()).scheduleReplacedRevocation(any(), any());
  }

  /** {@code record} on a stream of its owner, as the owner's keeper read it. */
  private LeaseEntry readByItsOwner(CredentialRecord record) {
    when(credentials.findById(record.id())).thenReturn(Optional.of(record));
    return new LeaseEntry(
        record, Duration.ofSeconds(60), NOW, NOW, UUID.randomUUID(), null, null, 0, false, true);
  }

  /** A credential of {@code POD} that has ended in {@code state}. */
  private static CredentialRecord endedRecord(CredentialState state, @Nullable UUID replaces) {
    return CredentialRecord.builder()
        .id(UUID.randomUUID())
        .databaseRole("db1")
        .vaultMount("database")
        .vaultRole("db1-role")
        .leaseId("database/creds/db1-role/abc")
        .username("v-k-db1-abc")
        .owner(POD)
        .kind(CredentialKind.STREAM)
        .state(state)
        .renewable(true)
        .ownerReplica("replica-a")
        .issueTime(NOW)
        .expireTime(NOW.plusSeconds(60))
        .replaces(replaces)
        .build();
  }

  private static CredentialRecord activeRecord() {
    return new CredentialRecord(
        UUID.randomUUID(),
        "db1",
        "database",
        "db1-role",
        "database/creds/db1-role/abc",
        "v-k-db1-abc",
        POD,
        CredentialKind.STREAM,
        CredentialState.ACTIVE,
        true,
        "replica-a",
        NOW,
        NOW.plusSeconds(60));
  }

  private void stubMaxTtl(Duration maxTtl) {
    when(vault.maxTtl("database", "db1-role")).thenReturn(maxTtl);
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
