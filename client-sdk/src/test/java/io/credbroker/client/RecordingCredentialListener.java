package io.credbroker.client;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records every callback of one subscription, for assertions. Thread-safe. */
public final class RecordingCredentialListener implements CredentialListener {

  /** A revocation as the listener saw it. */
  public record Revocation(Credential credential, String reason) {}

  public final List<Credential> credentials = new CopyOnWriteArrayList<>();
  public final List<Credential> renewals = new CopyOnWriteArrayList<>();
  public final List<Credential> expiring = new CopyOnWriteArrayList<>();
  public final List<Revocation> revocations = new CopyOnWriteArrayList<>();
  public final List<CredentialBrokerException> stops = new CopyOnWriteArrayList<>();

  @Override
  public void onCredential(Credential credential) {
    credentials.add(credential);
  }

  @Override
  public void onRenewed(Credential credential) {
    renewals.add(credential);
  }

  @Override
  public void onExpiring(Credential credential) {
    expiring.add(credential);
  }

  @Override
  public void onRevoked(Credential credential, String reason) {
    revocations.add(new Revocation(credential, reason));
  }

  @Override
  public void onStopped(CredentialBrokerException error) {
    stops.add(error);
  }
}
