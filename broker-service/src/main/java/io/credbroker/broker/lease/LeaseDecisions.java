package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore.Renewal;
import io.credbroker.broker.vault.LeaseRenewal;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;

/**
 * What is due for one credential of this replica, decided on a fresh read of its row: revoke it
 * (replaced and drained, abandoned past its reconnect grace, run out), end its renewals (its pod
 * deleted, its binding gone), renew it, rotate it (max TTL, its creating token about to die, a
 * renewal Vault refused), or back off while Vault is unreachable; and when to look at it next.
 * Every write is conditional on this replica still owning the live credential, so a resume or
 * failover elsewhere wins cleanly.
 *
 * <p>While Vault is unreachable renewals are retried with capped exponential backoff and jitter
 * (never later than the lease's expiry allows), the stream is told {@code expiring} once the
 * credential is close to running out, and streams stay open.
 *
 * <p>The {@link LeaseKeeper}'s scheduler calls {@link #tend} on its worker threads, for one
 * credential at a time (a credential is in its queue at most once). Thread-safe: no state of its
 * own.
 */
final class LeaseDecisions {

  private static final Logger log = LoggerFactory.getLogger(LeaseDecisions.class);
  private static final Duration MIN_RETRY = Duration.ofMillis(200);

  /**
   * How long after its end a credential may still be held by a stream here before that stream is
   * ended for it. This replica's own endings (a release, a revocation) tell the stream themselves
   * once Vault has answered, after up to three attempts of {@code spring.cloud.vault.read-timeout}
   * each; only a stream still holding its credential after that missed the news.
   */
  static final Duration ENDED_STREAM_LATENESS = Duration.ofSeconds(30);

  private final CredentialStore store;
  private final LeaseService leases;
  private final VaultDatabaseCredentials vault;
  private final Bindings bindings;
  private final CredentialStreams streams;
  private final String replica;
  private final Clock clock;
  private final BrokerProperties.Lease settings;
  private final LeaseMetrics metrics;
  private final DepartedPods departedPods;
  private final PodAdmission admission;
  private final OwnedLeases owned;
  private final ClusterRefusals refusals;

  LeaseDecisions(
      CredentialStore store,
      LeaseService leases,
      VaultDatabaseCredentials vault,
      Bindings bindings,
      CredentialStreams streams,
      String replica,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics,
      DepartedPods departedPods,
      PodAdmission admission,
      OwnedLeases owned,
      ClusterRefusals refusals) {
    this.admission = Objects.requireNonNull(admission, "admission");
    this.store = Objects.requireNonNull(store, "store");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.vault = Objects.requireNonNull(vault, "vault");
    this.bindings = Objects.requireNonNull(bindings, "bindings");
    this.streams = Objects.requireNonNull(streams, "streams");
    this.replica = Objects.requireNonNull(replica, "replica");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.departedPods = Objects.requireNonNull(departedPods, "departedPods");
    this.owned = Objects.requireNonNull(owned, "owned");
    this.refusals = Objects.requireNonNull(refusals, "refusals");
  }

  private static RevocationTrigger endTrigger(@Nullable String endReason) {
    for (RevocationTrigger trigger : RevocationTrigger.values()) {
      if (trigger.name().equals(endReason)) {
        return trigger;
      }
    }
    return RevocationTrigger.EXPIRED;
  }

