package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
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
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.DelayQueue;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mockito.ArgumentCaptor;
import org.springframework.dao.DataAccessResourceFailureException;

/** The decisions the scheduler takes for one due credential, on a fixed clock. */
class LeaseKeeperTest {

  private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  private static final String ME = "replica-a";
  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");
  private static final Binding DB1 = LeaseTestSettings.DB1;

  private final CredentialStore store = mock(CredentialStore.class);
  private final CredentialQueries credentials = mock(CredentialQueries.class);
  private final LeaseService leases = mock(LeaseService.class);
  private final RenewalPolicy renewals = mock(RenewalPolicy.class);
  private final VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
  private final CredentialStreams streams = mock(CredentialStreams.class);
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  /** The pod UIDs operators blocked. */
  private final Set<String> blockedPods = ConcurrentHashMap.newKeySet();

  private final LeaseKeeper keeper = keeperWith(new Bindings(List.of(DB1)));

  {
    // Unless a test says otherwise, nobody took the credential since the keeper read it.
    when(store.stillHeldAsSeen(any())).thenReturn(true);
    when(leases.renewals()).thenReturn(renewals);
  }

  @Test
  void gaugesReadInfinityRatherThanNaNWhileThereIsNothingToExpireAndAlertedOutcomesStartAtZero() {
    assertThat(meters.get("credbroker.lease.earliest.unrenewed.expiry").gauge().value())
        .isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(meters.get("credbroker.lease.earliest.token.expiry").gauge().value())
        .isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(meters.get("credbroker.revocation.retry.oldest.age").gauge().value()).isZero();
    assertThat(meters.getMeters())
        .filteredOn(meter -> meter instanceof io.micrometer.core.instrument.Gauge)
        .allSatisfy(
            gauge -> assertThat(((io.micrometer.core.instrument.Gauge) gauge).value()).isNotNaN());
    for (String outcome : List.of("renewed", "capped", "refused", "failed", "expired")) {
      assertThat(meters.get("credbroker.lease.renewals").tag("outcome", outcome).counter().count())
          .isZero();
    }
    assertThat(
            meters
                .get("credbroker.lease.revocation.retries")
                .tag("outcome", "failed")
                .counter()
                .count())
        .isZero();
  }

  @Test
  void dueRenewalExtendsTheLeaseAndTellsTheStream() {
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    when(vault.renewLease("database/creds/db1/abc", Duration.ofSeconds(60)))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    Instant nextRenewal = NOW.plusSeconds(40);
    when(renewals.due(NOW, Duration.ofSeconds(60), NOW.plusSeconds(3600))).thenReturn(nextRenewal);
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    Instant next = keeper.tend(entry.id());

    assertThat(next).isEqualTo(nextRenewal);
    verify(store)
        .recordRenewal(
            entry.id(), ME, new Renewal(NOW, NOW.plusSeconds(60), null, nextRenewal, nextRenewal));
    verify(streams).renewed(entry.id(), NOW.plusSeconds(60));
    verify(streams, never()).rotated(any(), any(), any(), any());
    assertThat(meters.counter("credbroker.lease.renewals", "outcome", "renewed").count())
        .isEqualTo(1);
  }

  @Test
  void aRenewalDoesNotRecordOrAnnounceAnExpiryPastTheDeathOfTheTokenThatCreatedTheLease() {
    // A late renewal (Vault was away) 30 s before the issuing token dies: Vault grants 60 s, and
    // revokes the lease with its token all the same.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600), NOW.plusSeconds(30));
    when(vault.renewLease("database/creds/db1/abc", Duration.ofSeconds(60)))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    Instant nextRenewal = NOW.plusSeconds(10);
    when(renewals.due(NOW, Duration.ofSeconds(60), NOW.plusSeconds(3600))).thenReturn(nextRenewal);
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    keeper.tend(entry.id());

    verify(store)
        .recordRenewal(
            entry.id(), ME, new Renewal(NOW, NOW.plusSeconds(30), null, nextRenewal, nextRenewal));
    verify(streams).renewed(entry.id(), NOW.plusSeconds(30));
  }

  @Test
  void renewalIsRecordedFromVaultsAnswerNotFromTheLooksStart() {
    // The look began at NOW; the renewal's first attempts timed out, and Vault answered 9 s later,
    // granting 60 s from when it handled it. Recorded from NOW, the row would run out up to 9 s
    // before the lease, and a credential known expired is rotated and revoked under its pod.
    Clock clock = mock(Clock.class);
    when(clock.instant()).thenReturn(NOW);
    LeaseKeeper timed =
        keeper(
            new Bindings(List.of(DB1)),
            DepartedPods.none(),
            new ClusterRefusals(Clock.fixed(NOW, ZoneOffset.UTC)),
            clock);
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    Instant answered = NOW.plusSeconds(9);
    when(vault.renewLease("database/creds/db1/abc", Duration.ofSeconds(60)))
        .thenAnswer(
            i -> {
              when(clock.instant()).thenReturn(answered);
              return new LeaseRenewal(Duration.ofSeconds(60), false);
            });
    Instant nextRenewal = answered.plusSeconds(40);
    when(renewals.due(answered, Duration.ofSeconds(60), NOW.plusSeconds(3600)))
        .thenReturn(nextRenewal);
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    timed.tend(entry.id());

    verify(store)
        .recordRenewal(
            entry.id(),
            ME,
            new Renewal(answered, answered.plusSeconds(60), null, nextRenewal, nextRenewal));
    verify(streams).renewed(entry.id(), answered.plusSeconds(60));
  }

  @Test
  void credentialOfADeletedPodIsNeitherRenewedNorRotatedAndIsRevokedAfterTheDrainGrace() {
    LeaseKeeper watchingPods =
        keeper(
            new Bindings(List.of(DB1)),
            podUid -> podUid.equals(POD.podUid()),
            new ClusterRefusals(Clock.fixed(NOW, ZoneOffset.UTC)));
    // Due for renewal, 30 s before its max TTL: without the departure it would be rotated.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    Instant drained = NOW.plus(LeaseTestSettings.lease().drainGrace());

    Instant next = watchingPods.tend(entry.id());

    assertThat(next).isEqualTo(drained);
    verify(store).endRenewalsOfPod(POD.podUid(), drained);
    // Nothing is due before the revocation: not loaded again at every poll until then.
    verify(store).reschedule(entry.id(), ME, null, drained);
    ArgumentCaptor<BrokerException> why = ArgumentCaptor.forClass(BrokerException.class);
    verify(streams).end(eq(entry.id()), why.capture());
    assertThat(why.getValue().reason()).isEqualTo(Reason.POD_DELETED);
    verifyNoInteractions(vault);
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
    verify(streams, never()).rotated(any(), any(), any(), any());
  }

