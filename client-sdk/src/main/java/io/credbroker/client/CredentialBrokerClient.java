package io.credbroker.client;

import io.credbroker.client.internal.BackoffPolicy;
import io.credbroker.client.internal.ClientRuntime;
import io.credbroker.client.internal.Issuance;
import io.credbroker.client.internal.TokenFileCallCredentials;
import io.credbroker.client.internal.WatchSubscription;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The application's connection to the credential broker: opens credential streams and keeps them
 * alive.
 *
 * <p>Build one per application with {@link #builder()} and share it; it is thread-safe. Every call
 * carries the pod's projected service-account token, read from the token file before each call
 * because the kubelet rotates it. The token goes only onto a connection that gRPC reports as
 * private and integrity-protected, such as the client's own TLS channel, which verifies the broker
 * against the JVM's trusted CAs unless given others; on any other the call fails and the stream
 * stops, unless the application {@linkplain Builder#allowInsecureTransport() allowed it}. Streams
 * that break are re-opened with exponential backoff and jitter, resuming the credential the
 * application already holds.
 *
 * <p>{@link #close()} closes every subscription (which releases their credentials at the broker),
 * then stops the client's threads and, if the client built the channel, shuts the channel down.
 *
 * <pre>{@code
 * CredentialBrokerClient client = CredentialBrokerClient.builder().target("credbroker.credbroker:9090").build();
 * CredentialSubscription db1 = client.watch("db1", credential -> pool.switchTo(credential));
 * }</pre>
 */
public final class CredentialBrokerClient implements AutoCloseable {

  /**
   * Where the pod spec should project the service-account token with audience {@code credbroker}.
   */
  public static final Path DEFAULT_TOKEN_FILE = Path.of("/var/run/secrets/credbroker/token");

  private static final System.Logger LOG = System.getLogger(CredentialBrokerClient.class.getName());

  private final ClientRuntime runtime;
  private final @Nullable ManagedChannel ownedChannel;
  private final ScheduledExecutorService scheduler;
  private final @Nullable ExecutorService ownedCallbackExecutor;
  private final Set<WatchSubscription> subscriptions = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private CredentialBrokerClient(Builder builder) {
    // The channel first: reading a CA file may fail, and no thread should be left running when it
    // does.
    Channel channel;
    if (builder.channel != null) {
      this.ownedChannel = null;
      channel = builder.channel;
    } else {
      this.ownedChannel =
          Grpc.newChannelBuilder(
                  Objects.requireNonNull(builder.target), builder.channelCredentials())
              .userAgent("credbroker-client-sdk")
              .build();
      channel = ownedChannel;
    }
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(daemonThreads("credbroker-client-scheduler"));
    this.ownedCallbackExecutor =
        builder.callbackExecutor == null
            ? Executors.newSingleThreadExecutor(daemonThreads("credbroker-client-callbacks"))
            : null;
    Executor callbackExecutor =
        builder.callbackExecutor != null ? builder.callbackExecutor : ownedCallbackExecutor;
    this.runtime =
        new ClientRuntime(
            channel,
            ownedChannel,
            new TokenFileCallCredentials(builder.tokenFile, builder.allowInsecureTransport),
            scheduler,
            Objects.requireNonNull(callbackExecutor),
            builder.eventListener,
            new BackoffPolicy(
                builder.initialBackoff,
                builder.maxBackoff,
                builder.backoffMultiplier,
                builder.backoffJitter),
            builder.maxUnauthenticatedRetries,
            builder.requestTimeout,
            builder.streamIdleTimeout);
  }

  /** A builder with the defaults described on each of its methods. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Opens a credential stream for {@code databaseRole} with the broker's default lifetime.
   *
   * @see #watch(String, Duration, CredentialListener)
   */
  public CredentialSubscription watch(String databaseRole, CredentialListener listener) {
    return open(databaseRole, null, listener);
  }

  /**
   * Opens a credential stream for {@code databaseRole} and keeps it open until the returned
   * subscription (or this client) is closed. Returns at once; the credential arrives on {@code
   * listener}, or through {@link CredentialSubscription#awaitCredential(Duration)}.
   *
   * @param requestedTtl the lifetime to ask for each lease; Vault caps it at the role's maximum
   * @throws IllegalArgumentException if {@code databaseRole} is blank or {@code requestedTtl} is
   *     not positive
   * @throws IllegalStateException if this client is closed
   */
  public CredentialSubscription watch(
      String databaseRole, Duration requestedTtl, CredentialListener listener) {
    Objects.requireNonNull(requestedTtl, "requestedTtl");
    if (requestedTtl.isNegative() || requestedTtl.isZero()) {
      throw new IllegalArgumentException("requestedTtl must be positive, was " + requestedTtl);
    }
    return open(databaseRole, requestedTtl, listener);
  }

  private CredentialSubscription open(
      String databaseRole, @Nullable Duration requestedTtl, CredentialListener listener) {
    Objects.requireNonNull(databaseRole, "databaseRole");
    Objects.requireNonNull(listener, "listener");
    if (databaseRole.isBlank()) {
      throw new IllegalArgumentException("databaseRole must not be blank");
    }
    if (closed) {
      throw new IllegalStateException("the credential broker client is closed");
    }
    var subscription =
        new WatchSubscription(runtime, databaseRole, requestedTtl, listener, subscriptions::remove);
    subscriptions.add(subscription);
    if (closed) {
      // close() may have run between the check above and the registration: it would have missed
      // this one.
      subscriptions.remove(subscription);
      throw new IllegalStateException("the credential broker client is closed");
    }
    subscription.start();
    return subscription;
  }

  /**
   * Obtains one credential without a stream ({@code IssueCredential}), for jobs and init containers
   * that need it for less than its lifetime. Nobody renews, rotates or releases it: it expires at
   * {@link Credential#expireTime()}. Blocks for at most the request timeout; not retried.
   *
   * @param requestedTtl the lifetime to ask for, or {@code null} for the Vault role's default
   * @throws CredentialBrokerException if the broker refused or could not be reached
   * @throws IllegalArgumentException if {@code databaseRole} is blank or {@code requestedTtl} is
   *     not positive
   */
  public Credential issue(String databaseRole, @Nullable Duration requestedTtl) {
    Objects.requireNonNull(databaseRole, "databaseRole");
    if (databaseRole.isBlank()) {
      throw new IllegalArgumentException("databaseRole must not be blank");
    }
    if (requestedTtl != null && (requestedTtl.isNegative() || requestedTtl.isZero())) {
      throw new IllegalArgumentException("requestedTtl must be positive, was " + requestedTtl);
    }
    if (closed) {
      throw new IllegalStateException("the credential broker client is closed");
    }
    return Issuance.issue(runtime, databaseRole, requestedTtl);
  }

  /**
   * Closes every subscription, releasing their credentials, then stops the client's threads and its
   * own channel. Blocks for at most about the request timeout per subscription. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (WatchSubscription subscription : List.copyOf(subscriptions)) {
      subscription.close();
    }
    scheduler.shutdownNow();
    if (ownedCallbackExecutor != null) {
      ownedCallbackExecutor.shutdown();
    }
    if (ownedChannel != null) {
      ownedChannel.shutdown();
      try {
        if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
          ownedChannel.shutdownNow();
        }
      } catch (InterruptedException e) {
        ownedChannel.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    LOG.log(System.Logger.Level.DEBUG, "credential broker client closed");
  }

  private static ThreadFactory daemonThreads(String name) {
    return runnable -> {
      Thread thread = new Thread(runnable, name);
      thread.setDaemon(true);
      return thread;
    };
  }

  /**
   * Configures a {@link CredentialBrokerClient}. Not thread-safe; use it from one thread, then
   * discard it. Exactly one of {@link #target(String)} and {@link #channel(Channel)} is required.
   */
  public static final class Builder {

    private @Nullable String target;
    private @Nullable Channel channel;
    private boolean plaintext;
    private boolean allowInsecureTransport;
    private @Nullable Path trustedCertificates;
    private Path tokenFile = DEFAULT_TOKEN_FILE;
    private Duration initialBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private double backoffMultiplier = 2.0;
    private double backoffJitter = 0.2;
    private int maxUnauthenticatedRetries = 3;
    private Duration requestTimeout = Duration.ofSeconds(10);
    private Duration streamIdleTimeout = Duration.ofMinutes(2);
    private ClientEventListener eventListener = ClientEventListener.NONE;
    private @Nullable Executor callbackExecutor;

    private Builder() {}

    /**
     * The broker's address as a gRPC target: {@code host:port} or a URI such as {@code
     * dns:///broker:9090}. The client builds, and on close shuts down, its own channel. TLS with
     * the JVM's trusted CAs unless configured otherwise.
     */
    public Builder target(String target) {
      Objects.requireNonNull(target, "target");
      if (target.isBlank()) {
        throw new IllegalArgumentException("target must not be blank");
      }
      this.target = target;
      return this;
    }

    /**
     * A channel the application built and owns (for example with its own TLS or interceptors). The
     * client never shuts it down. The token goes only onto connections that gRPC reports as private
     * and integrity-protected (TLS, or in-process); see {@link #allowInsecureTransport()}.
     *
     * <p>Before re-opening a stream the client resets the connect backoff of a {@link
     * ManagedChannel}, but unlike its own channel it never makes the application's channel drop its
     * connections after a stream went silent: set keepalive on it ({@code keepAliveTime}) so that a
     * connection to a frozen broker is given up.
     */
    public Builder channel(Channel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
      return this;
    }

    /**
     * Talks to {@link #target(String)} without TLS. Requires {@link #allowInsecureTransport()} as
     * well, since every call carries the pod's token; {@link #build()} refuses it without.
     */
    public Builder plaintext() {
      this.plaintext = true;
      return this;
    }

    /**
     * Sends the pod's token even over a connection that gRPC does not report as private and
     * integrity-protected ({@code SecurityLevel.PRIVACY_AND_INTEGRITY}): there the token travels in
     * clear text, and whoever reads it can act as the pod until it expires. Acceptable only for
     * loopback development, or for a channel secured outside gRPC, such as a service mesh's mTLS
     * sidecar reached over {@code localhost}. Without it (the default), a call over such a
     * connection fails with UNAUTHENTICATED before the token is even read, and the stream stops at
     * once with reason {@code INSECURE_TRANSPORT}. No effect on a TLS channel.
     */
    public Builder allowInsecureTransport() {
      this.allowInsecureTransport = true;
      return this;
    }

    /**
     * Trusts the CA certificates in this PEM file instead of the JVM's for the {@link
     * #target(String)}, for a broker whose certificate a private CA issued. The broker's host name
     * is still verified against its certificate.
     */
    public Builder trustedCertificates(Path pemFile) {
      this.trustedCertificates = Objects.requireNonNull(pemFile, "pemFile");
      return this;
    }

    /**
     * The projected service-account token; default {@link #DEFAULT_TOKEN_FILE}. Read before every
     * call.
     */
    public Builder tokenFile(Path tokenFile) {
      this.tokenFile = Objects.requireNonNull(tokenFile, "tokenFile");
      return this;
    }

    /**
     * Reconnect delays: the first retry waits about {@code initial}, each further one {@code
     * multiplier} times longer, never more than {@code max}; default 500 ms, 30 s. A longer {@code
     * RetryInfo} from the broker wins.
     */
    public Builder backoff(Duration initial, Duration max) {
      this.initialBackoff = Objects.requireNonNull(initial, "initial");
      this.maxBackoff = Objects.requireNonNull(max, "max");
      return this;
    }

    /** How much longer each further retry waits; default 2. */
    public Builder backoffMultiplier(double multiplier) {
      this.backoffMultiplier = multiplier;
      return this;
    }

    /** Spreads each delay by up to this fraction either way; default 0.2. */
    public Builder backoffJitter(double jitter) {
      this.backoffJitter = jitter;
      return this;
    }

    /**
     * How many UNAUTHENTICATED answers in a row a stream retries (re-reading the token) before it
     * stops; default 3.
     */
    public Builder maxUnauthenticatedRetries(int retries) {
      if (retries < 0) {
        throw new IllegalArgumentException(
            "maxUnauthenticatedRetries must not be negative, was " + retries);
      }
      this.maxUnauthenticatedRetries = retries;
      return this;
    }

    /** Deadline of {@code AcknowledgeRotation} and {@code ReleaseCredential}; default 10 s. */
    public Builder requestTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("requestTimeout must be positive, was " + timeout);
      }
      this.requestTimeout = timeout;
      return this;
    }

    /**
     * How long a stream may go without any event (heartbeats included) before the client presumes
     * the broker dead and reconnects, resuming its credential; default 2 minutes, which suits the
     * broker's default 30 s heartbeat. Keep it several heartbeat intervals long. {@link
     * Duration#ZERO} disables the check. On this timeout, as on UNAVAILABLE, the client's own
     * channel drops its connections, so that the resumed stream does not go to the same silent
     * broker.
     */
    public Builder streamIdleTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException(
            "streamIdleTimeout must not be negative, was " + timeout);
      }
      this.streamIdleTimeout = timeout;
      return this;
    }

    /** Observes connects, failures, reconnects and acknowledgements, for metrics; default none. */
    public Builder eventListener(ClientEventListener eventListener) {
      this.eventListener = Objects.requireNonNull(eventListener, "eventListener");
      return this;
    }

    /**
     * Runs {@link CredentialListener} callbacks. Default: one daemon thread owned by the client.
     * Callbacks of one subscription stay serial on any executor.
     */
    public Builder callbackExecutor(Executor executor) {
      this.callbackExecutor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Builds the client.
     *
     * @throws IllegalArgumentException if the settings contradict each other, {@link #plaintext()}
     *     lacks {@link #allowInsecureTransport()}, or the CA file cannot be read
     */
    public CredentialBrokerClient build() {
      if ((target == null) == (channel == null)) {
        throw new IllegalArgumentException("set exactly one of target(...) and channel(...)");
      }
      if (channel != null && (plaintext || trustedCertificates != null)) {
        throw new IllegalArgumentException(
            "plaintext() and trustedCertificates(...) apply to target(...), not to an application's channel");
      }
      if (plaintext && trustedCertificates != null) {
        throw new IllegalArgumentException(
            "plaintext() and trustedCertificates(...) exclude each other");
      }
      if (plaintext && !allowInsecureTransport) {
        // Found at startup rather than as a refused first call.
        throw new IllegalArgumentException(
            "plaintext() would send the pod's token in clear text: use TLS, or add "
                + "allowInsecureTransport() for loopback development or a channel secured outside gRPC");
      }
      // Validates the backoff settings before any thread is started.
      new BackoffPolicy(initialBackoff, maxBackoff, backoffMultiplier, backoffJitter);
      return new CredentialBrokerClient(this);
    }

    private ChannelCredentials channelCredentials() {
      if (plaintext) {
        return InsecureChannelCredentials.create();
      }
      if (trustedCertificates == null) {
        return TlsChannelCredentials.create();
      }
      try {
        return TlsChannelCredentials.newBuilder()
            .trustManager(trustedCertificates.toFile())
            .build();
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "cannot read trusted certificates from " + trustedCertificates,
            new UncheckedIOException(e));
      }
    }
  }
}