  /**
   * Does what is due for one credential, on a fresh read of its row.
   *
   * @return when to look at it next, or {@code null} when it has ended or is no longer this
   *     replica's
   */
  @Nullable Instant tend(UUID id) {
    LeaseEntry entry = store.findEntry(id).orElse(null);
    if (entry == null || entry.record().state() != CredentialState.ACTIVE) {
      owned.forget(id);
      return null;
    }
    if (!replica.equals(entry.record().ownerReplica())) {
      // Another replica keeps it now (it claimed it, or a stream resumed it there): a stream still
      // holding it here gets nothing more from this replica and must resume there.
      owned.forget(id);
      endStreamOwnedElsewhere(id);
      return null;
    }
    entry = recordRenewalMadeWhileFenced(entry);
    owned.note(entry, replica);
    CredentialRecord record = entry.record();
    Instant now = clock.instant();
    Instant revokeAfter = entry.revokeAfter();
    if (revokeAfter != null && !now.isBefore(revokeAfter)) {
      RevocationTrigger trigger = entry.revokeTrigger();
      revoke(entry, trigger != null ? trigger : RevocationTrigger.EXPIRED);
      return null;
    }
    Instant graceEnd = graceEnd(record);
    if (graceEnd != null && !now.isBefore(graceEnd)) {
      revoke(entry, RevocationTrigger.ABANDONED);
      return null;
    }
    String podUid = record.owner().podUid();
    if (podUid != null && admission.isBlocked(podUid)) {
      // An operator revoked its pod and that revocation did not end this credential (it failed
      // half-way: the state database or Vault went away, or the replica serving it stopped): it
      // ends now rather than being renewed, or rotated into a new role, for a blocked pod.
      revoke(entry, RevocationTrigger.ADMIN);
      return null;
    }
    boolean podDeleted = entry.revokeTrigger() == RevocationTrigger.POD_DELETED;
    if (podDeleted || (podUid != null && departedPods.isDeparted(podUid))) {
      // Its pod is gone (marked by any replica, or known here first): never renewed or rotated
      // again, revoked once the drain grace is over; a stream that still holds it here (it was
      // opened while the pod was being deleted) ends now.
      Instant revokeAt = revokeAfter;
      if (!podDeleted || revokeAt == null) {
        revokeAt = now.plus(settings.drainGrace());
        store.endRenewalsOfPod(Objects.requireNonNull(podUid), revokeAt);
      }
      if (streams.holds(id)) {
        streams.end(id, PodDepartures.podDeleted(record.owner()));
      }
      if (!revokeAt.equals(entry.nextAction())) {
        // Marking the departure keeps an earlier next look (its owner must notice it promptly):
        // from now on nothing is due before the revocation. Left in the past, the row would be
        // loaded and read again at every poll for the whole drain grace, and many deleted pods at
        // once (a rolling update) would fill the poller's batches ahead of due renewals.
        store.reschedule(id, replica, null, revokeAt);
      }
      return revokeAt;
    }
    boolean unbound = entry.revokeTrigger() == RevocationTrigger.UNBOUND;
    if (unbound || !bindings.allows(record.owner(), record.databaseRole())) {
      return endUnbound(record, unbound, now);
    }
    if (!now.isBefore(record.expireTime())) {
      if (entry.knownExpired(now) && streams.holds(id)) {
        return ranOut(entry, now);
      }
      if (record.kind() == CredentialKind.STREAM
          && (streams.holds(id) || mayOutliveItsRecord(entry, now))) {
        // It ran out by our records under an open stream, or while it is still renewed. Vault
        // decides whether it did: another replica may have renewed it and lost the race to record
        // that to the resume that brought the stream here, or renewed it while it was fenced (its
        // state database unreachable) and is presumed dead since, so this replica claimed it. A
        // renewal Vault refuses (the lease is gone) replaces it on its stream, as the client needs
        // a new credential, not silence; without a stream it is revoked as EXPIRED.
        return renewOrRotate(entry, now);
      }
      revoke(entry, RevocationTrigger.EXPIRED);
      return null;
    }
    Instant renewalDue = entry.renewalDue();
    if (renewalDue != null && !now.isBefore(renewalDue)) {
      return renewOrRotate(entry, now);
    }
    Instant next = earliest(renewalDue, revokeAfter, graceEnd, record.expireTime());
    store.reschedule(id, replica, renewalDue, next);
    return next;
  }

  /**
   * Revokes a credential as its owner, on the reading {@code entry}, and tells its stream: one may
   * hold it here although {@link CredentialStreams#holds} said no when this was decided, as a
   * resume here attaches the credential to its stream (and makes it due at once) before the
   * resume's call registers that stream. Told, the stream ends once registered, instead of staying
   * open on a role that no longer exists. Nothing is told when the reading was stale (the
   * credential was resumed or claimed since, and lives on): that stream must stay.
   */
  private void revoke(LeaseEntry entry, RevocationTrigger trigger) {
    if (leases.revokeAsOwner(entry, trigger)) {
      streams.revoked(entry.id(), trigger);
    }
  }