  @Test
  void credentialOfABlockedPodThatItsRevocationLeftIsRevokedAtItsLookNotRenewed() {
    // The operator's revocation blocked the pod, then failed before it ended this credential.
    blockedPods.add(POD.podUid());
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    when(leases.revokeAsOwner(any(), any())).thenReturn(true);

    Instant next = keeper.tend(entry.id());

    assertThat(next).isNull();
    verify(leases).revokeAsOwner(any(), eq(RevocationTrigger.ADMIN));
    verify(vault, never()).renewLease(any(), any());
    verify(store, never()).recordRenewal(any(), any(), any());
  }

  @Test
  void credentialWhoseIdentityNoBindingAllowsIsNeitherRenewedNorRotatedAndItsStreamEndsNotBound() {
    Binding otherAccount =
        new Binding(
            "db1", "database", "db1", Set.of("public"), Set.of("reporting"), DB1.connection());
    LeaseKeeper reconfigured = keeperWith(new Bindings(List.of(otherAccount)));
    // Due for renewal, 30 s before its max TTL: were it still bound it would be rotated.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    Instant drained = NOW.plus(LeaseTestSettings.lease().drainGrace());
    when(store.endRenewalsUnbound(entry.id(), ME, drained)).thenReturn(Optional.of(drained));

    Instant next = reconfigured.tend(entry.id());

    assertThat(next).isEqualTo(drained);
    ArgumentCaptor<BrokerException> why = ArgumentCaptor.forClass(BrokerException.class);
    verify(streams).end(eq(entry.id()), why.capture());
    assertThat(why.getValue().reason()).isEqualTo(Reason.NOT_BOUND);
    assertThat(why.getValue().getMessage())
        .isEqualTo("service account public/application is not bound to database role 'db1'");
    verifyNoInteractions(vault);
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
    assertThat(meters.counter("credbroker.credentials.unbound", "role", "db1").count())
        .isEqualTo(1);
  }

  @Test
  void credentialWhoseRoleNoBindingNamesAnyMoreIsEndedLikeAnUnboundOne() {
    LeaseKeeper reconfigured = keeperWith(new Bindings(List.of()));
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    Instant drained = NOW.plus(LeaseTestSettings.lease().drainGrace());
    when(store.endRenewalsUnbound(entry.id(), ME, drained)).thenReturn(Optional.of(drained));

    assertThat(reconfigured.tend(entry.id())).isEqualTo(drained);

    verify(streams).end(eq(entry.id()), any());
    verifyNoInteractions(vault);
  }

  @Test
  void credentialAnotherReplicaFoundUnboundIsNotRenewedHereEvenThoughTheseBindingsAllowIt() {
    LeaseEntry held = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    Instant revokeAt = NOW.plusSeconds(5);
    LeaseEntry marked =
        new LeaseEntry(
            held.record(),
            held.leaseTtl(),
            null,
            revokeAt,
            held.streamId(),
            revokeAt,
            RevocationTrigger.UNBOUND,
            0,
            false,
            false);
    when(store.findEntry(held.id())).thenReturn(Optional.of(marked));
    when(store.endRenewalsUnbound(eq(held.id()), eq(ME), any())).thenReturn(Optional.of(revokeAt));

    assertThat(keeper.tend(held.id())).isEqualTo(revokeAt);

    ArgumentCaptor<BrokerException> why = ArgumentCaptor.forClass(BrokerException.class);
    verify(streams).end(eq(held.id()), why.capture());
    assertThat(why.getValue().reason()).isEqualTo(Reason.NOT_BOUND);
    verifyNoInteractions(vault);
    verify(leases, never()).revoke(any(), any());
    verify(leases, never()).revokeAsOwner(any(), any());
    // Counted by the replica that found it unbound, not again here.
    assertThat(meters.find("credbroker.credentials.unbound").counter()).isNull();
  }

  @Test
  void unboundCredentialIsRevokedForThatTriggerWhenItsTimeComes() {
    LeaseEntry held = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    LeaseEntry due =
        new LeaseEntry(
            held.record(),
            held.leaseTtl(),
            null,
            NOW,
            held.streamId(),
            NOW,
            RevocationTrigger.UNBOUND,
            0,
            false,
            false);
    when(store.findEntry(held.id())).thenReturn(Optional.of(due));

    assertThat(keeper.tend(held.id())).isNull();

    verify(leases).revokeAsOwner(due, RevocationTrigger.UNBOUND);
  }

  @Test
  void renewalThatWouldBeCappedByMaxTtlRotatesTheCredentialOnItsStream() {
    // 30 s left until the max TTL: a 60 s renewal cannot extend the lease meaningfully.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = fresh(entry.id());
    when(leases.issue(
            eq(POD),
            eq(DB1),
            eq(CredentialKind.STREAM),
            eq(Duration.ofSeconds(60)),
            eq(entry.streamId()),
            eq(entry.id())))
        .thenReturn(fresh);
    when(store.supersede(entry, NOW.plusSeconds(30), RevocationTrigger.EXPIRED)).thenReturn(true);
    when(streams.rotated(any(), any(), any(), any())).thenReturn(true);

    Instant next = keeper.tend(entry.id());

    // Renewed up to the cap first, so the replaced credential drains as long as possible.
    verify(store)
        .recordRenewal(
            entry.id(),
            ME,
            new Renewal(NOW, NOW.plusSeconds(30), NOW.plusSeconds(30), null, NOW.plusSeconds(30)));
    verify(streams).rotated(entry.id(), fresh, Duration.ofSeconds(30), RotationReason.MAX_TTL);
    assertThat(next).isEqualTo(NOW.plusSeconds(30));
    assertThat(meters.counter("credbroker.lease.rotations", "reason", "max_ttl").count())
        .isEqualTo(1);
  }

