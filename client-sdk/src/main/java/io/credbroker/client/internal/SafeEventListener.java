package io.credbroker.client.internal;

import io.credbroker.client.ClientEventListener;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Shields the client from an application's {@link ClientEventListener} that throws: metrics code
 * must never break credential handling. Thread-safe if the wrapped listener is.
 */
final class SafeEventListener implements ClientEventListener {

  private static final System.Logger LOG = System.getLogger(SafeEventListener.class.getName());

  private final ClientEventListener delegate;

  SafeEventListener(ClientEventListener delegate) {
    this.delegate = delegate;
  }

  private void guard(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "client event listener failed", e);
    }
  }

  @Override
  public void connectStarted(
      String databaseRole, int attempt, @Nullable String resumeCredentialId) {
    guard(() -> delegate.connectStarted(databaseRole, attempt, resumeCredentialId));
  }

  @Override
  public void streamFailed(String databaseRole, Status.Code code, @Nullable String reason) {
    guard(() -> delegate.streamFailed(databaseRole, code, reason));
  }

  @Override
  public void reconnectScheduled(String databaseRole, int attempt, Duration delay) {
    guard(() -> delegate.reconnectScheduled(databaseRole, attempt, delay));
  }

  @Override
  public void credentialReceived(
      String databaseRole, String credentialId, CredentialSource source) {
    guard(() -> delegate.credentialReceived(databaseRole, credentialId, source));
  }

  @Override
  public void credentialRenewed(
      String databaseRole, String credentialId, @Nullable Instant expireTime) {
    guard(() -> delegate.credentialRenewed(databaseRole, credentialId, expireTime));
  }

  @Override
  public void rotationAcknowledged(String databaseRole, String credentialId) {
    guard(() -> delegate.rotationAcknowledged(databaseRole, credentialId));
  }

  @Override
  public void credentialReleased(String databaseRole, String credentialId) {
    guard(() -> delegate.credentialReleased(databaseRole, credentialId));
  }

  @Override
  public void callFailed(String databaseRole, String method, Status.Code code) {
    guard(() -> delegate.callFailed(databaseRole, method, code));
  }

  @Override
  public void subscriptionStopped(String databaseRole, Status.Code code, @Nullable String reason) {
    guard(() -> delegate.subscriptionStopped(databaseRole, code, reason));
  }
}
