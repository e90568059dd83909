package io.credbroker.broker.lease;

/** Where a credential is in its life. Stored by name. */
public enum CredentialState {
  /** Its lease is alive in Vault (as far as the broker knows). */
  ACTIVE,
  /** The client released it and the lease was revoked. */
  RELEASED,
  /** An operator or the broker revoked its lease. */
  REVOKED,
  /** Its lease ran out. */
  EXPIRED
}