  @Test
  void renewalThatLeavesLessThanTheMarginAndOneIntervalBeforeTheMaxTtlRotatesNow() {
    // 90 s before the max TTL, a 60 s lease: Vault grants the full 60 s without capping, but the
    // next renewal (up to 39.6 s later) would leave the rotation less than one lifetime
    // (rotation-margin 1.0). It is rotated now.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(90));
    when(vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(entry);

    keeper.tend(entry.id());

    verify(renewals, never()).due(any(), any(), any());
    verify(store).supersede(entry, NOW.plusSeconds(60), RevocationTrigger.EXPIRED);
    verify(streams).rotated(entry.id(), fresh, Duration.ofSeconds(60), RotationReason.MAX_TTL);
  }

  @Test
  void cappedRenewalRightAfterAResumeHereIsNotTheLastLookBeforeItsStreamIsRegistered() {
    // A resume here attached it to a stream (its row says so) and made it due at once; the keeper
    // looks at it before the resume's call has registered that stream on this replica.
    LeaseEntry resumed = entry(NOW.plusSeconds(20), NOW.plusSeconds(30), null, null);
    when(store.findEntry(resumed.id())).thenReturn(Optional.of(resumed));
    when(streams.holds(resumed.id())).thenReturn(false);
    when(streams.opening(resumed.streamId())).thenReturn(true);
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    Instant next = keeper.tend(resumed.id());

    // Renewed up to the cap, and looked at again shortly rather than at its expiry (30 s on).
    ArgumentCaptor<Renewal> recorded = ArgumentCaptor.forClass(Renewal.class);
    verify(store).recordRenewal(eq(resumed.id()), eq(ME), recorded.capture());
    assertThat(recorded.getValue().expireTime()).isEqualTo(NOW.plusSeconds(30));
    assertThat(recorded.getValue().renewalDue()).isNotNull().isBefore(NOW.plusSeconds(1));
    assertThat(next).isBefore(NOW.plusSeconds(1));
    verify(streams, never()).rotated(any(), any(), any(), any());

    // Its stream is registered by then: that look rotates it on the stream, before it runs out.
    when(streams.holds(resumed.id())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(resumed);

    keeper.tend(resumed.id());

    verify(streams).rotated(resumed.id(), fresh, Duration.ofSeconds(30), RotationReason.MAX_TTL);
  }

  @Test
  void aRowLeftAttachedToAStreamThatEndedIsDetachedAtItsNextLookAndGetsItsGrace() {
    // Its stream ended here, but the detachment could not be written (the state database was out
    // for a moment): the row still names a stream that no call is opening and that holds nothing.
    // Its reconnect grace starts now, as if the stream had just ended; it is not renewed for a
    // stream that will never come back (nor every 200 ms once capped).
    LeaseEntry orphan = entry(NOW.plusSeconds(20), NOW.plusSeconds(30), null, null);
    when(store.findEntry(orphan.id())).thenReturn(Optional.of(orphan));
    when(streams.holds(orphan.id())).thenReturn(false);
    when(streams.opening(orphan.streamId())).thenReturn(false);
    when(store.detachCredential(any(), any(), any(), any(), any())).thenReturn(1);

    Instant next = keeper.tend(orphan.id());

    verify(store)
        .detachCredential(
            orphan.id(),
            orphan.streamId(),
            ME,
            NOW,
            NOW.plus(LeaseTestSettings.lease().reconnectGrace()));
    verify(store, never()).detachStream(any(), any(), any(), any());
    assertThat(next).isEqualTo(NOW);
    verifyNoInteractions(vault);
    verify(streams, never()).rotated(any(), any(), any(), any());
  }

  @Test
  void cappedRenewalRightAfterAResumeWhoseStreamRegisteredMeanwhileRotatesAtOnce() {
    // Its resume's call was still opening the stream when the look began, and had registered it
    // by the time Vault capped the renewal: no need to look again, it is rotated.
    LeaseEntry resumed = entry(NOW.plusSeconds(20), NOW.plusSeconds(30), null, null);
    when(store.findEntry(resumed.id())).thenReturn(Optional.of(resumed));
    when(streams.holds(resumed.id())).thenReturn(false, true);
    when(streams.opening(resumed.streamId())).thenReturn(true, false);
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(resumed);

    keeper.tend(resumed.id());

    verify(streams).rotated(resumed.id(), fresh, Duration.ofSeconds(30), RotationReason.MAX_TTL);
  }

  @Test
  void renewalRefusedRightAfterAResumeHereTellsTheStreamThatRegistersLater() {
    // A resume here attached it to a stream and made it due at once; Vault refuses the renewal
    // before the resume's call has registered that stream here. Revoked as no stream holds it, and
    // its stream, once registered, must end rather than stay open on a role that is gone.
    LeaseEntry resumed = entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), null, null);
    when(store.findEntry(resumed.id())).thenReturn(Optional.of(resumed));
    when(streams.holds(resumed.id())).thenReturn(false);
    when(streams.opening(resumed.streamId())).thenReturn(true);
    when(vault.renewLease(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_REJECTED, "lease not found"));
    when(leases.revokeAsOwner(resumed, RevocationTrigger.EXPIRED)).thenReturn(true);

    assertThat(keeper.tend(resumed.id())).isNull();

    verify(streams).revoked(resumed.id(), RevocationTrigger.EXPIRED);
  }

  @Test
  void aRevocationLeftUndoneOnAStaleReadingTellsNoStream() {
    // The keeper read it, then a resume (here or elsewhere) took it: revoking on that reading does
    // nothing, and the resumed stream must not be told its live credential was revoked.
    LeaseEntry entry =
        entry(NOW.minusSeconds(5), NOW.minusSeconds(1), NOW.minusSeconds(10), null, null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(leases.revokeAsOwner(entry, RevocationTrigger.EXPIRED)).thenReturn(false);

    assertThat(keeper.tend(entry.id())).isNull();

    verify(leases).revokeAsOwner(entry, RevocationTrigger.EXPIRED);
    verify(streams, never()).revoked(any(), any());
  }

  @Test
  void aCredentialRevokedAtItsRevocationTimeTellsWhateverStreamHoldsIt() {
    // Marked to be revoked at a time (replaced, its pod deleted, unbound) and that time came: a
    // stream that registered here after the mark was made (and so was not ended by it) ends now.
    LeaseEntry entry =
        entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), null, NOW.minusSeconds(1), null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(leases.revokeAsOwner(entry, RevocationTrigger.ROTATION)).thenReturn(true);

    assertThat(keeper.tend(entry.id())).isNull();

    verify(streams).revoked(entry.id(), RevocationTrigger.ROTATION);
  }

