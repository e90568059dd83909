package io.credbroker.broker.revocation;

import java.util.Objects;

/**
 * The state of one credential after an operator asked to revoke it. A repeated call gives the same
 * answer.
 *
 * @param credential the credential as it is now
 * @param revokedInVault {@code true} when Vault has confirmed its revocation (or it ended otherwise
 *     and is not waiting in the retry queue); {@code false} while a revocation waits for a retry
 */
public record CredentialRevocation(CredentialSummary credential, boolean revokedInVault) {

  public CredentialRevocation {
    Objects.requireNonNull(credential, "credential");
  }
}
