package io.credbroker.client.internal;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.client.ClientEventListener;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * What every subscription of one client shares: stubs carrying the token-file credentials, the
 * scheduler for reconnects, the callback executor and the settings. Immutable; its executors are
 * owned and shut down by the client.
 */
public final class ClientRuntime {

  /**
   * The channel the client built, which it may move off a connection; null for the application's.
   */
  private final @Nullable ManagedChannel ownedChannel;

  /** The channel whose connect backoff may be reset: the client's own or the application's. */
  private final @Nullable ManagedChannel managedChannel;

  private final CredentialBrokerGrpc.CredentialBrokerStub stub;
  private final CredentialBrokerGrpc.CredentialBrokerBlockingStub blockingStub;
  private final ScheduledExecutorService scheduler;
  private final Executor callbackExecutor;
  private final ClientEventListener events;
  private final BackoffPolicy backoff;
  private final int maxUnauthenticatedRetries;
  private final Duration requestTimeout;
  private final Duration streamIdleTimeout;

  /**
   * @param ownedChannel {@code channel} itself when the client built it, else null: only then does
   *     a failed stream make the channel leave its connection (see {@link #dropConnection()})
   */
  public ClientRuntime(
      Channel channel,
      @Nullable ManagedChannel ownedChannel,
      TokenFileCallCredentials credentials,
      ScheduledExecutorService scheduler,
      Executor callbackExecutor,
      ClientEventListener events,
      BackoffPolicy backoff,
      int maxUnauthenticatedRetries,
      Duration requestTimeout,
      Duration streamIdleTimeout) {
    if (ownedChannel != null && ownedChannel != channel) {
      throw new IllegalArgumentException("ownedChannel must be the channel itself");
    }
    this.ownedChannel = ownedChannel;
    this.managedChannel = channel instanceof ManagedChannel managed ? managed : null;
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

  /**
   * After a stream ended UNAVAILABLE (the idle timeout included): makes the client's own channel
   * drop its connections, so that the next stream is sent over a new connection, which a Service
   * routes to a ready replica, instead of over the connection that went silent. A replica frozen
   * (SIGSTOP) or cut off by a blackholing network keeps its TCP connection "open", and nothing in
   * gRPC notices without keepalive: pick-first would keep sending every new stream to it.
   *
   * <p>grpc-java's {@code ManagedChannel.enterIdle()} shuts down the channel's name resolver and
   * load balancer (whose subchannels shut their transports down gracefully: calls still open on
   * them go on), and the next call builds new ones, resolves the target again and connects anew. It
   * runs on the channel's synchronization context and does nothing while the channel is idle
   * already ({@code ManagedChannelImpl.enterIdle}: {@code lbHelper == null}), so several
   * subscriptions failing together cost one reconnection. An application's channel is left alone:
   * its other calls and its load-balancing state are the application's; it should set keepalive
   * ({@code keepAliveTime}) to notice a silent peer.
   */
  void dropConnection() {
    if (ownedChannel != null) {
      ownedChannel.enterIdle();
    }
  }

  /**
   * Before a stream is re-opened: ends the channel's connect backoff, so that a broker that came
   * back is dialled at once instead of after gRPC's own backoff, which grows to two minutes while a
   * broker refuses connections. grpc-java's {@code ManagedChannel.resetConnectBackoff()} makes
   * every subchannel waiting in TRANSIENT_FAILURE reconnect now and refreshes a name resolution
   * waiting in its backoff ({@code ManagedChannelImpl.resetConnectBackoff}); it does not disturb
   * connections that work, so it applies to an application's channel too.
   */
  void resetConnectBackoff() {
    if (managedChannel != null) {
      managedChannel.resetConnectBackoff();
    }
  }
}