  /**
   * Replaces on its stream a credential whose lease is known to be gone in Vault ({@link
   * LeaseEntry#knownExpired}), without asking Vault to renew it: Vault would refuse, and that
   * refusal leads here anyway (a rotation for {@code RENEWAL_REFUSED}, as the stream is told).
   * Vault serialises its work on a database connection, so under more renewals than it completes
   * (the renewals then run late, past the leases' expiry) each doomed renewal would take the time
   * of one that can still succeed, and of the creation the rotation needs. Counted as the renewal
   * outcome {@code expired}, apart from {@code refused}.
   */
  private @Nullable Instant ranOut(LeaseEntry entry, Instant now) {
    if (!store.stillHeldAsSeen(entry)) {
      endStreamOwnedElsewhere(entry.id());
      return null;
    }
    metrics.renewal("expired");
    log.info(
        "Credential {}: its lease ran out at {} before it was renewed; replacing it",
        entry.id(),
        entry.record().expireTime());
    return rotate(entry, entry.record().expireTime(), RotationReason.RENEWAL_REFUSED, now);
  }

  /**
   * Whether a credential whose expiry passed by its row may still live in Vault: its owner still
   * renews it (not capped, not ending) and its limit has not passed. A renewal made while its owner
   * was fenced is recorded only once that owner serves again; if another replica claimed it first,
   * its row is behind Vault.
   */
  private static boolean mayOutliveItsRecord(LeaseEntry entry, Instant now) {
    Instant max = entry.record().maxExpireTime();
    return entry.renewedByItsOwner() && (max == null || now.isBefore(max));
  }

  /**
   * Records what Vault granted to renewals that this replica made while it was fenced ({@link
   * FencedRenewals}), before anything is decided on the row: its expiry may have passed by the row
   * while Vault renewed the lease, and an expired row without a stream is revoked. Only for a row
   * this replica still renews as it did (same lease, not ending) and only ever moves the expiry
   * later; the write is conditional on this replica owning the live credential, like every other.
   *
   * @return the entry as it is now
   */
  private LeaseEntry recordRenewalMadeWhileFenced(LeaseEntry entry) {
    OwnedLeases.Lease lease = owned.get(entry.id());
    Instant renewedAt = lease == null ? null : lease.renewedWhileFenced();
    CredentialRecord record = entry.record();
    if (lease == null
        || renewedAt == null
        || !lease.leaseId().equals(record.leaseId())
        || entry.renewalDue() == null
        || entry.revokeAfter() != null
        || !lease.expireTime().isAfter(record.expireTime())) {
      return entry;
    }
    Instant renewalDue = lease.renewalDue();
    Instant next = earliest(renewalDue, graceEnd(record), lease.expireTime());
    Renewal renewal =
        new Renewal(
            renewedAt,
            lease.expireTime(),
            lease.cappedByVault() ? lease.expireTime() : null,
            renewalDue,
            next);
    if (!store.recordRenewal(entry.id(), replica, renewal)) {
      return entry;
    }
    log.info(
        "Credential {}: recorded the renewal made while fenced, until {}",
        entry.id(),
        lease.expireTime());
    return store.findEntry(entry.id()).orElse(entry);
  }

  /**
   * Ends the stream on this replica that holds a credential another replica keeps now, with
   * UNAVAILABLE ({@code SHUTTING_DOWN}: this replica does not serve it any more), so that its
   * client resumes it where it is kept instead of listening to a replica that no longer renews it.
   */
  private void endStreamOwnedElsewhere(UUID id) {
    if (streams.holds(id)) {
      log.info("Credential {} is kept by another replica now; ending its stream here", id);
      streams.end(
          id,
          new BrokerException(
              Reason.SHUTTING_DOWN,
              "another broker replica keeps this credential now; reconnect",
              MIN_RETRY,
              null));
    }
  }

  /**
   * Ends the streams on this replica whose credentials other replicas keep now (see {@link
   * #endStreamOwnedElsewhere}), or which ended more than {@link #ENDED_STREAM_LATENESS} ago with
   * their streams still open here (see {@link #endStreamOfEnded}).
   */
  void endStreamsGoneFromHere() {
    Set<UUID> held = streams.held();
    if (held.isEmpty()) {
      return;
    }
    Instant endedBefore = clock.instant().minus(ENDED_STREAM_LATENESS);
    for (CredentialStore.Gone gone : store.goneFromHere(held, replica, endedBefore)) {
      if (gone.endReason() == null) {
        endStreamOwnedElsewhere(gone.id());
      } else {
        endStreamOfEnded(gone);
      }
    }
  }