  @Test
  void aRotationTheStateDatabaseFailsUnderGivesUpTheReplacementAndIsTriedAgainShortly() {
    // At its cap on its stream: rotated. Vault creates the replacement, then the state database
    // fails as the old credential is switched to it.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = fresh(entry.id());
    when(leases.issue(any(), any(), any(), any(), any(), any())).thenReturn(fresh);
    when(store.supersede(any(), any(), any()))
        .thenThrow(new DataAccessResourceFailureException("connection refused"));

    Instant next = keeper.tend(entry.id());

    // Nobody will get the replacement; the old credential is looked at again in a moment rather
    // than at its expiry, when its pod's password would stop working unreplaced. Its row says so:
    // a renewal is due then (the capped renewal had recorded none), so that look rotates it.
    verify(leases).revoke(fresh.record().id(), RevocationTrigger.ABANDONED);
    verify(streams, never()).rotated(any(), any(), any(), any());
    assertThat(next).isNotNull().isBefore(NOW.plusSeconds(1));
    ArgumentCaptor<Instant> retryAt = ArgumentCaptor.forClass(Instant.class);
    verify(store)
        .recordRenewalFailure(
            eq(entry.id()), eq(ME), eq(1), retryAt.capture(), eq(next), anyBoolean());
    assertThat(retryAt.getValue()).isAfter(NOW).isBefore(NOW.plusSeconds(1));
  }

  @Test
  void aRotationThatFailsAfterItsRenewalCountsFromTheFailuresBeforeIt() {
    // Three looks failed to rotate it already; this one renews it (capped), then Vault creates
    // no replacement. The failure is the fourth: the count the look read plus one, whatever the
    // renewal's record did to the stored count, so the retry waits longer than the last.
    LeaseEntry held = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    LeaseEntry entry =
        new LeaseEntry(
            held.record(),
            held.leaseTtl(),
            held.renewalDue(),
            held.nextAction(),
            held.streamId(),
            null,
            null,
            3,
            false,
            false);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    when(leases.issue(any(), any(), any(), any(), any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));

    keeper.tend(entry.id());

    ArgumentCaptor<Instant> retryAt = ArgumentCaptor.forClass(Instant.class);
    verify(store)
        .recordRenewalFailure(
            eq(entry.id()), eq(ME), eq(4), retryAt.capture(), any(), anyBoolean());
    // 200 ms doubled three times, in its upper half.
    assertThat(retryAt.getValue()).isAfterOrEqualTo(NOW.plusMillis(800));
  }

  @Test
  void cappedRenewalOfADetachedCredentialIsItsLast() {
    // Nobody to hand a replacement to: renewals stop at the cap, and a resume makes it due again.
    LeaseEntry detached =
        entry(NOW.plusSeconds(20), NOW.plusSeconds(30), NOW.minusSeconds(5), null);
    when(store.findEntry(detached.id())).thenReturn(Optional.of(detached));
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    Instant next = keeper.tend(detached.id());

    verify(store)
        .recordRenewal(
            detached.id(),
            ME,
            new Renewal(NOW, NOW.plusSeconds(30), NOW.plusSeconds(30), null, NOW.plusSeconds(30)));
    assertThat(next).isEqualTo(NOW.plusSeconds(30));
  }

  @Test
  void renewalCloseToTheDeathOfItsCreatingTokenRotatesForTokenExpiry() {
    // Vault's max TTL is far; the token that created the lease dies in 5 min 40 s, so renewals may
    // reach 40 s from now (the 5 min margin): a 60 s renewal would pass that.
    Instant tokenExpire = NOW.plusSeconds(340);
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(40), tokenExpire);
    when(vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(entry);

    keeper.tend(entry.id());

    verify(leases)
        .issue(
            POD, DB1, CredentialKind.STREAM, Duration.ofSeconds(60), entry.streamId(), entry.id());
    verify(store).supersede(entry, NOW.plusSeconds(60), RevocationTrigger.EXPIRED);
    verify(streams).rotated(entry.id(), fresh, Duration.ofSeconds(60), RotationReason.TOKEN_EXPIRY);
    assertThat(meters.counter("credbroker.lease.rotations", "reason", "token_expiry").count())
        .isEqualTo(1);
  }

