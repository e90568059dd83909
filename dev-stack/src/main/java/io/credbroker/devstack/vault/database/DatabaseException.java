package io.credbroker.devstack.vault.database;

/**
 * A failure of the PostgreSQL plugin (initialisation, SQL, connection) with a message already
 * stripped of the admin password, ready to become Vault's error text.
 */
final class DatabaseException extends Exception {

  DatabaseException(String message) {
    super(message);
  }

  DatabaseException(String message, Throwable cause) {
    super(message, cause);
  }
}