  /**
   * A stream here still holds a credential that ended elsewhere: released through another replica,
   * or revoked by an operator on another replica whose notice this replica never heard. Its role is
   * gone or going, so the stream is told now what it would have been told then.
   */
  private void endStreamOfEnded(CredentialStore.Gone gone) {
    if (!streams.holds(gone.id())) {
      return;
    }
    RevocationTrigger trigger = endTrigger(gone.endReason());
    log.info(
        "Credential {} ended for {} while a stream here still held it; ending the stream",
        gone.id(),
        trigger.tag());
    if (trigger == RevocationTrigger.ADMIN) {
      String podUid = gone.podUid();
      streams.revokedByOperator(gone.id(), podUid != null && admission.isBlocked(podUid));
    } else {
      streams.revoked(gone.id(), trigger);
    }
  }

  /**
   * Ends a credential whose identity is no longer bound to its database role, by this replica's
   * bindings or marked so by any replica (whatever bindings this one has): never renewed or rotated
   * again, revoked once the drain grace is over so that the pod's last connections can finish; a
   * stream that holds it here ends now with PERMISSION_DENIED ({@code NOT_BOUND}).
   */
  private @Nullable Instant endUnbound(CredentialRecord record, boolean marked, Instant now) {
    Instant revokeAt =
        store
            .endRenewalsUnbound(record.id(), replica, now.plus(settings.drainGrace()))
            .orElse(null);
    if (revokeAt == null) {
      return null;
    }
    if (!marked) {
      metrics.unbound(record.databaseRole(), 1);
      log.info(
          "Credential {} of {}/{} is no longer bound to database role {}: revoked at {}",
          record.id(),
          record.owner().namespace(),
          record.owner().serviceAccount(),
          record.databaseRole(),
          revokeAt);
    }
    if (streams.holds(record.id())) {
      streams.end(record.id(), Bindings.notBound(record.owner(), record.databaseRole()));
    }
    return revokeAt;
  }

  /**
   * When a detached stream credential is revoked as abandoned, or {@code null} when it is not
   * detached: {@code reconnectGrace} after it was detached and after the last time the cluster
   * turned a client away for load ({@link ClusterRefusals}: a call shed at admission, a TokenReview
   * throttled, on any replica), whichever is later, but never more than {@code reconnectGraceLimit}
   * after it was detached.
   *
   * <p>Why. The grace is the time a pod has to come back; time in which the cluster refused to let
   * it in is not time it had. When a replica holding thousands of streams dies, the survivors claim
   * its credentials together and the pods come back at the rate the survivors admit them and review
   * their tokens, shedding the rest: with a fixed grace from the claim, the pods at the end of that
   * queue found their credentials revoked and got new roles although they never stopped trying.
   * Counting the grace from the last refusal gives every pod a full grace in which nothing was
   * shed.
   *
   * <p>Why the cluster's last refusal rather than something per credential or per pod. A call shed
   * at admission is refused before its request is read, so the credential or pod it was for is
   * unknown; and a refusal on one replica may have turned away a pod that would resume on another.
   * Why any detached credential and not only those claimed from a dead replica: a stream that broke
   * on a live replica (a load balancer dropping its connections) comes back through the same
   * admission, and a client that broke its stream while nothing was shed keeps exactly {@code
   * reconnectGrace}. Why not a grace sized to the backlog at the claim: the backlog's drain rate is
   * not known when the credentials are claimed (it depends on the survivors' load, Kubernetes, the
   * clients' backoff), whereas refusals are observed as they happen. Why not keep the credentials
   * of pods that still exist: a pod that exists but crashed, or no longer wants the credential,
   * would keep it until the bound, storm or not.
   *
   * <p>Bounds. A pod that is gone is unaffected: its credential is ended by its departure ({@code
   * POD_DELETED}, after the drain grace), whatever its grace. While refusals go on (a sustained
   * overload, a client flooding the broker) abandoned credentials live until {@code
   * reconnectGraceLimit} after their detach, never longer; renewals stop at Vault's max TTL as
   * always. Other replicas' refusals are known from their heartbeats, so about one heartbeat
   * interval late: a grace that would end within that of a refusal elsewhere may end before it is
   * seen. Nothing about ownership changes: only the owner decides, on a fresh read of the row, with
   * its conditional writes; the refusal time only moves the revocation later.
   */
  private @Nullable Instant graceEnd(CredentialRecord record) {
    Instant detached = record.detachedTime();
    if (record.kind() != CredentialKind.STREAM || detached == null) {
      return null;
    }
    Instant end = detached.plus(settings.reconnectGrace());
    Instant refused = refusals.last();
    if (refused != null && refused.plus(settings.reconnectGrace()).isAfter(end)) {
      Instant limit = detached.plus(settings.reconnectGraceLimit());
      Instant extended = refused.plus(settings.reconnectGrace());
      end = extended.isBefore(limit) ? extended : limit;
    }
    return end;
  }

