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
 * @param ended whether this revocation ended the credential; {@code false} when it had ended
 *     already or, for a revocation by its owner, the owner's reading of it was stale (nothing done)
 */
public record RevocationOutcome(
    UUID credentialId, String username, boolean revokedInVault, boolean ended) {

  public RevocationOutcome {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(username, "username");
  }
}