  @Test
  void maxTtlBeforeTheTokensDeadlineRotatesForTheMaxTtl() {
    // Vault's max TTL in 30 s; the token that created the lease lives two more days.
    LeaseEntry entry =
        heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30), NOW.plus(Duration.ofDays(2)));
    when(vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(entry);

    keeper.tend(entry.id());

    verify(streams).rotated(entry.id(), fresh, Duration.ofSeconds(60), RotationReason.MAX_TTL);
  }

  @Test
  void rotationWhoseStreamEndedMeanwhileKeepsTheOldCredentialResumableAndRevokesTheNewOne() {
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    IssuedCredential fresh = rotationWhoseStreamEnds(entry);

    Instant next = keeper.tend(entry.id());

    // The pod never saw the replacement: it resumes the old credential, which is rotated there.
    verify(store).restoreSuperseded(entry.id(), ME, NOW);
    verify(leases).revoke(fresh.record().id(), RevocationTrigger.ABANDONED);
    assertThat(next).isEqualTo(NOW);
  }

  @Test
  void aReplacementNobodyGotWhoseRevocationFailsStaysOnItsStreamAndTheRotationGoesOn() {
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(30));
    IssuedCredential fresh = rotationWhoseStreamEnds(entry);
    when(leases.revoke(fresh.record().id(), RevocationTrigger.ABANDONED))
        .thenThrow(new BrokerException(Reason.STATE_STORE_UNAVAILABLE, "state store unavailable"));

    // The stream ended during the rotation and the state database failed to end the replacement:
    // the old credential is still looked at again at once (it is resumable), the replacement is
    // revoked once its stream's grace runs out, as abandon promises.
    assertThat(keeper.tend(entry.id())).isEqualTo(NOW);
    verify(store).restoreSuperseded(entry.id(), ME, NOW);

    // Superseded meanwhile by someone else: nothing escapes either.
    when(store.supersede(any(), any(), any())).thenReturn(false);
    assertThat(keeper.tend(entry.id())).isNull();
    verify(leases, times(2)).revoke(fresh.record().id(), RevocationTrigger.ABANDONED);
  }

  @Test
  void replacedCredentialIsNeverPromisedPastTheDeathOfItsToken() {
    // The token dies in 30 s, before the 60 s Vault would grant: the old credential drains until
    // then.
    Instant tokenExpire = NOW.plusSeconds(30);
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.minusSeconds(270), tokenExpire);
    when(vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(entry);

    keeper.tend(entry.id());

    verify(store).supersede(entry, tokenExpire, RevocationTrigger.EXPIRED);
    verify(streams).rotated(entry.id(), fresh, Duration.ofSeconds(30), RotationReason.TOKEN_EXPIRY);
  }

  @Test
  void renewalVaultRefusesRotatesWithThatReason() {
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    when(vault.renewLease(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_REJECTED, "lease not found"));
    IssuedCredential fresh = rotationSucceeds(entry);

    keeper.tend(entry.id());

    verify(streams)
        .rotated(
            eq(entry.id()),
            eq(fresh),
            eq(Duration.ofSeconds(20)),
            eq(RotationReason.RENEWAL_REFUSED));
    assertThat(meters.counter("credbroker.lease.renewals", "outcome", "refused").count())
        .isEqualTo(1);
  }

  @Test
  void unreachableVaultIsRetriedBeforeTheLeaseExpiresAndTheStreamIsWarned() {
    LeaseEntry entry = heldEntry(NOW.plusSeconds(6), NOW.plusSeconds(3600));
    when(vault.renewLease(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"));

    Instant next = keeper.tend(entry.id());

    ArgumentCaptor<Instant> retryAt = ArgumentCaptor.forClass(Instant.class);
    verify(store)
        .recordRenewalFailure(eq(entry.id()), eq(ME), eq(1), retryAt.capture(), any(), eq(true));
    // Within a third of the remaining 6 s, so that several attempts fit before the expiry.
    assertThat(retryAt.getValue()).isAfter(NOW).isBeforeOrEqualTo(NOW.plusSeconds(2));
    assertThat(next).isEqualTo(retryAt.getValue());
    verify(streams).expiring(entry.id(), NOW.plusSeconds(6));
    verify(leases, never()).revoke(any(), any());
    verify(leases, never()).revokeAsOwner(any(), any());
  }

  @Test
  void leaseThatRanOutUnderAnOpenStreamIsReplacedRatherThanLeftSilent() {
    LeaseEntry entry = heldEntry(NOW.minusSeconds(1), NOW.plusSeconds(3600));
    when(vault.renewLease(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_REJECTED, "lease not found"));
    IssuedCredential fresh = rotationSucceeds(entry);

    keeper.tend(entry.id());

    verify(streams).rotated(entry.id(), fresh, Duration.ZERO, RotationReason.RENEWAL_REFUSED);
    verify(store).supersede(entry, NOW.minusSeconds(1), RevocationTrigger.EXPIRED);
  }

  @Test
  void leaseThatRanOutOnlyInTheRecordsIsRenewedNotReplaced() {
    // Another replica renewed it in Vault, but a resume here took it over before that was recorded.
    LeaseEntry entry = heldEntry(NOW.minusSeconds(1), NOW.plusSeconds(3600));
    when(vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(renewals.due(any(), any(), any())).thenReturn(NOW.plusSeconds(40));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    keeper.tend(entry.id());

    verify(store)
        .recordRenewal(
            entry.id(),
            ME,
            new Renewal(NOW, NOW.plusSeconds(60), null, NOW.plusSeconds(40), NOW.plusSeconds(40)));
    verify(streams).renewed(entry.id(), NOW.plusSeconds(60));
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
  }

  @Test
  void leaseKnownToHaveRunOutIsReplacedWithoutTheRenewalVaultWouldRefuse() {
    // Its expiry is what Vault granted this replica's last recorded renewal, and it passed while
    // the renewal waited (more renewals due than Vault completes).
    LeaseEntry entry = grantedToOwner(heldEntry(NOW.minusSeconds(1), NOW.plusSeconds(3600)));
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    IssuedCredential fresh = rotationSucceeds(entry);

    assertThat(keeper.tend(entry.id())).isEqualTo(NOW.minusSeconds(1));

    verifyNoInteractions(vault);
    verify(streams).rotated(entry.id(), fresh, Duration.ZERO, RotationReason.RENEWAL_REFUSED);
    verify(store).supersede(entry, NOW.minusSeconds(1), RevocationTrigger.EXPIRED);
    assertThat(meters.counter("credbroker.lease.renewals", "outcome", "expired").count())
        .isEqualTo(1);
    assertThat(meters.counter("credbroker.lease.renewals", "outcome", "refused").count()).isZero();
  }

  @Test
  void leaseGrantedToItsOwnerThatHasNotRunOutIsRenewedInVault() {
    LeaseEntry entry = grantedToOwner(heldEntry(NOW.plusSeconds(1), NOW.plusSeconds(3600)));

    assertRenewedInVault(entry);
    assertThat(meters.counter("credbroker.lease.renewals", "outcome", "expired").count()).isZero();
  }

  @Test
  void claimedLeaseThatRanOutByItsRecordIsAskedOfVaultEvenIfItsFormerOwnerRecordedItsExpiry() {
    // The former owner recorded its renewal, then renewed it again from memory while fenced and
    // was presumed dead; the takeover here cleared its stream. Vault may still hold the lease.
    LeaseEntry claimed =
        grantedToOwner(
            entry(NOW.minusSeconds(5), NOW.plusSeconds(3600), NOW.minusSeconds(10), null, null));

    assertRenewedInVault(claimed);
    verify(leases, never()).revokeAsOwner(any(), any());
  }

  @Test
  void dispatcherServesRenewalsThatCanStillSucceedBeforeThoseWhoseLeaseRanOut()
      throws InterruptedException {
    Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    DelayQueue<LeaseKeeper.Scheduled> queue = new DelayQueue<>();
    LeaseKeeper.Scheduled ranOut =
        new LeaseKeeper.Scheduled(UUID.randomUUID(), NOW.minusSeconds(30), NOW, clock);
    LeaseKeeper.Scheduled alive =
        new LeaseKeeper.Scheduled(
            UUID.randomUUID(), NOW.minusSeconds(10), NOW.plusSeconds(5), clock);
    LeaseKeeper.Scheduled revocation =
        new LeaseKeeper.Scheduled(UUID.randomUUID(), NOW.minusSeconds(20), null, clock);
    LeaseKeeper.Scheduled notYetDue =
        new LeaseKeeper.Scheduled(UUID.randomUUID(), NOW.plusSeconds(1), null, clock);
    queue.addAll(List.of(ranOut, alive, revocation, notYetDue));
    PriorityQueue<LeaseKeeper.Scheduled> ready = new PriorityQueue<>();
    PriorityQueue<LeaseKeeper.Scheduled> behind = new PriorityQueue<>();

    List<UUID> order = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      order.add(LeaseKeeper.nextDue(queue, ready, behind, clock).id());
    }

    // Earliest due first among those that can succeed; the lease that ran out last, though due
    // first; what is not due yet stays queued.
    assertThat(order).containsExactly(revocation.id(), alive.id(), ranOut.id());
    assertThat(queue).containsExactly(notYetDue);
  }

  @Test
  void gaugesReportTheRenewalBacklog() {
    assertThat(meters.get("credbroker.lease.renewals.overdue").gauge().value()).isZero();
    assertThat(meters.get("credbroker.lease.renewal.lag").gauge().value()).isZero();
    when(credentials.liveCounts(ME)).thenReturn(Map.of());
    when(credentials.renewalBacklog(ME, NOW))
        .thenReturn(new CredentialQueries.RenewalBacklog(1743, NOW.minusSeconds(75)));

    keeper.refreshGauges();

    assertThat(meters.get("credbroker.lease.renewals.overdue").gauge().value()).isEqualTo(1743);
    assertThat(meters.get("credbroker.lease.renewal.lag").gauge().value()).isEqualTo(75.0);
  }

  @Test
  void leaseThatRanOutByItsRecordWithoutAStreamIsAskedOfVaultBeforeItIsRevoked() {
    // Renewed in Vault by a replica that could not record it (fenced), then claimed here: the row
    // is behind Vault. Its stream ended with the fence; it is in its reconnect grace.
    LeaseEntry entry =
        entry(NOW.minusSeconds(5), NOW.plusSeconds(3600), NOW.minusSeconds(10), null, null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(vault.renewLease("database/creds/db1/abc", Duration.ofSeconds(60)))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(renewals.due(NOW, Duration.ofSeconds(60), NOW.plusSeconds(3600)))
        .thenReturn(NOW.plusSeconds(40));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    Instant next = keeper.tend(entry.id());

    // Renewed through its reconnect grace (2 minutes), like any detached credential.
    assertThat(next).isEqualTo(NOW.plusSeconds(40));
    verify(store)
        .recordRenewal(
            entry.id(),
            ME,
            new Renewal(NOW, NOW.plusSeconds(60), null, NOW.plusSeconds(40), NOW.plusSeconds(40)));
    verify(leases, never()).revokeAsOwner(any(), any());
    verify(leases, never()).revoke(any(), any());
  }

  @Test
  void leaseThatRanOutByItsRecordWithoutAStreamIsRevokedAsExpiredWhenVaultRefusesIt() {
    LeaseEntry entry =
        entry(NOW.minusSeconds(5), NOW.plusSeconds(3600), NOW.minusSeconds(10), null, null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(vault.renewLease(any(), any()))
        .thenThrow(new BrokerException(Reason.VAULT_REJECTED, "lease not found"));

    assertThat(keeper.tend(entry.id())).isNull();

    verify(leases).revokeAsOwner(entry, RevocationTrigger.EXPIRED);
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
    verify(store, never()).recordRenewal(any(), any(), any());
  }

  @Test
  void leaseThatRanOutByItsRecordPastItsLimitIsRevokedWithoutAskingVault() {
    LeaseEntry entry =
        entry(NOW.minusSeconds(5), NOW.minusSeconds(1), NOW.minusSeconds(10), null, null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));

    assertThat(keeper.tend(entry.id())).isNull();

    verify(leases).revokeAsOwner(entry, RevocationTrigger.EXPIRED);
    verifyNoInteractions(vault);
  }

  /**
   * When a broken stream's credential is revoked as abandoned: detached this long ago, and the
   * cluster last refused a call for load this long ago (never, when null).
   */
  static Stream<Arguments> abandonedOnceTheGraceIsOver() {
    Duration grace = LeaseTestSettings.lease().reconnectGrace();
    Duration limit = LeaseTestSettings.lease().reconnectGraceLimit();
    return Stream.of(
        Arguments.of("nothing refused, grace over", grace, null),
        Arguments.of("refused only before the stream broke", grace, grace.plusSeconds(10)),
        Arguments.of("refused a second ago, but at the limit", limit, Duration.ofSeconds(1)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("abandonedOnceTheGraceIsOver")
  void brokenStreamsCredentialIsRevokedAsAbandonedOnceTheGraceIsOver(
      String situation, Duration detachedAgo, @Nullable Duration refusedAgo) {
    LeaseKeeper tending =
        refusedAgo == null ? keeper : keeperRefusedAt(NOW.minus(refusedAgo), DepartedPods.none());
    LeaseEntry entry =
        entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), NOW.minus(detachedAgo), null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));

    assertThat(tending.tend(entry.id())).isNull();

    verify(leases).revokeAsOwner(entry, RevocationTrigger.ABANDONED);
    verifyNoInteractions(vault);
  }

  @Test
  void abandonmentWaitsForTheGraceAfterTheClustersLastRefusalOfACall() {
    // Detached 2 m ago (its plain grace is over), but the cluster shed a call 30 s ago: the pod may
    // have been turned away, so it has a full grace from that refusal, and is renewed meanwhile.
    LeaseKeeper shedding = keeperRefusedAt(NOW.minusSeconds(30), DepartedPods.none());
    LeaseEntry entry =
        entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), NOW.minus(Duration.ofMinutes(2)), null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(vault.renewLease("database/creds/db1/abc", Duration.ofSeconds(60)))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(300), false));
    when(renewals.due(NOW, Duration.ofSeconds(300), NOW.plusSeconds(3600)))
        .thenReturn(NOW.plusSeconds(200));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    Instant next = shedding.tend(entry.id());

    Instant graceEnd = NOW.minusSeconds(30).plus(Duration.ofMinutes(2));
    assertThat(next).isEqualTo(graceEnd);
    verify(leases, never()).revokeAsOwner(any(), any());
    verify(store)
        .recordRenewal(
            entry.id(),
            ME,
            new Renewal(NOW, NOW.plusSeconds(300), null, NOW.plusSeconds(200), graceEnd));
  }

  @Test
  void credentialOfADeletedPodIsEndedAfterTheDrainGraceWhileRefusalsExtendTheGrace() {
    LeaseKeeper shedding = keeperRefusedAt(NOW, podUid -> podUid.equals(POD.podUid()));
    LeaseEntry entry =
        entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), NOW.minus(Duration.ofMinutes(3)), null);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    Instant drained = NOW.plus(LeaseTestSettings.lease().drainGrace());

    assertThat(shedding.tend(entry.id())).isEqualTo(drained);

    verify(store).endRenewalsOfPod(POD.podUid(), drained);
    verifyNoInteractions(vault);
  }

  @Test
  void replacedCredentialIsRevokedForItsTriggerWhenItsTimeComes() {
    LeaseEntry entry = entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), null, NOW);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));

    keeper.tend(entry.id());

    verify(leases).revokeAsOwner(entry, RevocationTrigger.ROTATION);
  }

  @ParameterizedTest
  @MethodSource("endedElsewhere")
  void aStreamStillHoldingACredentialThatEndedElsewhereIsToldWhatItMissed(
      String endReason, boolean podBlocked, String told) {
    UUID id = UUID.randomUUID();
    when(streams.held()).thenReturn(Set.of(id));
    when(streams.holds(id)).thenReturn(true);
    when(store.goneFromHere(Set.of(id), ME, NOW.minus(LeaseDecisions.ENDED_STREAM_LATENESS)))
        .thenReturn(List.of(new CredentialStore.Gone(id, endReason, "uid-1")));
    if (podBlocked) {
      blockedPods.add("uid-1");
    }

    keeper.endStreamsGoneFromHere();

    switch (told) {
      case "pod" -> verify(streams).revokedByOperator(id, true);
      case "credential" -> verify(streams).revokedByOperator(id, false);
      default -> verify(streams).revoked(id, RevocationTrigger.valueOf(told));
    }
    verify(streams, never()).end(any(), any());
    verifyNoInteractions(vault);
  }

  static Stream<Arguments> endedElsewhere() {
    return Stream.of(
        Arguments.of("ADMIN", true, "pod"),
        Arguments.of("ADMIN", false, "credential"),
        Arguments.of("RELEASE", false, "RELEASE"),
        Arguments.of("ABANDONED", false, "ABANDONED"));
  }

  @Test
  void aStreamHoldingALiveCredentialAnotherReplicaKeepsIsToldToReconnect() {
    UUID id = UUID.randomUUID();
    when(streams.held()).thenReturn(Set.of(id));
    when(streams.holds(id)).thenReturn(true);
    when(store.goneFromHere(any(), any(), any()))
        .thenReturn(List.of(new CredentialStore.Gone(id, null, "uid-1")));

    keeper.endStreamsGoneFromHere();

    ArgumentCaptor<BrokerException> why = ArgumentCaptor.forClass(BrokerException.class);
    verify(streams).end(eq(id), why.capture());
    assertThat(why.getValue().reason()).isEqualTo(Reason.SHUTTING_DOWN);
    verify(streams, never()).revoked(any(), any(RevocationTrigger.class));
    verify(streams, never()).revokedByOperator(any(), anyBoolean());
  }

  @Test
  void credentialAnotherReplicaTookOverIsLeftAlone() {
    LeaseEntry mine = entry(NOW.plusSeconds(20), NOW.plusSeconds(3600), null, null);
    CredentialRecord r = mine.record();
    CredentialRecord theirs =
        new CredentialRecord(
            r.id(),
            r.databaseRole(),
            r.vaultMount(),
            r.vaultRole(),
            r.leaseId(),
            r.username(),
            r.owner(),
            r.kind(),
            r.state(),
            r.renewable(),
            "replica-b",
            r.issueTime(),
            r.expireTime(),
            r.maxExpireTime(),
            null,
            null,
            null,
            null,
            null);
    when(store.findEntry(r.id()))
        .thenReturn(
            Optional.of(
                new LeaseEntry(
                    theirs,
                    Duration.ofSeconds(60),
                    NOW.minusSeconds(1),
                    NOW,
                    UUID.randomUUID(),
                    null,
                    null,
                    0,
                    false,
                    false)));

    when(streams.holds(r.id())).thenReturn(true);

    assertThat(keeper.tend(r.id())).isNull();

    verifyNoInteractions(vault, leases);
    // A stream that still holds it here is sent to the replica that keeps it now.
    ArgumentCaptor<BrokerException> why = ArgumentCaptor.forClass(BrokerException.class);
    verify(streams).end(eq(r.id()), why.capture());
    assertThat(why.getValue().reason().category()).isEqualTo(BrokerException.Category.UNAVAILABLE);
    verify(streams, never()).renewed(any(), any());
  }

  @Test
  void renewalDecidedOnAStaleReadingIsFencedBeforeVault() {
    // Read as this replica's, then claimed by another (or resumed) before the renewal went out, as
    // when this replica paused between the two.
    LeaseEntry entry = heldEntry(NOW.plusSeconds(20), NOW.plusSeconds(3600));
    when(store.stillHeldAsSeen(entry)).thenReturn(false);

    assertThat(keeper.tend(entry.id())).isNull();

    verifyNoInteractions(vault);
    verify(store, never()).recordRenewal(any(), any(), any());
    verify(streams).end(eq(entry.id()), any());
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
  }

  /** A keeper on a cluster that last refused a call for load at {@code refusedAt}. */
  private LeaseKeeper keeperRefusedAt(Instant refusedAt, DepartedPods departedPods) {
    ClusterRefusals refusals = new ClusterRefusals(Clock.fixed(refusedAt, ZoneOffset.UTC));
    refusals.refused();
    return keeper(new Bindings(List.of(DB1)), departedPods, refusals);
  }

  /** Tends {@code entry} as the store reads it, and checks that its lease was renewed in Vault. */
  private void assertRenewedInVault(LeaseEntry entry) {
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(vault.renewLease(any(), any()))
        .thenReturn(new LeaseRenewal(Duration.ofSeconds(60), false));
    when(renewals.due(any(), any(), any())).thenReturn(NOW.plusSeconds(40));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);

    assertThat(keeper.tend(entry.id())).isEqualTo(NOW.plusSeconds(40));

    verify(vault).renewLease("database/creds/db1/abc", Duration.ofSeconds(60));
  }

  /** {@code entry} whose expiry Vault granted to its owner's last recorded renewal (or issue). */
  private static LeaseEntry grantedToOwner(LeaseEntry entry) {
    return new LeaseEntry(
        entry.record(),
        entry.leaseTtl(),
        entry.renewalDue(),
        entry.nextAction(),
        entry.streamId(),
        entry.revokeAfter(),
        entry.revokeTrigger(),
        entry.renewalFailures(),
        entry.expiringNotified(),
        true);
  }

  private LeaseKeeper keeperWith(Bindings bindings) {
    return keeper(
        bindings, DepartedPods.none(), new ClusterRefusals(Clock.fixed(NOW, ZoneOffset.UTC)));
  }

  private LeaseKeeper keeper(
      Bindings bindings, DepartedPods departedPods, ClusterRefusals refusals) {
    return keeper(bindings, departedPods, refusals, Clock.fixed(NOW, ZoneOffset.UTC));
  }

  private LeaseKeeper keeper(
      Bindings bindings, DepartedPods departedPods, ClusterRefusals refusals, Clock clock) {
    return new LeaseKeeper(
        store,
        credentials,
        leases,
        vault,
        mock(RevocationRetryQueue.class),
        bindings,
        streams,
        new ReplicaId(ME),
        clock,
        LeaseTestSettings.lease(),
        new LeaseMetrics(meters),
        departedPods,
        blockedPods::contains,
        new OwnedLeases(),
        refusals);
  }

  /**
   * {@link #entry} held by an open stream on this replica, as the store and the streams report it.
   */
  private LeaseEntry heldEntry(Instant expire, Instant maxExpire) {
    return heldEntry(expire, maxExpire, null);
  }

  /**
   * {@link #heldEntry} whose lease was created by a Vault token that dies at {@code tokenExpire}.
   */
  private LeaseEntry heldEntry(Instant expire, Instant maxExpire, @Nullable Instant tokenExpire) {
    LeaseEntry entry = entry(expire, maxExpire, null, null, tokenExpire);
    when(store.findEntry(entry.id())).thenReturn(Optional.of(entry));
    when(streams.holds(entry.id())).thenReturn(true);
    return entry;
  }

  /** A capped renewal of {@code entry} whose replacement its stream ended too soon to get. */
  private IssuedCredential rotationWhoseStreamEnds(LeaseEntry entry) {
    when(vault.renewLease(any(), any())).thenReturn(new LeaseRenewal(Duration.ofSeconds(30), true));
    when(store.recordRenewal(any(), any(), any())).thenReturn(true);
    IssuedCredential fresh = rotationSucceeds(entry);
    when(streams.rotated(any(), any(), any(), any())).thenReturn(false);
    return fresh;
  }

  /**
   * A rotation of {@code entry} that Vault, the store and the stream all accept; the new
   * credential.
   */
  private IssuedCredential rotationSucceeds(LeaseEntry entry) {
    IssuedCredential fresh = fresh(entry.id());
    when(leases.issue(any(), any(), any(), any(), any(), any())).thenReturn(fresh);
    when(store.supersede(any(), any(), any())).thenReturn(true);
    when(streams.rotated(any(), any(), any(), any())).thenReturn(true);
    return fresh;
  }

  /**
   * A stream credential of {@link #POD}, due for renewal now, with a 60 s lease.
   *
   * @param revokeAfter when set, the credential was replaced and is revoked for ROTATION then
   */
  private static LeaseEntry entry(
      Instant expire,
      Instant maxExpire,
      @Nullable Instant detached,
      @Nullable Instant revokeAfter) {
    return entry(expire, maxExpire, detached, revokeAfter, null);
  }

  private static LeaseEntry entry(
      Instant expire,
      Instant maxExpire,
      @Nullable Instant detached,
      @Nullable Instant revokeAfter,
      @Nullable Instant tokenExpire) {
    CredentialRecord record =
        new CredentialRecord(
            UUID.randomUUID(),
            "db1",
            "database",
            "db1",
            "database/creds/db1/abc",
            "v-app-abc",
            POD,
            CredentialKind.STREAM,
            CredentialState.ACTIVE,
            true,
            ME,
            NOW.minusSeconds(40),
            expire,
            maxExpire,
            null,
            detached,
            null,
            null,
            tokenExpire);
    return new LeaseEntry(
        record,
        Duration.ofSeconds(60),
        NOW.minusMillis(1),
        NOW,
        detached == null ? UUID.randomUUID() : null,
        revokeAfter,
        revokeAfter == null ? null : RevocationTrigger.ROTATION,
        0,
        false,
        false);
  }

  private static IssuedCredential fresh(UUID replaces) {
    CredentialRecord record =
        new CredentialRecord(
            UUID.randomUUID(),
            "db1",
            "database",
            "db1",
            "database/creds/db1/def",
            "v-app-def",
            POD,
            CredentialKind.STREAM,
            CredentialState.ACTIVE,
            true,
            ME,
            NOW,
            NOW.plusSeconds(60),
            NOW.plusSeconds(300),
            replaces,
            null,
            null,
            null,
            null);
    return new IssuedCredential(record, "Fresh-Pa55-word", DB1.connection());
  }
}