  private @Nullable Instant renewOrRotate(LeaseEntry entry, Instant now) {
    CredentialRecord record = entry.record();
    UUID id = record.id();
    Duration ttl =
        entry.leaseTtl() != null
            ? entry.leaseTtl()
            : Duration.between(record.issueTime(), record.expireTime());
    boolean held = streams.holds(id);
    if (!held && entry.attachedToAStream() && streamEndedUnrecorded(entry)) {
      return detachNow(entry, now);
    }
    Instant max = record.maxExpireTime();
    boolean wouldCap =
        max != null
            && !now.isBefore(
                RenewalPolicy.rotationStart(
                    ttl, max, settings.renewalFraction(), settings.rotationMargin()));
    if (!store.stillHeldAsSeen(entry)) {
      // Claimed by another replica, or resumed, since it was read (this replica paused): the new
      // holder renews it; Vault never hears of this replica's stale decision.
      endStreamOwnedElsewhere(id);
      return null;
    }
    LeaseRenewal renewal;
    try {
      renewal = vault.renewLease(record.leaseId(), ttl);
    } catch (BrokerException e) {
      // Only Vault refusing this lease (400: not found, expired, not renewable) is a refusal. A 403
      // means the broker's own login or policy is wrong and arrives as VAULT_UNAVAILABLE: the lease
      // may be fine, so it is renewed again later (with a fresh login), never given up.
      if (e.reason() == Reason.VAULT_REJECTED) {
        metrics.renewal("refused");
        if (held) {
          return rotate(entry, record.expireTime(), RotationReason.RENEWAL_REFUSED, now);
        }
        // No stream here to hand a replacement to (one a resume is still registering is told, see
        // revoke); the lease is gone or going in Vault.
        revoke(entry, RevocationTrigger.EXPIRED);
        return null;
      }
      metrics.renewal("failed");
      return renewalFailed(entry, now, held);
    }
    // Counted from the answer, as an issue's is, not from the look's start: the call may have
    // waited out timeouts and retries, and an expiry that many seconds before Vault's would have
    // the credential known expired (rotated and revoked under its pod) while Vault keeps it. From
    // the answer, the expiry is never before Vault's, so one that passed did pass in Vault.
    Instant renewed = clock.instant();
    // Never past the death of the token that created the lease, as at its issue: a late renewal
    // must not promise the pod more than Vault keeps.
    Instant expire =
        LeaseService.expiry(renewed, renewal.leaseDuration(), record.tokenExpireTime());
    boolean capped = renewal.capped() || wouldCap;
    // Keep renewing while the stream is away (its grace may outlast the lease); stop once capped.
    Instant renewalDue =
        capped ? null : leases.renewals().due(renewed, renewal.leaseDuration(), max);
    if (capped && !held && entry.attachedToAStream()) {
      // Its row holds it on a stream of this replica that a call was still opening when the look
      // began (any other is detached above): a resume here attached it (and made a capped lease
      // due at once) and is on its way to registering the stream. Stopping now would leave it
      // unrotated until it runs out under that stream, so it is looked at again shortly, when the
      // stream can take the replacement. Asked in this order (the call registers, then stops
      // opening), so a stream registered meanwhile is found. A call that failed meanwhile has no
      // stream to come: its capped renewal is its last, not one every 200 ms until it runs out.
      if (streams.opening(Objects.requireNonNull(entry.streamId()))) {
        renewalDue = earliest(now.plus(MIN_RETRY), expire);
      } else {
        held = streams.holds(id);
      }
    }
    Instant next = earliest(renewalDue, graceEnd(record), expire);
    if (!store.recordRenewal(
        id,
        replica,
        new Renewal(renewed, expire, renewal.capped() ? expire : null, renewalDue, next))) {
      return null;
    }
    metrics.renewal(renewal.capped() ? "capped" : "renewed");
    owned.granted(record, ttl, expire, renewalDue);
    streams.renewed(id, expire);
    if (capped && held) {
      // The replaced credential can drain until its expiry, its creating token's death included.
      return rotate(entry, expire, rotationReason(record, renewal.capped()), renewed);
    }
    return next;
  }

