package io.credbroker.broker.lease;

import java.util.Locale;

/**
 * Why a lease was revoked. Stored by name in the state store ({@code end_reason}) and used, in
 * lower case, as a metric tag.
 */
public enum RevocationTrigger {
  /** The client released the credential ({@code ReleaseCredential}). */
  RELEASE,
  /** A rotation replaced the credential and the client acknowledged the new one. */
  ROTATION,
  /** The stream holding it broke and nobody resumed it within the reconnect grace. */
  ABANDONED,
  /**
   * The lease ran out (a one-shot credential, a replaced one without acknowledgement, or no
   * renewal).
   */
  EXPIRED,
  /** An operator revoked the credential or its pod. */
  ADMIN,
  /** Its pod was deleted; revoked after the drain grace. */
  POD_DELETED,
  /**
   * The bindings of a replica no longer let its owner identity obtain its database role (a binding
   * was changed or removed); revoked after the drain grace.
   */
  UNBOUND;

  /** The metric tag value. */
  public String tag() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The state a credential ends in when revoked for this reason. */
  CredentialState endState() {
    return switch (this) {
      case RELEASE -> CredentialState.RELEASED;
      case EXPIRED -> CredentialState.EXPIRED;
      case ROTATION, ABANDONED, ADMIN, POD_DELETED, UNBOUND -> CredentialState.REVOKED;
    };
  }
}
