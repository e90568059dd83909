package io.credbroker.client.internal;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.client.ClientEventListener;
import io.grpc.Channel;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What every subscription of one client shares: stubs carrying the token-file credentials, the
 * scheduler for reconnects, the callback executor and the settings. Immutable; its executors are
 * owned and shut down by the client.
 */
public final class ClientRuntime {

  private final CredentialBrokerGrpc.CredentialBrokerStub stub;
  private final CredentialBrokerGrpc.CredentialBrokerBlockingStub blockingStub;
  private final ScheduledExecutorService scheduler;
  private final Executor callbackExecutor;
  private final ClientEventListener events;
  private final BackoffPolicy backoff;
  private final int maxUnauthenticatedRetries;
  private final Duration requestTimeout;
  private final Duration streamIdleTimeout;

  public ClientRuntime(
      Channel channel,
      TokenFileCallCredentials credentials,
      ScheduledExecutorService scheduler,
      Executor callbackExecutor,
      ClientEventListener events,
      BackoffPolicy backoff,
      int maxUnauthenticatedRetries,
      Duration requestTimeout,
      Duration streamIdleTimeout) {
    this.stub = CredentialBrokerGrpc.newStub(channel).withCallCredentials(credentials);
    this.blockingStub =
        CredentialBrokerGrpc.newBlockingStub(channel).withCallCredentials(credentials);
    this.scheduler = scheduler;
    this.callbackExecutor = callbackExecutor;
    this.events = new SafeEventListener(events);
    this.backoff = backoff;
    this.maxUnauthenticatedRetries = maxUnauthenticatedRetries;
    this.requestTimeout = requestTimeout;
    this.streamIdleTimeout = streamIdleTimeout;
  }

  CredentialBrokerGrpc.CredentialBrokerStub stub() {
    return stub;
  }

  CredentialBrokerGrpc.CredentialBrokerBlockingStub blockingStub() {
    return blockingStub;
  }

  ScheduledExecutorService scheduler() {
    return scheduler;
  }

  Executor callbackExecutor() {
    return callbackExecutor;
  }

  ClientEventListener events() {
    return events;
  }

  int maxUnauthenticatedRetries() {
    return maxUnauthenticatedRetries;
  }

  Duration requestTimeout() {
    return requestTimeout;
  }

  /** How long a stream may stay silent before it is presumed dead; zero disables the check. */
  Duration streamIdleTimeout() {
    return streamIdleTimeout;
  }

  Duration backoffDelay(int failures) {
    return backoff.delay(failures, () -> ThreadLocalRandom.current().nextDouble());
  }
}
