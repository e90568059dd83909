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
 * @param renewalFailures consecutive renewals that could not reach Vault
 * @param expiringNotified whether the stream was told the credential may expire unrenewed
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
    boolean expiringNotified) {

  LeaseEntry {
    Objects.requireNonNull(record, "record");
  }

  UUID id() {
    return record.id();
  }

  /** Whether its owner renews it: renewable, a renewal due, not replaced or ending. */
  boolean renewedByItsOwner() {
    return record.renewable() && renewalDue != null && revokeAfter == null;
  }
}
