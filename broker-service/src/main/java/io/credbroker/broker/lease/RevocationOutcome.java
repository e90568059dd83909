package io.credbroker.broker.lease;

import java.util.Objects;
import java.util.UUID;

/**
 * What {@link LeaseService#revoke} did.
 *
 * @param credentialId the credential
 * @param username its PostgreSQL user name
 * @param revokedInVault {@code true} when Vault confirmed the revocation (its revocation statements
 *     ran: no more logins, sessions terminated, role dropped); {@code false} when Vault could not
 *     be reached and the lease waits in the persisted retry queue
 */
public record RevocationOutcome(UUID credentialId, String username, boolean revokedInVault) {

  public RevocationOutcome {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(username, "username");
  }
}
