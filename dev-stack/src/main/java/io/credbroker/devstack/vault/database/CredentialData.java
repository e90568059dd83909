package io.credbroker.devstack.vault.database;

/**
 * The {@code data} of a {@code creds} response: exactly Vault's two fields. Immutable; {@link
 * #toString} hides the password so a logged response never shows it.
 */
record CredentialData(String username, String password) {

  @Override
  public String toString() {
    return "CredentialData[username=" + username + "]";
  }
}
