package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore.EndedCredential;
import io.credbroker.broker.vault.CreationNotSent;
import io.credbroker.broker.vault.DatabaseSecret;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.github.resilience4j.bulkhead.Bulkhead;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;

/**
 * Issues credentials from Vault, ends them, and keeps the state store in step with Vault's leases.
 *
 * <p>Issuing is: read {@code <mount>/creds/<role>} (one new PostgreSQL role), set the lease to the
 * requested lifetime, then record the lease with its renewal schedule ({@link RenewalPolicy}). If
 * anything after the read fails, the new lease is revoked again, so a failed request leaves no role
 * behind that nobody tracks (if that revocation fails too, or the replica dies in between, {@link
 * LeaseReconciler} finds the lease that no record knows and revokes it after its grace).
 *
 * <p>Max TTL. Vault's creds answer does not say how far renewals can go. The broker reads it per
 * Vault role from Vault's configuration ({@link MaxTtls}), never by renewing a lease: a renewal far
 * ahead would leave a fresh role alive up to its maximum should the broker die before setting it
 * back. A capped renewal later tells the exact limit of that lease.
 *
 * <p>Ending is one path for every trigger ({@link #revoke}): the credential is ended and its lease
 * put on the persisted retry queue in one statement, then Vault revokes it synchronously; only
 * Vault's confirmation removes it from the queue.
 *
 * <p>Thread-safe; blocking (Vault and the state database are called on the caller's thread), except
 * {@link #detach}, which only queues its write for one background thread ({@link
 * StreamDetachments}).
 *
 * <p>Lifecycle: {@link #close()} (called by Spring when the context closes) writes the detachments
 * still queued and stops that thread.
 */
