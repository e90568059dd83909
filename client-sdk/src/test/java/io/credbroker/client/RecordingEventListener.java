package io.credbroker.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;

/** Records client events as short strings plus the scheduled reconnect delays. Thread-safe. */
public final class RecordingEventListener implements ClientEventListener {

  public final List<String> events = new CopyOnWriteArrayList<>();
  public final List<Duration> reconnectDelays = new CopyOnWriteArrayList<>();

  @Override
  public void connectStarted(
      String databaseRole, int attempt, @Nullable String resumeCredentialId) {
    events.add("connect " + attempt + " resume=" + resumeCredentialId);
  }

  @Override
  public void streamFailed(String databaseRole, Status.Code code, @Nullable String reason) {
    events.add("failed " + code + " " + reason);
  }

  @Override
  public void reconnectScheduled(String databaseRole, int attempt, Duration delay) {
    reconnectDelays.add(delay);
    events.add("reconnect " + attempt);
  }

  @Override
  public void credentialReceived(
      String databaseRole, String credentialId, CredentialSource source) {
    events.add("received " + source + " " + credentialId);
  }

  @Override
  public void rotationAcknowledged(String databaseRole, String credentialId) {
    events.add("acknowledged " + credentialId);
  }

  @Override
  public void credentialReleased(String databaseRole, String credentialId) {
    events.add("released " + credentialId);
  }

  @Override
  public void callFailed(String databaseRole, String method, Status.Code code) {
    events.add("call failed " + method + " " + code);
  }

  @Override
  public void subscriptionStopped(String databaseRole, Status.Code code, @Nullable String reason) {
    events.add("stopped " + code + " " + reason);
  }
}
