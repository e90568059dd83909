package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.clearInvocations;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.CredentialStore.Renewal;
import io.credbroker.broker.vault.LeaseRenewal;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Renewals while the replica is fenced (its state database unreachable): from memory, in Vault
 * only, at their renewal times; and the first look once it serves again, which records what Vault
 * granted meanwhile instead of taking the row's passed expiry for the lease's.
 */
class FencedRenewalsTest {

  private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  private static final String ME = "replica-a";
  private static final String LEASE = "database/creds/db1/abc";
  private static final Duration TTL = Duration.ofSeconds(30);
  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");

  private final CredentialStore store = mock(CredentialStore.class);
  private final LeaseService leases = mock(LeaseService.class);
  private final RenewalPolicy renewals = mock(RenewalPolicy.class);
  private final VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
  private final CredentialStreams streams = mock(CredentialStreams.class);
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final Clock clock = mock(Clock.class);
  private final OwnedLeases owned = new OwnedLeases();
  private final LeaseKeeper keeper =
      new LeaseKeeper(
          store,
          mock(CredentialQueries.class),
          leases,
          vault,
          mock(RevocationRetryQueue.class),
          new Bindings(List.of(LeaseTestSettings.DB1)),
          streams,
          new ReplicaId(ME),
          clock,
          LeaseTestSettings.lease(),
          new LeaseMetrics(meters),
          DepartedPods.none(),
          PodAdmission.admitAll(),
          owned,
          new ClusterRefusals(clock));

  {
    when(leases.renewals()).thenReturn(renewals);
    when(store.stillHeldAsSeen(any())).thenReturn(true);
    at(0);
  }

  @Test
  void renewalsWhileFencedAreCountedByOutcomeFromTheStart() {
    for (String outcome : List.of("renewed", "capped", "refused", "failed")) {
      assertThat(fencedRenewals(outcome)).isZero();
    }
  }

  @Test
  void dueLeaseIsRenewedInVaultFromMemoryWhileFencedWithoutTouchingTheStateStore() {
    UUID id = notedByALook();
    when(vault.renewLease(LEASE, TTL)).thenReturn(new LeaseRenewal(TTL, false));
    when(renewals.due(NOW.plusSeconds(21), TTL, NOW.plusSeconds(3600)))
        .thenReturn(NOW.plusSeconds(41));
    // Not due yet (at 20 s): Vault hears nothing.
    fencedAt(19);
    verifyNoInteractions(vault);

    // Renewed once at its due time, and not again before the next one (at 41 s).
    fencedAt(21, 21, 40);

    verify(vault, times(1)).renewLease(LEASE, TTL);
    assertThat(fencedRenewals("renewed")).isEqualTo(1);
    // Well past the expiry its row still shows (30 s): Vault granted 30 s from 21 s.
    assertThat(owned.get(id).expireTime()).isEqualTo(NOW.plusSeconds(51));
    assertThat(owned.get(id).renewalDue()).isEqualTo(NOW.plusSeconds(41));
    nothingButVaultRenewalsWhileFenced();
  }

  @Test
  void renewalWhileFencedCountsWhatVaultGrantedFromItsAnswerNotFromBeforeTheRetries() {
    UUID id = notedByALook();
    // Due at 21 s; its first attempts timed out, and Vault answered at 30 s.
    when(vault.renewLease(LEASE, TTL))
        .thenAnswer(
            i -> {
              at(30);
              return new LeaseRenewal(TTL, false);
            });
    when(renewals.due(NOW.plusSeconds(30), TTL, NOW.plusSeconds(3600)))
        .thenReturn(NOW.plusSeconds(50));
    fencedAt(21);

    // Vault counted 30 s from no later than its answer: not from 21 s, which would put the expiry
    // up to nine seconds before Vault's.
    assertThat(owned.get(id).expireTime()).isEqualTo(NOW.plusSeconds(60));
    assertThat(owned.get(id).renewalDue()).isEqualTo(NOW.plusSeconds(50));
  }

  @Test
  void renewalVaultRefusesWhileFencedDropsTheLeaseAndRevokesNothing() {
    UUID id = notedByALook();
    when(vault.renewLease(LEASE, TTL))
        .thenThrow(new BrokerException(Reason.VAULT_REJECTED, "lease not found"));
    fencedAt(21, 29);

    verify(vault, times(1)).renewLease(LEASE, TTL);
    verify(vault, never()).revoke(any());
    assertThat(owned.get(id)).isNull();
    assertThat(fencedRenewals("refused")).isEqualTo(1);
    nothingButVaultRenewalsWhileFenced();
  }