public class LeaseService implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LeaseService.class);
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  /** What the {@code credential} insert trigger raises for a blocked pod UID (migration V5). */
  private static final String POD_BLOCKED_SQL_STATE = "CB001";

  private final VaultDatabaseCredentials vault;
  private final CredentialStore store;
  private final CredentialQueries credentials;
  private final RevocationRetryQueue retryQueue;
  private final ReplicaId replicaId;
  private final Clock clock;
  private final LeaseMetrics metrics;
  private final BrokerProperties.Lease settings;
  private final MaxTtls maxTtls;
  private final RenewalPolicy renewals;
  private final StreamDetachments detachments;
  private final OwnedLeases owned = new OwnedLeases();

  /**
   * Releases revoking in Vault now, at most {@code maxConcurrentReleaseRevocations}; one beyond it
   * is left to the revocation queue.
   */
  private final Bulkhead releaseRevocations;

  /**
   * @param releaseRevocations the bulkhead of pods' releases revoked in Vault at once, which must
   *     not wait for a permit: a release it refuses is left to the revocation queue
   */
  public LeaseService(
      VaultDatabaseCredentials vault,
      CredentialStore store,
      CredentialQueries credentials,
      RevocationRetryQueue retryQueue,
      ReplicaId replicaId,
      Clock clock,
      LeaseMetrics metrics,
      BrokerProperties.Lease settings,
      Bulkhead releaseRevocations) {
    this.vault = Objects.requireNonNull(vault, "vault");
    this.store = Objects.requireNonNull(store, "store");
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.retryQueue = Objects.requireNonNull(retryQueue, "retryQueue");
    this.replicaId = Objects.requireNonNull(replicaId, "replicaId");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.releaseRevocations = Objects.requireNonNull(releaseRevocations, "releaseRevocations");
    this.maxTtls = new MaxTtls(vault, settings.maxTtlCache());
    this.renewals = new RenewalPolicy(settings.renewalFraction(), settings.renewalJitter());
    this.detachments =
        new StreamDetachments(store, replicaId.value(), clock, settings.reconnectGrace());
  }

  /**
   * Issues a new credential to {@code owner} under {@code binding}, held by no stream. The caller
   * has authorised the request.
   *
   * @param requestedTtl the lease lifetime the client asked for, or {@code null} for the Vault
   *     role's default; Vault caps it at the role's maximum
   */
  public IssuedCredential issue(
      PodIdentity owner, Binding binding, CredentialKind kind, @Nullable Duration requestedTtl) {
    return issue(owner, binding, kind, requestedTtl, null, null);
  }

  /**
   * Issues a new credential to {@code owner} under {@code binding}, held by the stream {@code
   * streamId} (for {@link CredentialKind#STREAM}), replacing {@code replaces} when it comes from a
   * rotation. The caller has authorised the request.
   *
   * @throws CreationNotSent when the broker turned the creation away before asking Vault: nothing
   *     was created (any later refusal, after Vault created the role, is another {@link
   *     BrokerException})
   */
  public IssuedCredential issue(
      PodIdentity owner,
      Binding binding,
      CredentialKind kind,
      @Nullable Duration requestedTtl,
      @Nullable UUID streamId,
      @Nullable UUID replaces) {
    Instant before = clock.instant();
    DatabaseSecret secret = vault.issue(binding.vaultMount(), binding.vaultRole());
    try {
      boolean renewable = kind == CredentialKind.STREAM && secret.renewable();
      Duration wanted = requestedTtl != null ? requestedTtl : secret.leaseDuration();
      Instant maxExpire = null;
      if (renewable) {
        Duration maxTtl = maxTtls.of(binding, before);
        if (maxTtl != null) {
          // Vault counts it from the lease's issue, which is no earlier than before the creds read.
          maxExpire = before.plus(maxTtl);
        }
        if (!wanted.equals(secret.leaseDuration())) {
          secret =
              secret.withLeaseDuration(vault.renewLease(secret.leaseId(), wanted).leaseDuration());
        }
      } else if (requestedTtl != null && !requestedTtl.equals(secret.leaseDuration())) {
        secret = secret.withLeaseDuration(vault.renew(secret.leaseId(), requestedTtl));
      }
      Instant issueTime = clock.instant();
      Instant tokenExpire = secret.tokenExpireTime();
      Instant expire = expiry(issueTime, secret.leaseDuration(), tokenExpire);
      if (renewable) {
        // Renewals may not carry the credential closer to its token's death than the margin: it is
        // rotated before, so that the replaced one can still drain.
        Instant lastRenewable = tokenExpire.minus(settings.tokenExpiryMargin());
        if (maxExpire == null || lastRenewable.isBefore(maxExpire)) {
          maxExpire = lastRenewable;
        }
      }
      if (!renewable || maxExpire.isBefore(expire)) {
        maxExpire = expire;
      }
      CredentialRecord record =
          CredentialRecord.builder()
              .id(UUID.randomUUID())
              .databaseRole(binding.databaseRole())
              .vaultMount(binding.vaultMount())
              .vaultRole(binding.vaultRole())
              .leaseId(secret.leaseId())
              .username(secret.username())
              .owner(owner)
              .kind(kind)
              .state(CredentialState.ACTIVE)
              // Only a stream has somebody to renew the lease.
              .renewable(renewable)
              .ownerReplica(replicaId.value())
              .issueTime(issueTime)
              .expireTime(expire)
              .maxExpireTime(maxExpire)
              .replaces(replaces)
              .tokenExpireTime(tokenExpire)
              .build();
      Instant renewalDue =
          renewable ? renewals.due(issueTime, secret.leaseDuration(), maxExpire) : null;
      store.insert(
          record,
          secret.leaseDuration(),
          renewalDue,
          renewalDue != null ? renewalDue : expire,
          kind == CredentialKind.STREAM ? streamId : null);
      owned.granted(record, secret.leaseDuration(), expire, renewalDue);
      return new IssuedCredential(record, secret.password(), binding.connection());
    } catch (DataAccessException e) {
      if (isPodBlockedRefusal(e)) {
        // The block was committed on another replica after this one admitted the pod (its cached
        // answer predates the block notification): not a fault of the store, and not worth a retry.
        log.info("Lease {} issued to a pod blocked meanwhile; revoking it", secret.leaseId());
        revokeQuietly(secret.leaseId());
        throw new BrokerException(
            Reason.POD_REVOKED, "this pod's credentials were revoked by an operator", e);
      }
      log.warn("Recording lease {} failed; revoking it", secret.leaseId(), e);
      revokeQuietly(secret.leaseId());
      throw stateStoreUnavailable(e);
    } catch (RuntimeException e) {
      revokeQuietly(secret.leaseId());
      throw e;
    }
  }

  /**
   * Start-up check of the Vault side of rotation: creates the first issuing token and warns when
   * its lifetime cannot cover the rotation margin, that is when a credential issued with it would
   * have to be rotated for its token at once. Never fails: Vault may be down at start-up, and
   * issuing will create the token (and report errors) later.
   *
   * @return whether the issuing token's lifetime covers the margin ({@code false} also when the
   *     check could not be made)
   */
  public boolean checkIssuingTokenLifetime() {
    try {
      Duration lifetime = vault.issuingTokenLifetime();
      Duration usable = lifetime.dividedBy(2).minus(settings.tokenExpiryMargin());
      if (usable.compareTo(settings.drainGrace()) <= 0) {
        log.warn(
            "Vault issuing tokens live {}: a credential issued with one may have only half of that"
                + " before its token dies, less the token-expiry margin ({}), which leaves no room to"
                + " renew it. Every credential would be rotated at once. Give the token role a longer"
                + " TTL (setup --issuing-token-ttl) or lower credbroker.lease.token-expiry-margin.",
            lifetime,
            settings.tokenExpiryMargin());
        return false;
      }
      log.info(
          "Vault issuing tokens live {}; credentials are rotated at the latest {} before their token"
              + " dies",
          lifetime,
          settings.tokenExpiryMargin());
      return true;
    } catch (BrokerException e) {
      log.warn("Could not create a Vault issuing token at start-up ({})", e.reason());
      return false;
    }
  }

  /** When the leases this service issues are renewed, first and after each renewal. */
  RenewalPolicy renewals() {
    return renewals;
  }

  /**
   * Adopts a live credential of the caller's pod for the stream {@code streamId} on this replica:
   * this replica renews it from now on, and no new role is created.
   *
   * @return the credential (without password: the broker never had it stored)
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} for an unknown id, {@code
   *     CREDENTIAL_OF_ANOTHER_POD} when it belongs to another pod UID, {@code INVALID_REQUEST} when
   *     it is for another database role, {@code CREDENTIAL_NOT_RESUMABLE} when it has ended,
   *     expired, or was replaced
   */
  public IssuedCredential resume(
      PodIdentity owner, Binding binding, UUID credentialId, UUID streamId) {
    try {
      CredentialRecord record = find(credentialId);
      if (owner.podUid() == null || !owner.podUid().equals(record.owner().podUid())) {
        throw new BrokerException(
            Reason.CREDENTIAL_OF_ANOTHER_POD, "the credential belongs to another pod");
      }
      if (!record.databaseRole().equals(binding.databaseRole())) {
        throw new BrokerException(
            Reason.INVALID_REQUEST, "the credential was issued for another database role");
      }
      LeaseEntry attached =
          store
              .attach(credentialId, owner.podUid(), replicaId.value(), streamId, clock.instant())
              .orElseThrow(
                  () ->
                      new BrokerException(
                          Reason.CREDENTIAL_NOT_RESUMABLE,
                          "the credential is no longer alive; ask for a new one without"
                              + " resume_credential_id"));
      log.info("Credential {} (user {}) resumed on a new stream", credentialId, record.username());
      // Renewed here from now on, so kept in memory for renewals while fenced.
      owned.note(attached, replicaId.value());
      return new IssuedCredential(attached.record(), "", binding.connection());
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /**
   * Revokes a credential of the caller's pod at once, together with a credential it replaced that
   * is still draining, and a replacement of it that a rotation issued (a pod that shuts down needs
   * none of them: one released just as a rotation replaced it never took the replacement).
   * Idempotent.
   *
   * @return the live credentials this call ended: {@code credentialId} first (unless it had ended
   *     already), then any replacement of it; the streams that hold them have nothing left to carry
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} when the id never belonged to this pod
   */
  public List<UUID> release(PodIdentity owner, UUID credentialId) {
    try {
      RevocationTrigger trigger = RevocationTrigger.RELEASE;
      Instant now = clock.instant();
      // One statement ends the pod's live credential and queues its lease; only a credential that
      // is not the pod's (NOT_FOUND) or has ended already (nothing to do) is read.
      Optional<EndedCredential> ended =
          owner.podUid() == null
              ? Optional.empty()
              : store.endOwnedAndQueue(
                  credentialId,
                  owner.podUid(),
                  trigger.endState(),
                  trigger,
                  now,
                  now.plus(RevocationRetryQueue.CLAIM_LEASE));
      if (ended.isEmpty()) {
        findOwned(owner, credentialId);
        return List.of();
      }
      EndedCredential released = ended.get();
      if (releaseRevocations.tryAcquirePermission()) {
        try {
          revokeEnded(released.id(), released.leaseId(), released.username(), trigger);
        } finally {
          releaseRevocations.onComplete();
        }
      } else {
        deferToQueue(released, trigger, now);
      }
      // The credential it replaced is revoked as it is read: reading it again would only return
      // the same lease and user (ending a credential is conditional on its state anyway).
      UUID replaced = released.replaces();
      Optional<CredentialRecord> draining =
          replaced == null ? Optional.empty() : credentials.findById(replaced);
      if (draining.isPresent() && draining.get().state() == CredentialState.ACTIVE) {
        revoke(draining.get(), null, RevocationTrigger.RELEASE);
      }
      List<UUID> endedHere = new ArrayList<>(List.of(released.id()));
      if (released.marked()) {
        // Replaced by a rotation (or due to end) before the pod let it go: a replacement on its
        // way to the pod's stream would otherwise live on, unused, until that stream's grace ran
        // out. Read only then, so that a plain release stays one statement.
        for (CredentialRecord replacement :
            credentials.findLiveReplacements(
                released.id(), Objects.requireNonNull(owner.podUid()))) {
          if (revoke(replacement, null, RevocationTrigger.RELEASE).ended()) {
            endedHere.add(replacement.id());
          }
        }
      }
      return endedHere;
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /**
   * Records that the caller's pod switched to {@code credentialId}, which came from a rotation: the
   * credential it replaced is revoked after the drain grace (or earlier if it expires earlier).
   * Idempotent: a second acknowledgement does not move the revocation.
   *
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} when the id never belonged to this pod,
   *     {@code NOT_A_ROTATION} when the credential did not replace another, {@code
   *     CREDENTIAL_REVOKED} when it has ended (the credential it replaced is left as it is)
   */
  public Acknowledgement acknowledge(PodIdentity owner, UUID credentialId) {
    try {
      CredentialRecord record = findOwned(owner, credentialId);
      UUID replaced = record.replaces();
      if (replaced == null) {
        throw new BrokerException(
            Reason.NOT_A_ROTATION, "the credential did not replace another one");
      }
      if (record.state() != CredentialState.ACTIVE) {
        // Its stream closed as the rotation was handed over, so the replacement was revoked and
        // the credential it replaced kept: draining that one too would leave the pod with neither.
        throw new BrokerException(
            Reason.CREDENTIAL_REVOKED,
            "the credential has ended; the one it replaced is kept: resume that one, or ask for a"
                + " new credential");
      }
      Instant now = clock.instant();
      Optional<Instant> revokeTime =
          store.scheduleReplacedRevocation(replaced, now.plus(settings.drainGrace()));
      if (revokeTime.isPresent()) {
        return new Acknowledgement(replaced, revokeTime.get());
      }
      Instant ended = credentials.findById(replaced).map(CredentialRecord::endTime).orElse(null);
      return new Acknowledgement(replaced, ended != null ? ended : now);
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /**
   * Notes that a stream ended without a release: the credentials it held stay alive for the
   * reconnect grace, counted from now, then are revoked unless a stream resumes them.
   *
   * <p>Does not block: the write is queued and done by one background thread, because streams end
   * on gRPC's call threads, and thousands of them end at once when a network path or a load
   * balancer drops its connections. Nothing is lost that matters if this replica dies before the
   * write: its credentials are then claimed by another replica, which counts them as detached from
   * the claim and gives them the same grace.
   */
  public void detach(UUID streamId) {
    detachments.detach(streamId);
  }

  /**
   * Writes the detachments still queued, on the caller's thread, and stops the background thread.
   */
  @Override
  public void close() {
    detachments.close();
  }

  /**
   * Revokes one credential's lease in Vault now (a synchronous revoke, which runs the role's
   * revocation statements: no more logins, sessions terminated, role dropped) and ends the
   * credential for {@code trigger} ({@link RevocationTrigger#RELEASE} ends it as RELEASED, {@link
   * RevocationTrigger#EXPIRED} as EXPIRED, every other trigger as REVOKED), so that nobody renews
   * it again. When Vault cannot be reached the lease stays on the persisted retry queue, which any
   * replica works until Vault confirms.
   *
   * <p>Idempotent: a credential that has already ended is left as it is, and the outcome says
   * whether its revocation still waits in the queue.
   *
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} for an unknown id, {@code
   *     STATE_STORE_UNAVAILABLE} when the state database cannot be reached
   */
  public RevocationOutcome revoke(UUID credentialId, RevocationTrigger trigger) {
    return revoke(credentialId, null, trigger);
  }

  /**
   * Asks Vault now, on the caller's thread, for the revocation of an ended credential that still
   * waits in the retry queue. An operator who repeats a revocation once Vault is back must not wait
   * out the queue's backoff (up to {@code lease.revocation-retry-max}) while the role still logs
   * in. Whatever Vault answers, the queue entry is updated as the queue's own attempt would (a
   * failure is retried from {@code lease.revocation-retry-initial}); a worker of the queue revoking
   * it at the same time is harmless, since Vault revokes a lease idempotently.
   *
   * @return whether Vault confirmed the revocation now; false when the credential is live, its
   *     revocation was not queued, or Vault failed again
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} for an unknown id, {@code
   *     STATE_STORE_UNAVAILABLE} when the state database cannot be reached
   */
  public boolean retryQueuedRevocation(UUID credentialId) {
    try {
      CredentialRecord record = find(credentialId);
      if (record.state() == CredentialState.ACTIVE || !retryQueue.contains(credentialId)) {
        return false;
      }
      return revokeInVault(credentialId, record.leaseId());
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /**
   * Revokes a credential as its owner decided to on the reading {@code seen} (fenced): only while
   * it is still held as read then ({@link CredentialStore#stillHeldAsSeen}); a credential that
   * another replica claimed, or a stream resumed, since is left alone, in Vault too.
   *
   * @return whether this call ended it; {@code false} when the reading was stale (nothing was done)
   *     or it had ended already
   */
  boolean revokeAsOwner(LeaseEntry seen, RevocationTrigger trigger) {
    return revoke(seen.id(), seen, trigger).ended();
  }

  private RevocationOutcome revoke(
      UUID credentialId, @Nullable LeaseEntry seen, RevocationTrigger trigger) {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(trigger, "trigger");
    try {
      return revoke(find(credentialId), seen, trigger);
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /** {@link #revoke(UUID, LeaseEntry, RevocationTrigger)} of a credential already read. */
  private RevocationOutcome revoke(
      CredentialRecord record, @Nullable LeaseEntry seen, RevocationTrigger trigger) {
    UUID credentialId = record.id();
    try {
      Instant now = clock.instant();
      Instant retryAt = now.plus(RevocationRetryQueue.CLAIM_LEASE);
      boolean ended =
          seen == null
              ? store.endAndQueue(credentialId, trigger.endState(), trigger, now, retryAt)
              : store.endAndQueue(credentialId, seen, trigger.endState(), trigger, now, retryAt);
      if (!ended) {
        return new RevocationOutcome(
            credentialId, record.username(), !retryQueue.contains(credentialId), false);
      }
      return new RevocationOutcome(
          credentialId,
          record.username(),
          revokeEnded(credentialId, record.leaseId(), record.username(), trigger),
          true);
    } catch (DataAccessException e) {
      throw stateStoreUnavailable(e);
    }
  }

  /**
   * Revokes in Vault the lease of a credential that has just ended for {@code trigger} (and is
   * queued), counts and logs it.
   *
   * @return whether Vault confirmed the revocation; otherwise it waits in the queue
   */
  private boolean revokeEnded(
      UUID credentialId, String leaseId, String username, RevocationTrigger trigger) {
    owned.forget(credentialId);
    boolean revoked = revokeInVault(credentialId, leaseId);
    metrics.revocation(trigger, revoked);
    if (trigger == RevocationTrigger.RELEASE && revoked) {
      // A pod's own release, done: one per release call, counted in the revocation metric; an
      // operator has nothing to do about it.
      log.debug("Credential {} (user {}) released", credentialId, username);
    } else {
      log.info(
          "Credential {} (user {}) ended for {}{}",
          credentialId,
          username,
          trigger.tag(),
          revoked ? "" : "; its revocation waits for Vault");
    }
    return revoked;
  }

  /**
   * Leaves the revocation of a released credential to the revocation queue, due now: this replica
   * already revokes {@code maxConcurrentReleaseRevocations} releases in Vault. The credential has
   * ended (its pod is answered at once); its role lives until the queue revokes its lease, one at a
   * time, instead of every release of a rolling update at once filling Vault's connection past its
   * timeout, with the new pods' creations behind them.
   */
  private void deferToQueue(EndedCredential released, RevocationTrigger trigger, Instant now) {
    owned.forget(released.id());
    retryQueue.deferred(released.id(), now, "RELEASES_IN_FLIGHT");
    metrics.revocation(trigger, false);
    log.debug(
        "Credential {} (user {}) released; its revocation is left to the queue",
        released.id(),
        released.username());
  }

  /**
   * The leases this replica renews, noted in memory at issue and resume (shared with the {@link
   * LeaseKeeper}, which notes the rest).
   */
  OwnedLeases ownedLeases() {
    return owned;
  }

  /** One attempt to revoke a queued lease; the queue row goes only when Vault confirmed. */
  private boolean revokeInVault(UUID credentialId, String leaseId) {
    String failure = null;
    try {
      vault.revoke(leaseId);
    } catch (BrokerException e) {
      failure = e.reason().name();
    }
    // The credential has ended whatever happens here, and its caller must learn that (a stream
    // holding it is told): a queue entry this cannot update stays claimed until its claim runs
    // out, and the queue then revokes the lease again (Vault revokes a lease idempotently).
    try {
      if (failure == null) {
        retryQueue.confirmed(credentialId);
      } else {
        retryQueue.failed(
            credentialId, clock.instant().plus(settings.revocationRetryInitial()), failure);
      }
    } catch (DataAccessException e) {
      log.warn(
          "Credential {}: its revocation queue entry could not be updated ({}); the queue revokes"
              + " its lease again later",
          credentialId,
          e.getClass().getSimpleName());
    }
    return failure == null;
  }

  private CredentialRecord find(UUID credentialId) {
    return credentials
        .findById(credentialId)
        .orElseThrow(
            () ->
                new BrokerException(
                    Reason.CREDENTIAL_NOT_FOUND, "no credential with this id exists"));
  }

  /** The credential if it belongs to the caller's pod; NOT_FOUND otherwise (ids are not probed). */
  private CredentialRecord findOwned(PodIdentity owner, UUID credentialId) {
    Optional<CredentialRecord> record = credentials.findById(credentialId);
    if (record.isEmpty()
        || owner.podUid() == null
        || !owner.podUid().equals(record.get().owner().podUid())) {
      throw new BrokerException(
          Reason.CREDENTIAL_NOT_FOUND, "this pod holds no credential with this id");
    }
    return record.get();
  }

  /**
   * Whether the state store refused the row because the pod is blocked (the insert trigger's {@code
   * CB001}).
   */
  /**
   * When a lease granted {@code granted} at {@code grantedAt} ends: then, or when the token that
   * created it dies if that is earlier, since Vault revokes a lease with its creating token
   * whatever TTL it granted.
   *
   * @param tokenExpire when the lease's creating token expires, or {@code null} when not known
   */
  static Instant expiry(Instant grantedAt, Duration granted, @Nullable Instant tokenExpire) {
    Instant expire = grantedAt.plus(granted);
    return tokenExpire != null && tokenExpire.isBefore(expire) ? tokenExpire : expire;
  }

  private static boolean isPodBlockedRefusal(DataAccessException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && POD_BLOCKED_SQL_STATE.equals(sql.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  private static BrokerException stateStoreUnavailable(DataAccessException e) {
    return new BrokerException(
        Reason.STATE_STORE_UNAVAILABLE,
        "the broker's state store is unavailable; try again later",
        RETRY_AFTER,
        e);
  }

  private void revokeQuietly(String leaseId) {
    try {
      vault.revoke(leaseId);
    } catch (BrokerException e) {
      log.warn(
          "Lease {} could not be revoked; the lease reconciliation revokes it after its grace",
          leaseId);
    }
  }
}
