package io.credbroker.client;

/**
 * Receives what happens to the credential of one {@link CredentialSubscription}.
 *
 * <p>Callbacks of one subscription run one at a time, in the order the broker sent the events, on
 * the client's callback executor; they never run after {@link CredentialSubscription#close()} has
 * returned. A callback may block briefly (switching a connection pool is fine) but holds up later
 * events of the same subscription while it does.
 */
public interface CredentialListener {

  /**
   * A credential the application should use from now on: the first one, a rotation's replacement,
   * or a fresh one after the broker refused to resume the previous one.
   *
   * <p>When the credential came from a rotation, returning normally means "my pool now uses it":
   * the client then acknowledges the rotation so the broker can revoke the replaced credential.
   * Throwing means "not switched": nothing is acknowledged, and the same credential is offered
   * again after a backoff for as long as it is the subscription's current one (until a newer one
   * arrives, it is revoked, or the subscription ends), so that a pool that could not log in during
   * a database failover switches once it can.
   */
  void onCredential(Credential credential);

  /** The current credential's expiry moved later (a renewal, or a resumed stream). */
  default void onRenewed(Credential credential) {}

  /**
   * The broker cannot renew the current credential right now; it keeps working until {@link
   * Credential#expireTime()} and the broker keeps trying.
   */
  default void onExpiring(Credential credential) {}

  /**
   * An operator revoked the current credential: it no longer logs in and its sessions are being
   * terminated. When the whole pod was revoked ({@code POD_REVOKED}), {@link
   * #onStopped(CredentialBrokerException)} follows; when only this credential was ({@code
   * CREDENTIAL_REVOKED}), the subscription asks for a new one and {@link #onCredential(Credential)}
   * follows.
   *
   * @param reason the broker's machine-readable reason, for example {@code POD_REVOKED}
   */
  default void onRevoked(Credential credential, String reason) {}

  /**
   * The subscription gave up: the broker refused it in a way retrying cannot fix (revoked pod,
   * unknown database role, a token that keeps being rejected). No further callbacks follow. No
   * stream holds the last credential, if any, any more: the broker revokes it after its reconnect
   * grace (a couple of minutes by default), or has revoked it already.
   */
  default void onStopped(CredentialBrokerException error) {}
}