  /**
   * Whether the credential's row holds it on a stream of this replica that is gone: no call here is
   * opening that stream and none holds the credential. Its end was not recorded (the state database
   * failed the detachment, or the call failed after its issue or resume attached the row). Asked in
   * this order: a call registers its stream, then stops opening it.
   */
  private boolean streamEndedUnrecorded(LeaseEntry entry) {
    return !streams.opening(Objects.requireNonNull(entry.streamId())) && !streams.holds(entry.id());
  }

  /**
   * Records now the end of a stream that was not recorded when it ended, or that the stream holds
   * another credential now (a replacement whose predecessor's row was not updated, as when the
   * state database failed in the middle of a rotation): the credential's reconnect grace starts,
   * and it is revoked when that is over unless its pod resumes it, as for any stream that ended.
   * Without this it would be renewed to its max TTL for a stream that will never come back. Looked
   * at again at once, as the detached credential it now is (a resume since then, here or elsewhere,
   * left the row as it was: the detachment applies only to the stream it names).
   */
  private Instant detachNow(LeaseEntry entry, Instant now) {
    UUID streamId = Objects.requireNonNull(entry.streamId());
    // This credential only: the stream it names may still be open here, holding another one (a
    // replacement whose rotation was recorded while this row's end was not), which must stay.
    int detached =
        store.detachCredential(
            entry.id(), streamId, replica, now, now.plus(settings.reconnectGrace()));
    if (detached > 0) {
      log.info(
          "Credential {}: its stream {} no longer holds it (it ended, or moved on to another"
              + " credential, without that being recorded); its reconnect grace starts now",
          entry.id(),
          streamId);
    }
    return now;
  }

  /**
   * Why a credential whose renewals reached its limit is rotated: the limit is the death of the
   * token that created it when that comes before Vault's max TTL ({@link LeaseService#issue} sets
   * the credential's max expiry to the earlier of the two), otherwise the max TTL.
   */
  private RotationReason rotationReason(CredentialRecord record, boolean cappedByVault) {
    Instant tokenExpire = record.tokenExpireTime();
    Instant max = record.maxExpireTime();
    boolean tokenFirst =
        !cappedByVault
            && tokenExpire != null
            && max != null
            && !max.isBefore(tokenExpire.minus(settings.tokenExpiryMargin()));
    return tokenFirst ? RotationReason.TOKEN_EXPIRY : RotationReason.MAX_TTL;
  }

