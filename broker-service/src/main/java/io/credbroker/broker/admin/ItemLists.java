package io.credbroker.broker.admin;

import io.credbroker.broker.revocation.AuditEvent;
import io.credbroker.broker.revocation.CredentialSummary;
import io.credbroker.broker.revocation.QueuedRevocation;
import io.credbroker.broker.revocation.UndroppedRoles;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The list answers of the admin API: an object with {@code items}, so fields can be added later. */
final class ItemLists {

  private ItemLists() {}

  /** @param items matching credentials, newest first; never a password */
  record CredentialList(List<CredentialSummary> items) {}

  /** @param items operator actions, newest first */
  record AuditEventList(List<AuditEvent> items) {}

  /** @param items revocations Vault has not confirmed yet, oldest first */
  record QueuedRevocationList(List<QueuedRevocation> items) {}

  /**
   * @param items roles revoked in Vault (no login, no sessions) that are still in a target database, oldest first
   * @param checkTime when the broker last read them; null before its first check
   */
  record UndroppedRoleList(List<UndroppedRoles.UndroppedRole> items, @Nullable Instant checkTime) {}
}
