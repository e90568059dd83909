package io.credbroker.client.internal;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.Duration;
import io.credbroker.api.v1.AcknowledgeRotationRequest;
import io.credbroker.api.v1.AcknowledgeRotationResponse;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.client.ClientEventListener.CredentialSource;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerException;
import io.credbroker.client.CredentialListener;
import io.credbroker.client.CredentialSubscription;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One database role's {@code WatchCredential} stream, re-opened until closed or refused for good.
 *
 * <p>Thread-safe: gRPC callbacks, scheduler ticks and application calls all meet under one lock,
 * and leave it before calling anything outside the class. Listener callbacks go through a {@link
 * SerialExecutor}, so they keep the broker's order and never run concurrently with each other.
 *
 * <p>Lifecycle: NEW, then ACTIVE after {@link #start()}; ACTIVE until the broker refuses the stream
 * for good (STOPPED) or the application closes it (CLOSED). Only {@link #close()} releases the
 * credential.
 */
public final class WatchSubscription implements CredentialSubscription {

  private enum State {
    NEW,
    ACTIVE,
    STOPPED,
    CLOSED
  }

  /**
   * Codes after which the proto contract says "retry with backoff". UNKNOWN is added because gRPC
   * reports an uncaught broker exception, and most non-gRPC proxy errors, that way: the same as
   * INTERNAL for a client. UNAUTHENTICATED is retried too, but only a few times (see {@link
   * ClientRuntime#maxUnauthenticatedRetries()}), and not at all when the client itself refused an
   * insecure channel.
   */
  private static final Set<Status.Code> RETRYABLE =
      EnumSet.of(
          Status.Code.UNAVAILABLE,
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.INTERNAL,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.UNKNOWN);

  /**
   * Answers to a resume attempt that mean "this credential cannot be resumed; ask for a new one".
   */
  private static final Set<Status.Code> RESUME_REFUSED =
      EnumSet.of(
          Status.Code.FAILED_PRECONDITION, Status.Code.NOT_FOUND, Status.Code.PERMISSION_DENIED);

  /**
   * The broker's reason for ending a stream whose one credential an operator revoked (the pod may
   * ask again).
   */
  private static final String CREDENTIAL_REVOKED = "CREDENTIAL_REVOKED";

  /**
   * Attempts at acknowledging one rotation: with the backoff's default steps they span about a
   * minute, past a replica's short overload, well within a rotation's drain margin.
   */
  private static final int MAX_ACKNOWLEDGE_ATTEMPTS = 8;

  private static final System.Logger LOG = System.getLogger(WatchSubscription.class.getName());

  /**
   * How long a stream must have been receiving events for its end to restart the backoff at its
   * first step.
   */
  private static final java.time.Duration HEALTHY_STREAM = java.time.Duration.ofSeconds(30);

  private final ClientRuntime runtime;
  private final String databaseRole;
  private final java.time.@Nullable Duration requestedTtl;
  private final CredentialListener listener;
  private final SerialExecutor callbacks;
  private final Consumer<WatchSubscription> onClosed;
  private final CompletableFuture<Credential> firstCredential = new CompletableFuture<>();

  /**
   * Cleared by {@link #close()} so that no callback reaches the application after close returns.
   */
  private volatile boolean callbacksEnabled = true;

  private final Object lock = new Object();

  @GuardedBy("lock")
  private State state = State.NEW;

  @GuardedBy("lock")
  private @Nullable Stream active;

  @GuardedBy("lock")
  private @Nullable ScheduledFuture<?> pendingReconnect;

  /** The newest credential with its password; what a reconnect resumes and what close releases. */
  @GuardedBy("lock")
  private @Nullable Credential current;

  /**
   * False after the broker refused to resume {@link #current}: the next stream asks for a new
   * credential.
   */
  @GuardedBy("lock")
  private boolean resumeAllowed = true;

  @GuardedBy("lock")
  private int attempts;

  /**
   * Consecutive failed streams, reset when a stream ends that had been receiving events for {@link
   * #HEALTHY_STREAM}; drives the backoff.
   */
  @GuardedBy("lock")
  private int failures;

  @GuardedBy("lock")
  private int unauthenticatedFailures;

  @GuardedBy("lock")
  private @Nullable CredentialBrokerException stopError;

  public WatchSubscription(
      ClientRuntime runtime,
      String databaseRole,
      java.time.@Nullable Duration requestedTtl,
      CredentialListener listener,
      Consumer<WatchSubscription> onClosed) {
    this.runtime = runtime;
    this.databaseRole = databaseRole;
    this.requestedTtl = requestedTtl;
    this.listener = listener;
    this.callbacks = new SerialExecutor(runtime.callbackExecutor(), runtime.scheduler());
    this.onClosed = onClosed;
  }

  /** Opens the first stream. Called once, by the client. */
  public void start() {
    synchronized (lock) {
      if (state != State.NEW) {
        throw new IllegalStateException("subscription already started");
      }
      state = State.ACTIVE;
    }
    connect();
  }

  @Override
  public String databaseRole() {
    return databaseRole;
  }

  @Override
  public Optional<Credential> currentCredential() {
    synchronized (lock) {
      return Optional.ofNullable(current);
    }
  }

  @Override
  public Credential awaitCredential(java.time.Duration timeout)
      throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      firstCredential.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof CredentialBrokerException error) {
        throw error;
      }
      throw new IllegalStateException("waiting for a credential failed", e.getCause());
    }
    synchronized (lock) {
      while (true) {
        if (state == State.CLOSED) {
          throw new CredentialBrokerException(
              "the subscription for " + databaseRole + " was closed",
              Status.Code.CANCELLED,
              null,
              null);
        }
        if (current != null) {
          return current;
        }
        if (stopError != null) {
          throw stopError;
        }
        // The current credential was revoked and its replacement has not arrived: the first one
        // is long gone, so wait for the replacement.
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new TimeoutException(
              "no credential for " + databaseRole + " since the last one was revoked");
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
    }
  }

  @Override
  public boolean isActive() {
    synchronized (lock) {
      return state == State.NEW || state == State.ACTIVE;
    }
  }

  @Override
  public void close() {
    Stream stream;
    ScheduledFuture<?> pending;
    Credential toRelease;
    synchronized (lock) {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED;
      lock.notifyAll();
      stream = active;
      if (stream != null) {
        deactivate(stream);
      }
      pending = pendingReconnect;
      pendingReconnect = null;
      toRelease = current;
      current = null;
    }
    callbacksEnabled = false;
    if (pending != null) {
      pending.cancel(false);
    }
    if (stream != null) {
      stream.cancel("credential subscription closed");
    }
    firstCredential.completeExceptionally(
        new CredentialBrokerException(
            "the subscription for " + databaseRole + " was closed",
            Status.Code.CANCELLED,
            null,
            null));
    if (toRelease != null) {
      release(toRelease);
    }
    onClosed.accept(this);
  }

  @Override
  public String toString() {
    synchronized (lock) {
      return "CredentialSubscription[databaseRole="
          + databaseRole
          + ", state="
          + state
          + ", credentialId="
          + (current == null ? null : current.credentialId())
          + "]";
    }
  }

  private void connect() {
    Stream stream;
    int attempt;
    synchronized (lock) {
      pendingReconnect = null;
      if (state != State.ACTIVE) {
        return;
      }
      attempt = ++attempts;
      stream = new Stream(resumeAllowed && current != null ? current.credentialId() : null);
      active = stream;
      armIdleTimer(stream);
    }
    if (attempt > 1) {
      // After an outage during which the brokers refused connections, the channel may be waiting
      // out its own connect backoff (up to two minutes); the resume must not wait past the
      // broker's reconnect grace.
      runtime.resetConnectBackoff();
    }
    runtime.events().connectStarted(databaseRole, attempt, stream.resumeId);
    var request = WatchCredentialRequest.newBuilder().setDatabaseRole(databaseRole);
    if (stream.resumeId != null) {
      request.setResumeCredentialId(stream.resumeId);
    }
    if (requestedTtl != null) {
      request.setRequestedTtl(
          Duration.newBuilder()
              .setSeconds(requestedTtl.getSeconds())
              .setNanos(requestedTtl.getNano()));
    }
    runtime.stub().watchCredential(request.build(), stream);
    boolean superseded;
    synchronized (lock) {
      superseded = active != stream;
    }
    if (superseded) {
      // close() ran while the call was being started and could not cancel it yet.
      stream.cancel("credential subscription closed");
    }
  }

  // Error Prone cannot tell that the Stream's enclosing instance is this subscription, whose lock
  // guards its fields.
  @SuppressWarnings("GuardedBy")
  private void handleEvent(Stream stream, CredentialEvent event) {
    Credential incoming;
    try {
      incoming =
          switch (event.getEventCase()) {
            case ISSUED -> ProtoCredentials.toCredential(event.getIssued().getCredential());
            case ROTATED -> ProtoCredentials.toCredential(event.getRotated().getCredential());
            default -> null;
          };
    } catch (IllegalArgumentException | NullPointerException e) {
      // A credential without id or user name is a broker bug: handled like INTERNAL, that is
      // retried.
      handleEnd(
          stream,
          Status.INTERNAL
              .withDescription("the broker sent an unusable credential: " + e.getMessage())
              .asRuntimeException());
      stream.cancel("unusable credential");
      return;
    }
    List<Runnable> notifications = new ArrayList<>(1);
    boolean abandon = false;
    synchronized (lock) {
      if (state != State.ACTIVE || active != stream) {
        return;
      }
      if (!stream.receivedAny) {
        stream.receivedAny = true;
        stream.firstEventNanos = System.nanoTime();
      }
      // The broker accepted the token: UNAUTHENTICATED answers count anew.
      unauthenticatedFailures = 0;
      armIdleTimer(stream);
      switch (event.getEventCase()) {
        case ISSUED -> {
          Credential credential = java.util.Objects.requireNonNull(incoming);
          adopt(credential);
          offer(credential, false, 0);
          notifications.add(
              () ->
                  runtime
                      .events()
                      .credentialReceived(
                          databaseRole, credential.credentialId(), CredentialSource.ISSUED));
        }
        case RESUMED -> {
          var proto = event.getResumed().getCredential();
          Credential held = current;
          if (held != null && held.credentialId().equals(proto.getCredentialId())) {
            Credential credential = ProtoCredentials.resumed(held, proto);
            current = credential;
            deliver(() -> listener.onRenewed(credential));
            notifications.add(
                () ->
                    runtime
                        .events()
                        .credentialReceived(
                            databaseRole, credential.credentialId(), CredentialSource.RESUMED));
          } else {
            // The broker resumed a credential whose password this client does not hold: useless, so
            // ask anew.
            resumeAllowed = false;
            abandon = true;
          }
        }
        case RENEWED -> {
          var renewed = event.getRenewed();
          Credential held = current;
          if (held != null && held.credentialId().equals(renewed.getCredentialId())) {
            Instant expire =
                ProtoCredentials.instant(renewed.hasExpireTime(), renewed.getExpireTime());
            Credential credential = held.withExpireTime(expire);
            current = credential;
            deliver(() -> listener.onRenewed(credential));
            notifications.add(
                () ->
                    runtime
                        .events()
                        .credentialRenewed(databaseRole, credential.credentialId(), expire));
          }
        }
        case ROTATED -> {
          Credential credential = java.util.Objects.requireNonNull(incoming);
          adopt(credential);
          offer(credential, true, 0);
          notifications.add(
              () ->
                  runtime
                      .events()
                      .credentialReceived(
                          databaseRole, credential.credentialId(), CredentialSource.ROTATED));
        }
        case EXPIRING -> {
          var expiring = event.getExpiring();
          Credential held = current;
          if (held != null && held.credentialId().equals(expiring.getCredentialId())) {
            Credential credential =
                held.withExpireTime(
                    ProtoCredentials.instant(expiring.hasExpireTime(), expiring.getExpireTime()));
            current = credential;
            deliver(() -> listener.onExpiring(credential));
          }
        }
        case REVOKED -> {
          var revoked = event.getRevoked();
          Credential held = current;
          // A revoked id other than the current one is a replaced credential the application
          // already left.
          if (held != null && held.credentialId().equals(revoked.getCredentialId())) {
            current = null;
            resumeAllowed = false;
            deliver(() -> listener.onRevoked(held, revoked.getReason()));
          }
        }
        case HEARTBEAT, EVENT_NOT_SET -> {
          // Nothing changed; an event the client does not know yet is ignored for forward
          // compatibility.
        }
      }
      if (abandon) {
        deactivate(stream);
        pendingReconnect = schedule(java.time.Duration.ZERO);
      }
    }
    if (abandon) {
      stream.cancel("resumed a credential the client does not hold");
    }
    notifications.forEach(Runnable::run);
  }

  // Error Prone cannot tell that the Stream's enclosing instance is this subscription, whose lock
  // guards its fields.
  @SuppressWarnings("GuardedBy")
  private void handleEnd(Stream stream, Throwable error) {
    Status status = Status.fromThrowable(error);
    Status.Code code = status.getCode();
    // The client's own refusal to send the token over a channel that is not secure: a configuration
    // error that no
    // retry and no new token can fix, so it stops the subscription at once instead of counting as a
    // rejected token.
    boolean insecureTransport = TokenFileCallCredentials.refusedInsecureTransport(status);
    String reason =
        insecureTransport
            ? TokenFileCallCredentials.INSECURE_TRANSPORT
            : StatusDetails.errorReason(error);
    java.time.Duration delay = null;
    int nextAttempt;
    CredentialBrokerException stopped = null;
    boolean dropConnection = false;
    synchronized (lock) {
      if (state != State.ACTIVE || active != stream) {
        return;
      }
      deactivate(stream);
      if (stream.receivedAny
          && System.nanoTime() - stream.firstEventNanos >= HEALTHY_STREAM.toNanos()) {
        // A stream that served a while ends the run of failures; one that fails right after its
        // first event (a replica that resumes and then breaks) does not, or every pod would
        // re-dial it at the first backoff step forever.
        failures = 0;
      }
      boolean resumeRefused =
          stream.resumeId != null && !stream.receivedAny && RESUME_REFUSED.contains(code);
      // The credential this stream held was revoked on its own (an SRE revoked one credential, the
      // pod is not
      // blocked): ask for a new one. CREDENTIAL_REVOKED with PERMISSION_DENIED is what brokers sent
      // before.
      boolean credentialRevoked =
          stream.receivedAny
              && (code == Status.Code.FAILED_PRECONDITION || CREDENTIAL_REVOKED.equals(reason));
      if (credentialRevoked) {
        resumeAllowed = false;
        delay = java.time.Duration.ZERO;
      } else if (resumeRefused) {
        // PERMISSION_DENIED here may mean "another pod's credential" (ask anew) or "this pod is
        // revoked"; the fresh
        // request tells them apart, since a revoked pod is refused again and then stops.
        resumeAllowed = false;
        delay = java.time.Duration.ZERO;
      } else if (code == Status.Code.UNAUTHENTICATED && !insecureTransport) {
        if (++unauthenticatedFailures <= runtime.maxUnauthenticatedRetries()) {
          delay = backoff(error);
        }
      } else if (RETRYABLE.contains(code)) {
        delay = backoff(error);
      }
      if (delay != null) {
        pendingReconnect = schedule(delay);
        if (pendingReconnect == null) {
          return;
        }
        // The broker went silent (idle timeout) or away: the next stream must not go to the same
        // connection, which may lead to a frozen process.
        dropConnection = code == Status.Code.UNAVAILABLE;
      } else {
        state = State.STOPPED;
        lock.notifyAll();
        stopped = new CredentialBrokerException(describe(status, reason), code, reason, error);
        stopError = stopped;
      }
      nextAttempt = attempts + 1;
    }
    if (dropConnection) {
      runtime.dropConnection();
    }
    runtime.events().streamFailed(databaseRole, code, reason);
    if (stopped != null) {
      CredentialBrokerException cause = stopped;
      runtime.events().subscriptionStopped(databaseRole, code, reason);
      firstCredential.completeExceptionally(cause);
      deliver(() -> listener.onStopped(cause));
    } else {
      runtime.events().reconnectScheduled(databaseRole, nextAttempt, delay);
    }
  }

  @GuardedBy("lock")
  private java.time.Duration backoff(Throwable error) {
    return atLeastAsked(error, runtime.backoffDelay(++failures));
  }

  /** {@code computed}, or the broker's RetryInfo in {@code error} when that asks for longer. */
  private static java.time.Duration atLeastAsked(Throwable error, java.time.Duration computed) {
    java.time.Duration asked = StatusDetails.retryDelay(error).orElse(java.time.Duration.ZERO);
    return asked.compareTo(computed) > 0 ? asked : computed;
  }

  @GuardedBy("lock")
  private @Nullable ScheduledFuture<?> schedule(java.time.Duration delay) {
    try {
      return runtime.scheduler().schedule(this::connect, delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // The client is shutting down; it closes this subscription next.
      return null;
    }
  }

  // Error Prone cannot tell that the Stream's enclosing instance is this subscription, whose lock
  // guards its fields.
  @SuppressWarnings("GuardedBy")
  @GuardedBy("lock")
  private void deactivate(Stream stream) {
    active = null;
    if (stream.idleTimer != null) {
      stream.idleTimer.cancel(false);
      stream.idleTimer = null;
    }
  }

  // Error Prone cannot tell that the Stream's enclosing instance is this subscription, whose lock
  // guards its fields.
  @SuppressWarnings("GuardedBy")
  @GuardedBy("lock")
  private void armIdleTimer(Stream stream) {
    long timeout = runtime.streamIdleTimeout().toNanos();
    if (timeout == 0) {
      return;
    }
    if (stream.idleTimer != null) {
      stream.idleTimer.cancel(false);
    }
    long generation = ++stream.idleGeneration;
    try {
      stream.idleTimer =
          runtime
              .scheduler()
              .schedule(() -> idle(stream, generation), timeout, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      stream.idleTimer = null;
    }
  }

  /**
   * No event, not even a heartbeat, for the idle timeout: the broker or the path to it is presumed
   * dead.
   */
  // Error Prone cannot tell that the Stream's enclosing instance is this subscription, whose lock
  // guards its fields.
  @SuppressWarnings("GuardedBy")
  private void idle(Stream stream, long generation) {
    synchronized (lock) {
      if (active != stream || stream.idleGeneration != generation) {
        // An event re-armed the timer while this tick was starting.
        return;
      }
    }
    handleEnd(
        stream,
        Status.UNAVAILABLE
            .withDescription("no event from the broker for " + runtime.streamIdleTimeout())
            .asRuntimeException());
    // handleEnd made another stream active (or none); this call's own end is then ignored.
    stream.cancel("no event from the broker within the idle timeout");
  }

  @GuardedBy("lock")
  private void adopt(Credential credential) {
    current = credential;
    resumeAllowed = true;
    firstCredential.complete(credential);
    lock.notifyAll();
  }

  /**
   * Hands {@code credential} to the listener, and acknowledges a rotation's replacement once the
   * listener took it. A listener that throws has not taken it (its pool could not log in with it,
   * say, while the database fails over or the role has not reached a replica yet): the credential
   * is offered again after a backoff, for as long as it is this subscription's current one, instead
   * of leaving the application without a pool, or on the replaced credential until that runs out.
   *
   * @param attempt how many offers of it the listener refused so far
   */
  private void offer(Credential credential, boolean rotation, int attempt) {
    deliver(
        () -> {
          Credential offered = attempt == 0 ? credential : stillCurrent(credential);
          if (offered == null) {
            return;
          }
          try {
            listener.onCredential(offered);
          } catch (RuntimeException e) {
            java.time.Duration delay = runtime.backoffDelay(attempt + 1);
            String message =
                "the application did not take credential "
                    + offered.credentialId()
                    + " of "
                    + databaseRole
                    + (rotation ? " (not acknowledged)" : "")
                    + "; offering it again in "
                    + delay;
            if (attempt == 0) {
              LOG.log(System.Logger.Level.WARNING, message, e);
            } else {
              LOG.log(System.Logger.Level.WARNING, message + ": " + e);
            }
            try {
              runtime
                  .scheduler()
                  .schedule(
                      () -> offer(offered, rotation, attempt + 1),
                      delay.toNanos(),
                      TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException shuttingDown) {
              // The client is closing: nothing is left to switch.
            }
            return;
          }
          if (rotation) {
            acknowledge(offered, 1);
          }
        });
  }

  /**
   * The subscription's current credential if it is still {@code credential} (renewals update its
   * expiry) and the subscription is active, else {@code null}: a newer credential, a revocation or
   * the end of the subscription supersedes an offer.
   */
  private @Nullable Credential stillCurrent(Credential credential) {
    synchronized (lock) {
      Credential held = current;
      return state == State.ACTIVE
              && held != null
              && held.credentialId().equals(credential.credentialId())
          ? held
          : null;
    }
  }

  private void deliver(Runnable callback) {
    callbacks.execute(
        () -> {
          if (callbacksEnabled) {
            callback.run();
          }
        });
  }

  private String describe(Status status, @Nullable String reason) {
    return "WatchCredential for database role "
        + databaseRole
        + " failed with "
        + status.getCode()
        + (reason == null ? "" : " (" + reason + ")")
        + (status.getDescription() == null || status.getDescription().isBlank()
            ? ""
            : ": " + status.getDescription());
  }

  private void acknowledge(Credential credential, int attempt) {
    if (!callbacksEnabled) {
      return;
    }
    var request =
        AcknowledgeRotationRequest.newBuilder().setCredentialId(credential.credentialId()).build();
    runtime
        .stub()
        .withWaitForReady()
        .withDeadlineAfter(runtime.requestTimeout().toNanos(), TimeUnit.NANOSECONDS)
        .acknowledgeRotation(
            request,
            new StreamObserver<AcknowledgeRotationResponse>() {
              @Override
              public void onNext(AcknowledgeRotationResponse response) {}

              @Override
              public void onError(Throwable error) {
                Status.Code code = Status.fromThrowable(error).getCode();
                // UNAUTHENTICATED too: the next attempt reads the token file again. Not once the
                // credential is no longer the current one (a newer one, a revocation, the end).
                boolean retryable =
                    RETRYABLE.contains(code)
                        || code == Status.Code.UNAUTHENTICATED
                            && !TokenFileCallCredentials.refusedInsecureTransport(
                                Status.fromThrowable(error));
                if (retryable
                    && attempt < MAX_ACKNOWLEDGE_ATTEMPTS
                    && callbacksEnabled
                    && stillCurrent(credential) != null) {
                  // As long as the broker asks (an overloaded replica's RetryInfo), at least the
                  // backoff.
                  java.time.Duration delay = atLeastAsked(error, runtime.backoffDelay(attempt));
                  try {
                    runtime
                        .scheduler()
                        .schedule(
                            () -> acknowledge(credential, attempt + 1),
                            delay.toNanos(),
                            TimeUnit.NANOSECONDS);
                    return;
                  } catch (RejectedExecutionException e) {
                    // Shutting down; without an acknowledgement the replaced credential simply runs
                    // out.
                  }
                }
                runtime.events().callFailed(databaseRole, "AcknowledgeRotation", code);
              }

              @Override
              public void onCompleted() {
                runtime.events().rotationAcknowledged(databaseRole, credential.credentialId());
              }
            });
  }

  private void release(Credential credential) {
    var request =
        ReleaseCredentialRequest.newBuilder().setCredentialId(credential.credentialId()).build();
    try {
      runtime
          .blockingStub()
          .withWaitForReady()
          .withDeadlineAfter(runtime.requestTimeout().toNanos(), TimeUnit.NANOSECONDS)
          .releaseCredential(request);
      runtime.events().credentialReleased(databaseRole, credential.credentialId());
    } catch (StatusRuntimeException e) {
      // Best effort: an unreleased credential is revoked by the broker after its reconnect grace.
      runtime.events().callFailed(databaseRole, "ReleaseCredential", e.getStatus().getCode());
    }
  }

  /**
   * One attempt at the stream; events from an attempt that is no longer {@link #active} are
   * ignored.
   */
  private final class Stream
      implements ClientResponseObserver<WatchCredentialRequest, CredentialEvent> {

    final @Nullable String resumeId;

    @GuardedBy("WatchSubscription.this.lock")
    boolean receivedAny;

    /** {@link System#nanoTime} of its first event, once {@link #receivedAny}. */
    @GuardedBy("WatchSubscription.this.lock")
    long firstEventNanos;

    @GuardedBy("WatchSubscription.this.lock")
    @Nullable ScheduledFuture<?> idleTimer;

    @GuardedBy("WatchSubscription.this.lock")
    long idleGeneration;

    private volatile @Nullable ClientCallStreamObserver<WatchCredentialRequest> call;

    Stream(@Nullable String resumeId) {
      this.resumeId = resumeId;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchCredentialRequest> requestStream) {
      this.call = requestStream;
    }

    @Override
    public void onNext(CredentialEvent event) {
      handleEvent(this, event);
    }

    @Override
    public void onError(Throwable error) {
      handleEnd(this, error);
    }

    @Override
    public void onCompleted() {
      // The contract ends a stream with OK only when the client cancels it; anything else is a
      // broker going away.
      handleEnd(
          this,
          Status.UNAVAILABLE.withDescription("the broker ended the stream").asRuntimeException());
    }

    void cancel(String why) {
      var c = call;
      if (c != null) {
        c.cancel(why, null);
      }
    }
  }
}
