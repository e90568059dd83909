package io.credbroker.broker.revocation;

import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * One credential an operator revoked.
 *
 * @param credentialId the broker's credential id
 * @param username the PostgreSQL user name that no longer logs in
 * @param databaseRole the binding's database role
 * @param podUid the pod UID it was issued to, or {@code null} for a token bound to no pod
 * @param revokedInVault {@code true} once Vault confirmed the revocation (login disabled, sessions
 *     terminated, role dropped); {@code false} while it waits in the retry queue
 */
public record RevokedCredential(
    UUID credentialId,
    String username,
    String databaseRole,
    @Nullable String podUid,
    boolean revokedInVault) {

  public RevokedCredential {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(databaseRole, "databaseRole");
  }
}
