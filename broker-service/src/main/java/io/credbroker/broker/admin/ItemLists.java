package io.credbroker.broker.admin;

import io.credbroker.broker.revocation.AuditEvent;
import io.credbroker.broker.revocation.CredentialSummary;
import io.credbroker.broker.revocation.QueuedRevocation;
import java.util.List;

/** The list answers of the admin API: an object with {@code items}, so fields can be added later. */
final class ItemLists {

  private ItemLists() {}

  /** @param items matching credentials, newest first; never a password */
  record CredentialList(List<CredentialSummary> items) {}

  /** @param items operator actions, newest first */
  record AuditEventList(List<AuditEvent> items) {}

  /** @param items revocations Vault has not confirmed yet, oldest first */
  record QueuedRevocationList(List<QueuedRevocation> items) {}
}
