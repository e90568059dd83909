package io.credbroker.broker.lease;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * A credential together with its lifecycle schedule, as the owning replica reads it before acting.
 * Immutable; a snapshot of one row.
 *
 * @param record the credential
 * @param leaseTtl what each renewal asks Vault for, or {@code null} when unknown
 * @param renewalDue when to renew next, or {@code null} when nobody renews it
 * @param nextAction when the owner must look at it next, or {@code null} when never
 * @param streamId the stream holding it, or {@code null}
 * @param revokeAfter when to revoke it because a rotation replaced it, or {@code null}
 * @param revokeTrigger what that revocation is for, or {@code null}
 * @param renewalFailures consecutive looks that failed to renew or to rotate it
 * @param expiringNotified whether the stream was told the credential may expire unrenewed
 * @param expiryGrantedToOwner whether the record's expiry is what Vault granted to its owner (its
 *     issue or a renewal it recorded) since a resume last brought it there: see {@link
 *     #knownExpired}
 */
record LeaseEntry(
    CredentialRecord record,
    @Nullable Duration leaseTtl,
    @Nullable Instant renewalDue,
    @Nullable Instant nextAction,
    @Nullable UUID streamId,
    @Nullable Instant revokeAfter,
    @Nullable RevocationTrigger revokeTrigger,
    int renewalFailures,
    boolean expiringNotified,
    boolean expiryGrantedToOwner) {

  LeaseEntry {
    Objects.requireNonNull(record, "record");
  }

  UUID id() {
    return record.id();
  }

  /**
   * Whether its lease is known to be gone in Vault at {@code now}, so that a renewal is certain to
   * be refused: it is attached to a stream ({@code stream_id} set, which a takeover clears and only
   * an issue or a resume sets) and its record's expiry, which passed, is what Vault last granted to
   * its owner. Nobody else can have renewed it since: another replica renews a credential only once
   * it owns it, and it comes back here only by a resume (which clears {@code expiryGrantedToOwner},
   * as the replica it came from may have renewed it without recording it) or a takeover (which
   * clears {@code stream_id}). A row whose expiry passed while the lease was renewed from memory
   * (fenced renewals of a replica presumed dead, claimed since) is never known expired: it is asked
   * of Vault.
   */
  boolean knownExpired(Instant now) {
    return expiryGrantedToOwner && attachedToAStream() && !now.isBefore(record.expireTime());
  }

  /**
   * Whether its row holds it on a stream ({@code stream_id} set, which only an issue or a resume
   * sets, and not detached since), whether or not that stream is registered on this replica yet.
   */
  boolean attachedToAStream() {
    return streamId != null && record.detachedTime() == null;
  }

  /** Whether its owner renews it: renewable, a renewal due, not replaced or ending. */
  boolean renewedByItsOwner() {
    return record.renewable() && renewalDue != null && revokeAfter == null;
  }
}
