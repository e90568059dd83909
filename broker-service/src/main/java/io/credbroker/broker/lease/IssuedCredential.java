package io.credbroker.broker.lease;

import io.credbroker.broker.auth.ConnectionHints;
import java.util.Objects;

/**
 * A credential just issued, with the password that is sent to the pod once and kept nowhere.
 *
 * <p>{@link #toString()} never prints the password. Immutable.
 *
 * @param record what the state store holds about it
 * @param password the PostgreSQL password
 * @param connection where the pod connects
 */
public record IssuedCredential(
    CredentialRecord record, String password, ConnectionHints connection) {

  public IssuedCredential {
    Objects.requireNonNull(record, "record");
    Objects.requireNonNull(password, "password");
    Objects.requireNonNull(connection, "connection");
  }

  @Override
  public String toString() {
    return "IssuedCredential[record=" + record + ", password=****, connection=" + connection + "]";
  }
}
