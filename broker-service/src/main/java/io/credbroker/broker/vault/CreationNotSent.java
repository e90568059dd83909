package io.credbroker.broker.vault;

import io.credbroker.broker.BrokerException;

/**
 * A credential creation the broker turned away before it asked Vault for it: a full bulkhead, an
 * open circuit, or no issuing token to ask with. Vault created no role, so the refusal may cost the
 * caller its wait and nothing else. Same reason, message and retry delay as the refusal it wraps.
 *
 * <p>Only {@link VaultDatabaseCredentials#issue} throws it. A renewal or revocation refused the
 * same way is a plain {@link BrokerException}: it may follow a creation that did happen.
 */
public final class CreationNotSent extends BrokerException {

  private static final long serialVersionUID = 1L;

  CreationNotSent(BrokerException refusal) {
    super(refusal.reason(), refusal.getMessage(), refusal.retryAfter(), refusal);
  }
}
