package io.credbroker.broker.lease;

import java.util.Objects;
import java.util.UUID;

/**
 * Published as a Spring application event, on the replica that learns of it, when a credential must
 * end on its stream. The gRPC layer sends {@code revoked} to the stream holding the credential on
 * this replica (if any) and ends that stream with PERMISSION_DENIED, with {@code reason} as the
 * ErrorInfo reason.
 *
 * @param credentialId the credential that ended
 * @param reason a short machine-readable reason in UPPER_SNAKE_CASE, e.g. {@code POD_REVOKED} or
 *     {@code CREDENTIAL_REVOKED}
 */
public record CredentialRevokedEvent(UUID credentialId, String reason) {

  public CredentialRevokedEvent {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(reason, "reason");
    if (!reason.matches("[A-Z][A-Z0-9_]{0,62}")) {
      throw new IllegalArgumentException("reason must be UPPER_SNAKE_CASE");
    }
  }
}