  @Test
  void renewalThatCannotReachVaultWhileFencedIsTriedAgainBeforeTheLeaseRunsOut() {
    UUID id = notedByALook();
    when(vault.renewLease(LEASE, TTL))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));
    fencedAt(21);

    OwnedLeases.Lease lease = owned.get(id);
    // Within a third of the 9 s left, so that several attempts fit before the lease runs out.
    assertThat(lease.renewalDue())
        .isAfter(NOW.plusSeconds(21))
        .isBeforeOrEqualTo(NOW.plusSeconds(24));
    assertThat(lease.failures()).isEqualTo(1);
    assertThat(fencedRenewals("failed")).isEqualTo(1);
    nothingButVaultRenewalsWhileFenced();
  }

  @Test
  void leaseVaultCappedWhileFencedIsNotRenewedAgain() {
    UUID id = notedByALook();
    when(vault.renewLease(LEASE, TTL)).thenReturn(new LeaseRenewal(Duration.ofSeconds(10), true));
    fencedAt(21, 29);

    verify(vault, times(1)).renewLease(LEASE, TTL);
    assertThat(owned.get(id).renewalDue()).isNull();
    assertThat(owned.get(id).expireTime()).isEqualTo(NOW.plusSeconds(31));
    assertThat(fencedRenewals("capped")).isEqualTo(1);
  }

  @Test
  void nothingIsRenewedFromMemoryOnceTheReplicaServesAgain() {
    notedByALook();
    keeper.fenced(true);
    keeper.fenced(false);

    at(21);
    keeper.renewWhileFenced();

    verifyNoInteractions(vault);
  }

  @Test
  void firstLookOnceServingRecordsWhatVaultGrantedWhileFencedRatherThanRevokingTheExpiredRow() {
    UUID id = notedByALook();
    LeaseEntry beforeTheOutage = store.findEntry(id).orElseThrow();
    when(vault.renewLease(LEASE, TTL)).thenReturn(new LeaseRenewal(TTL, false));
    when(renewals.due(NOW.plusSeconds(21), TTL, NOW.plusSeconds(3600)))
        .thenReturn(NOW.plusSeconds(41));
    fencedAt(21);

    // Back at 35 s: by its row (expiry 30 s, no stream: the fence ended it) the lease ran out.
    at(35);
    keeper.fenced(false);
    LeaseEntry recorded = entry(id, NOW.plusSeconds(51), NOW.plusSeconds(41), NOW.plusSeconds(41));
    when(store.findEntry(id)).thenReturn(Optional.of(beforeTheOutage), Optional.of(recorded));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    clearInvocations(vault);

    Instant next = keeper.tend(id);

    verify(store)
        .recordRenewal(
            id,
            ME,
            new Renewal(
                NOW.plusSeconds(21),
                NOW.plusSeconds(51),
                null,
                NOW.plusSeconds(41),
                NOW.plusSeconds(41)));
    assertThat(next).isEqualTo(NOW.plusSeconds(41));
    verify(leases, never()).revokeAsOwner(any(), any());
    verify(leases, never()).revoke(any(), any());
    // Vault granted it until 51 s: nothing to ask Vault before the next renewal at 41 s.
    verifyNoInteractions(vault);
    // Recorded: from now on it is renewed as the row says.
    assertThat(owned.get(id).renewedWhileFenced()).isNull();
  }

  /**
   * A stream credential of this replica, renewed at 20 s, expiring at 30 s, that the scheduler
   * looked at before it was due (so it noted it): the row as the store reports it from then on.
   */
  private UUID notedByALook() {
    UUID id = UUID.randomUUID();
    LeaseEntry entry = entry(id, NOW.plusSeconds(30), NOW.plusSeconds(20), NOW.plusSeconds(20));
    when(store.findEntry(id)).thenReturn(Optional.of(entry));
    assertThat(keeper.tend(id)).isEqualTo(NOW.plusSeconds(20));
    assertThat(owned.get(id)).isNotNull();
    clearInvocations(store, streams, leases);
    return id;
  }

  private void nothingButVaultRenewalsWhileFenced() {
    verifyNoInteractions(store, streams);
    verify(leases, never()).revoke(any(), any());
    verify(leases, never()).revokeAsOwner(any(), any());
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
    verify(vault, never()).revoke(any());
  }

  /** Fences the replica, then runs its renewals while fenced at each of {@code seconds}. */
  private void fencedAt(long... seconds) {
    keeper.fenced(true);
    for (long second : seconds) {
      at(second);
      keeper.renewWhileFenced();
    }
  }

  private void at(long seconds) {
    when(clock.instant()).thenReturn(NOW.plusSeconds(seconds));
  }

  private double fencedRenewals(String outcome) {
    return meters.counter("credbroker.lease.fenced.renewals", "outcome", outcome).count();
  }

  private static LeaseEntry entry(UUID id, Instant expire, Instant renewalDue, Instant next) {
    CredentialRecord record =
        CredentialRecord.builder()
            .id(id)
            .databaseRole("db1")
            .vaultMount("database")
            .vaultRole("db1")
            .leaseId(LEASE)
            .username("v-app-abc")
            .owner(POD)
            .kind(CredentialKind.STREAM)
            .state(CredentialState.ACTIVE)
            .renewable(true)
            .ownerReplica(ME)
            .issueTime(NOW.minusSeconds(10))
            .expireTime(expire)
            .maxExpireTime(NOW.plusSeconds(3600))
            .build();
    return new LeaseEntry(
        record, TTL, renewalDue, next, UUID.randomUUID(), null, null, 0, false, false);
  }
}
