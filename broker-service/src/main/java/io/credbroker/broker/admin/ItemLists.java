package io.credbroker.broker.admin;

import io.credbroker.broker.lease.QueuedRevocation;
import io.credbroker.broker.revocation.AuditEvent;
import io.credbroker.broker.revocation.CredentialSummary;
import io.credbroker.broker.revocation.UndroppedRoles;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The list answers of the admin API: an object with {@code items} (and the cursor of the next
 * page).
 */
final class ItemLists {

  private ItemLists() {}

  /**
   * @param items matching credentials, newest first; never a password
   * @param nextCursor pass as {@code cursor} (with the same filters) for the next page; null on the
   *     last
   */
  record CredentialList(List<CredentialSummary> items, @Nullable String nextCursor) {}

  /**
   * @param items operator actions, newest first
   * @param nextCursor pass as {@code cursor} (with the same filters) for the next page; null on the
   *     last
   */
  record AuditEventList(List<AuditEvent> items, @Nullable String nextCursor) {}

  /**
   * @param items revocations Vault has not confirmed yet, oldest first
   * @param nextCursor pass as {@code cursor} (with the same filters) for the next page; null on the
   *     last
   */
  record QueuedRevocationList(List<QueuedRevocation> items, @Nullable String nextCursor) {}

  /**
   * @param items roles revoked in Vault (no login, no sessions) that are still in a target
   *     database, oldest first
   * @param checkTime when the broker last read them; null before its first check
   */
  record UndroppedRoleList(List<UndroppedRoles.UndroppedRole> items, @Nullable Instant checkTime) {}
}
