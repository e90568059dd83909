package io.credbroker.broker.lease;

import java.util.Locale;

/** Why a credential was replaced early. */
public enum RotationReason {
  /** The next renewal could not extend the lease meaningfully before Vault's max TTL. */
  MAX_TTL,
  /** Vault refused to renew the lease. */
  RENEWAL_REFUSED,
  /**
   * The Vault token that created the lease dies soon, and Vault revokes the lease with it whatever
   * its TTL.
   */
  TOKEN_EXPIRY;

  /** The metric tag value. */
  public String tag() {
    return name().toLowerCase(Locale.ROOT);
  }
}
