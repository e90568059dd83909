package io.credbroker.broker.lease;

import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.UUID;

/**
 * The streams open on this replica, as the lease lifecycle sees them: it asks whether a stream
 * holds a credential and tells that stream what happened to it. Implemented by the gRPC layer,
 * which turns each call into an event on the stream; every method returns at once (events are
 * queued, never written while the caller waits for a slow client).
 *
 * <p>Implementations must be thread-safe: calls come from the lease workers.
 */
public interface CredentialStreams {

  /** Whether a stream on this replica currently holds the credential. */
  boolean holds(UUID credentialId);

  /**
   * Whether a call on this replica is still on its way to registering the stream {@code streamId}
   * (an issue or a resume has begun and neither registered it nor failed). Once this is false, the
   * stream either holds its credential ({@link #holds}) or never will. False by default.
   */
  default boolean opening(UUID streamId) {
    return false;
  }

  /** The credentials that streams on this replica hold now (a snapshot). */
  default Set<UUID> held() {
    return Set.of();
  }

  /** The credential's lease was renewed until {@code expireTime}. */
  void renewed(UUID credentialId, Instant expireTime);

  /**
   * A new credential replaces {@code replacedId} on the stream holding it, which from now on holds
   * the replacement.
   *
   * @param previousValidFor how long the replaced credential stays valid at most
   * @return whether a stream took the replacement (false when no stream holds {@code replacedId}
   *     any more)
   */
  boolean rotated(
      UUID replacedId,
      IssuedCredential replacement,
      Duration previousValidFor,
      RotationReason reason);

  /** The credential could not be renewed and may stop working at {@code expireTime}. */
  void expiring(UUID credentialId, Instant expireTime);

  /**
   * Ends the stream holding the credential (if any on this replica) with {@code why}, without
   * revoking anything; the credential's fate is the lease lifecycle's. Does nothing by default.
   */
  default void end(UUID credentialId, io.credbroker.broker.BrokerException why) {}

  /**
   * This replica's lease lifecycle revoked the credential for {@code trigger}: the stream holding
   * it here is told {@code revoked} and ends with FAILED_PRECONDITION {@code CREDENTIAL_REVOKED}
   * (only this credential is gone: ask for a new one), now or, when its call has not registered it
   * yet (a resume or an issuance still on its way), as soon as it does. Does nothing by default.
   */
  default void revoked(UUID credentialId, RevocationTrigger trigger) {}

  /**
   * An operator revoked the credential ({@code podRevoked}: with its pod) and the stream holding it
   * here was not told at the time: it is told now, as an operator's revocation tells it (ended with
   * PERMISSION_DENIED {@code POD_REVOKED}, or FAILED_PRECONDITION {@code CREDENTIAL_REVOKED}). Does
   * nothing by default.
   */
  default void revokedByOperator(UUID credentialId, boolean podRevoked) {}

  /** No streams: for a broker (or a test) without the gRPC layer. */
  static CredentialStreams none() {
    return new CredentialStreams() {
      @Override
      public boolean holds(UUID credentialId) {
        return false;
      }

      @Override
      public void renewed(UUID credentialId, Instant expireTime) {}

      @Override
      public boolean rotated(
          UUID replacedId,
          IssuedCredential replacement,
          Duration previousValidFor,
          RotationReason reason) {
        return false;
      }

      @Override
      public void expiring(UUID credentialId, Instant expireTime) {}
    };
  }
}
