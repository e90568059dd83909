package io.credbroker.client;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * One open {@code WatchCredential} stream for one database role, kept alive by the client until
 * closed.
 *
 * <p>Created by {@link CredentialBrokerClient#watch(String, CredentialListener)}. Thread-safe. The
 * client reconnects the stream on its own; closing the subscription cancels it and releases the
 * current credential at the broker, so the PostgreSQL role is revoked at once instead of after the
 * broker's reconnect grace.
 */
public interface CredentialSubscription extends AutoCloseable {

  /** The database role this subscription asked for. */
  String databaseRole();

  /** The credential currently in use, if one has arrived and was not revoked. */
  Optional<Credential> currentCredential();

  /**
   * Waits until a credential is available and returns the current one.
   *
   * @throws TimeoutException if none arrived in time
   * @throws CredentialBrokerException if the subscription stopped or was closed before any
   *     credential arrived
   * @throws InterruptedException if the waiting thread was interrupted
   */
  Credential awaitCredential(Duration timeout) throws InterruptedException, TimeoutException;

  /** Whether the subscription still tries to hold a credential (neither stopped nor closed). */
  boolean isActive();

  /**
   * Cancels the stream and releases the current credential, waiting at most the client's request
   * timeout for the broker to confirm. Idempotent; never throws.
   */
  @Override
  void close();
}