  /**
   * Replaces a credential on its stream: issues a new one for the same pod and binding, hands it to
   * the stream, and lets the old one run until {@code oldExpire} (or its acknowledgement plus the
   * drain grace).
   */
  private @Nullable Instant rotate(
      LeaseEntry entry, Instant oldExpire, RotationReason reason, Instant now) {
    CredentialRecord old = entry.record();
    // Never for an identity the bindings no longer allow: tend ended such a credential already.
    Binding binding = bindings.authorize(old.owner(), old.databaseRole());
    String podUid = old.owner().podUid();
    if (podUid != null && departedPods.isDeparted(podUid)) {
      // Its pod went away since this credential was loaded: no new role for it; look again now.
      return now;
    }
    IssuedCredential fresh;
    try {
      fresh =
          leases.issue(
              old.owner(),
              binding,
              CredentialKind.STREAM,
              entry.leaseTtl(),
              entry.streamId(),
              old.id());
    } catch (BrokerException e) {
      log.warn("Rotating credential {} failed ({}); trying again", old.id(), e.reason());
      return renewalFailed(entry, now, true);
    }
    boolean superseded;
    try {
      superseded = store.supersede(entry, oldExpire, RevocationTrigger.EXPIRED);
    } catch (DataAccessException e) {
      // The state database failed between the replacement's creation and the switch to it: the
      // replacement is given up and the rotation tried again, not left until the old credential
      // runs out under its pod. Recorded as a failed attempt: a capped renewal left no renewal
      // due, so without it the next look would only wait for the expiry; with it that look renews
      // and rotates again, after a backoff that grows with each failure. Should that write fail
      // too, it is looked at again in a moment.
      log.warn(
          "Rotating credential {} failed ({}: the state database); trying again",
          old.id(),
          e.getClass().getSimpleName());
      abandon(fresh);
      try {
        return renewalFailed(entry, now, true);
      } catch (DataAccessException again) {
        return now.plus(MIN_RETRY);
      }
    }
    if (!superseded) {
      // Revoked, taken over, detached or resumed on another stream meanwhile: nobody will use the
      // replacement. A resume makes the credential due at once, so it is rotated on its new stream.
      abandon(fresh);
      return null;
    }
    // Replaced: it drains until oldExpire and is never renewed again.
    owned.forget(old.id());
    Duration validFor = Duration.between(now, oldExpire);
    boolean delivered =
        streams.rotated(old.id(), fresh, validFor.isNegative() ? Duration.ZERO : validFor, reason);
    if (!delivered) {
      // The stream went away meanwhile (its replica stopping, a network cut): the pod never saw
      // the replacement and will resume the old credential, on any replica. Keep that one
      // resumable, with the reconnect grace, to be rotated on the stream that resumes it; the
      // replacement nobody knows of is revoked.
      store.restoreSuperseded(old.id(), replica, now);
      abandon(fresh);
      log.info(
          "Credential {} was not replaced: its stream ended during the rotation ({})",
          old.id(),
          reason.tag());
      return now;
    }
    metrics.rotation(reason.tag());
    log.info("Credential {} replaced by {} ({})", old.id(), fresh.record().id(), reason.tag());
    return oldExpire;
  }

  /**
   * Revokes a replacement nobody will get. When that fails too (the state database still down), it
   * stays on the stream it was issued for, renewed like any credential there until that stream
   * ends; then its reconnect grace runs out and it is revoked as abandoned.
   */
  private void abandon(IssuedCredential fresh) {
    try {
      leases.revoke(fresh.record().id(), RevocationTrigger.ABANDONED);
    } catch (BrokerException e) {
      log.warn(
          "Giving up replacement credential {} failed ({}); it is revoked once its stream ends",
          fresh.record().id(),
          e.reason());
    }
  }

  /**
   * Schedules another attempt with capped exponential backoff and jitter, never past the expiry.
   */
  private Instant renewalFailed(LeaseEntry entry, Instant now, boolean held) {
    CredentialRecord record = entry.record();
    Instant retryAt =
        RenewalPolicy.retryAt(
            now, record.expireTime(), entry.renewalFailures(), settings.renewalRetryMax());
    Duration remaining = Duration.between(now, record.expireTime());
    boolean notify =
        held && !entry.expiringNotified() && remaining.compareTo(settings.expiringWarning()) <= 0;
    Instant expiry = record.expireTime().isAfter(now) ? record.expireTime() : null;
    Instant next = earliest(retryAt, graceEnd(record), expiry);
    store.recordRenewalFailure(
        record.id(),
        replica,
        entry.renewalFailures() + 1,
        retryAt,
        next,
        entry.expiringNotified() || notify);
    if (notify) {
      streams.expiring(record.id(), record.expireTime());
    }
    return next;
  }

  private static Instant earliest(@Nullable Instant... candidates) {
    Instant earliest = null;
    for (Instant candidate : candidates) {
      if (candidate != null && (earliest == null || candidate.isBefore(earliest))) {
        earliest = candidate;
      }
    }
    return Objects.requireNonNull(earliest, "no candidate time");
  }
}
