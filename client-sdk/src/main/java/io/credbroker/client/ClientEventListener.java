package io.credbroker.client;

import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Observes what the client does on the wire, for metrics and logs; every method does nothing by
 * default.
 *
 * <p>Methods are called on the client's internal threads (gRPC transport and scheduler threads),
 * possibly concurrently for different subscriptions, and must return quickly without blocking.
 * Exceptions they throw are ignored. They receive ids and names only, never a password or token.
 */
public interface ClientEventListener {

  /** A listener that ignores everything. */
  ClientEventListener NONE = new ClientEventListener() {};

  /** How a credential reached the client. */
  enum CredentialSource {
    /** A new credential answering a stream without (or after a refused) resume. */
    ISSUED,
    /** The broker adopted the credential the client already held. */
    RESUMED,
    /** A new credential that replaces the previous one. */
    ROTATED
  }

  /**
   * A {@code WatchCredential} stream is being opened.
   *
   * @param attempt counts every attempt of this subscription, starting at 1
   * @param resumeCredentialId the credential the client asks to resume, or {@code null} for a new
   *     one
   */
  default void connectStarted(
      String databaseRole, int attempt, @Nullable String resumeCredentialId) {}

  /**
   * A stream ended with an error (or was ended by the broker).
   *
   * @param reason the broker's {@code ErrorInfo.reason}, when it sent one; {@code
   *     INSECURE_TRANSPORT} when the client refused to send the token (see {@link
   *     CredentialBrokerException#reason()})
   */
  default void streamFailed(String databaseRole, Status.Code code, @Nullable String reason) {}

  /** The stream will be re-opened after {@code delay}. */
  default void reconnectScheduled(String databaseRole, int attempt, Duration delay) {}

  /** A credential arrived on a stream. */
  default void credentialReceived(
      String databaseRole, String credentialId, CredentialSource source) {}

  /** The broker extended the current credential's lifetime. */
  default void credentialRenewed(
      String databaseRole, String credentialId, @Nullable Instant expireTime) {}

  /** The broker confirmed that the client switched to a rotated credential. */
  default void rotationAcknowledged(String databaseRole, String credentialId) {}

  /** The broker confirmed the release of a credential. */
  default void credentialReleased(String databaseRole, String credentialId) {}

  /**
   * A unary call ({@code AcknowledgeRotation} or {@code ReleaseCredential}) failed for good.
   *
   * @param method the RPC name
   */
  default void callFailed(String databaseRole, String method, Status.Code code) {}

  /**
   * The subscription gave up; see {@link CredentialListener#onStopped(CredentialBrokerException)}.
   */
  default void subscriptionStopped(
      String databaseRole, Status.Code code, @Nullable String reason) {}
}
