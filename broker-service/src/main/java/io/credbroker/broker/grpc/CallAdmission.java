package io.credbroker.broker.grpc;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.DaemonThreads;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sheds load at call admission: at most {@code maxPendingCalls} {@code CredentialBroker} calls may
 * be pending at once, that is past their request and not yet past their service method (a unary
 * call until it has answered, a {@code WatchCredential} stream until its first event is sent, or
 * either until it is cancelled). A call whose request arrives beyond that is closed at once with
 * RESOURCE_EXHAUSTED ({@code OVERLOADED}) and a RetryInfo, before it authenticates or reaches
 * Vault.
 *
 * <p>A call counts from its request on, not from its start. Before its request has arrived (grpc
 * runs the service method at the request's half-close) a call has done no work, and a client that
 * started calls and never sent their requests would otherwise hold every slot with one connection
 * and no token, so that the replica refused everybody else. Such a call is closed instead with
 * DEADLINE_EXCEEDED once {@code requestTimeout} has passed without its request: a gRPC client sends
 * the request of a unary or server-streaming call right behind its headers.
 *
 * <p>Why here and not in the call executor. The executor's queue stays unbounded on purpose:
 * grpc-java runs all of one call's callbacks (message, half-close, cancel, completion) in order
 * through a serialising executor on top of it, and a task the executor rejected would be one of
 * those callbacks of a call already in flight: a lost cancel leaves a stream registered forever, a
 * lost half-close leaves a call that never answers. Refusing the whole call before its service
 * method loses nothing: no handler has run and the client sees a clean status. What is left in the
 * queue for a refused call costs microseconds, and the expensive work waiting there is bounded by
 * this interceptor.
 *
 * <p>While this replica is fenced (it cannot write its heartbeat), every call is refused at once
 * with what the {@code refusal} supplier gives (UNAVAILABLE, {@code STATE_STORE_UNAVAILABLE}, with
 * a retry delay), before anything else.
 *
 * <p>Health and reflection calls are not counted.
 *
 * <p>Thread-safe. Lifecycle: {@link #close()} stops the timer of the request timeouts.
 */
final class CallAdmission implements ServerInterceptor, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CallAdmission.class);
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  /** How often the request timeouts' wheel turns: a late call is closed up to this much later. */
  private static final Duration TIMER_TICK = Duration.ofMillis(100);

  /** Slots of the wheel: one turn (51.2 s) is longer than any sensible request timeout. */
  private static final int TIMER_WHEEL_SIZE = 512;

  private final int maxPendingCalls;
  private final long requestTimeoutNanos;
  private final Supplier<@Nullable BrokerException> refusal;
  private final Runnable onShed;
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicInteger awaitingRequest = new AtomicInteger();
  private final Counter shed;
  private final Counter requestTimeouts;
  private final HashedWheelTimer timer;

  /**
   * @param requestTimeout how long a started call may take to send its request (its half-close)
   *     before it is closed with DEADLINE_EXCEEDED
   * @param refusal what refuses every call now, or {@code null} while calls are admitted: set while
   *     this replica is fenced (it cannot write its heartbeat, see {@code ReplicaHeartbeat}), so
   *     that a new call is refused at once with UNAVAILABLE and a retry delay instead of waiting
   *     for a state database it cannot reach
   * @param onShed called for each call shed for load (not for a fenced replica's refusals: its
   *     clients are served by the other replicas), so that the cluster knows when it last turned a
   *     client away ({@code ClusterRefusals})
   */
  CallAdmission(
      int maxPendingCalls,
      Duration requestTimeout,
      MeterRegistry meterRegistry,
      Supplier<@Nullable BrokerException> refusal,
      Runnable onShed) {
    this.refusal = Objects.requireNonNull(refusal, "refusal");
    this.onShed = Objects.requireNonNull(onShed, "onShed");
    if (maxPendingCalls < 1) {
      throw new IllegalArgumentException("maxPendingCalls must be positive");
    }
    if (requestTimeout.isNegative() || requestTimeout.isZero()) {
      throw new IllegalArgumentException("requestTimeout must be positive");
    }
    this.maxPendingCalls = maxPendingCalls;
    this.requestTimeoutNanos = requestTimeout.toNanos();
    this.shed =
        Counter.builder("credbroker.grpc.calls.shed")
            .description("CredentialBroker calls refused with RESOURCE_EXHAUSTED at admission")
            .register(meterRegistry);
    this.requestTimeouts =
        Counter.builder("credbroker.grpc.calls.request.timeouts")
            .description(
                "CredentialBroker calls closed with DEADLINE_EXCEEDED because their request did"
                    + " not arrive in time")
            .register(meterRegistry);
    Gauge.builder("credbroker.grpc.calls.pending", pending, AtomicInteger::get)
        .description(
            "CredentialBroker calls past their request and not yet past their service method")
        .register(meterRegistry);
    // One thread that only closes calls whose request is late, on a wheel that it turns every
    // TIMER_TICK. Arming and cancelling a timeout, once per call, only queue it for that thread:
    // a scheduled executor instead wakes its thread each time its queue goes from empty to not
    // empty, which with calls a few milliseconds apart is every call. A cancelled timeout (the
    // usual case: the request arrived) leaves the wheel at the next tick.
    this.timer =
        new HashedWheelTimer(
            DaemonThreads.named("credbroker-grpc-request-timeout"),
            TIMER_TICK.toNanos(),
            TimeUnit.NANOSECONDS,
            TIMER_WHEEL_SIZE);
  }

  /** How many calls are pending now; for tests and diagnostics. */
  int pending() {
    return pending.get();
  }

  /** How many calls have started and not yet sent their request; for tests and diagnostics. */
  int awaitingRequest() {
    return awaitingRequest.get();
  }

  @Override
  public void close() {
    timer.stop();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!CredentialBrokerGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    BrokerException refused = refusal.get();
    if (refused != null) {
      return refuse(call, refused);
    }
    ServerCall.Listener<Q> listener = next.startCall(call, headers);
    return new Admitted<>(listener, call);
  }

  /**
   * One call from its start: waiting for its request, then pending while its service method runs,
   * then done. The request timeout and the call's half-close race for the call through {@code
   * phase}; whichever moves it out of {@link #AWAITING_REQUEST} first owns it, so a call timed out
   * never reaches its service method and a call whose service method started is never closed by the
   * timer. Kept for the call's whole life (a stream's too), so it holds no more than it must.
   */
  private final class Admitted<Q, R>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {

    private static final int AWAITING_REQUEST = 0;
    private static final int PENDING = 1;
    private static final int PAST = 2;

    @SuppressWarnings("rawtypes")
    private static final AtomicIntegerFieldUpdater<Admitted> PHASE =
        AtomicIntegerFieldUpdater.newUpdater(Admitted.class, "phase");

    private final ServerCall<Q, R> call;
    private volatile int phase = AWAITING_REQUEST;

    /** The request timeout until the request arrives; only the call's callbacks touch it. */
    private @Nullable Timeout timeout;

    Admitted(ServerCall.Listener<Q> delegate, ServerCall<Q, R> call) {
      super(delegate);
      this.call = call;
      awaitingRequest.incrementAndGet();
      this.timeout =
          timer.newTimeout(due -> requestTimedOut(), requestTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void onHalfClose() {
      // The service method runs here (for unary and server-streaming calls).
      if (!requestArrived(PENDING)) {
        return;
      }
      BrokerException refused = refusal.get();
      if (refused != null) {
        // Started before the replica fenced itself (or its request waited in the executor's
        // queue meanwhile): refused now, as a call starting now would be, rather than served by a
        // replica that has already ended its streams.
        phase = PAST;
        refuse(call, refused);
        return;
      }
      if (pending.incrementAndGet() > maxPendingCalls) {
        pending.decrementAndGet();
        phase = PAST;
        shed.increment();
        onShed.run();
        refuse(
            call,
            new BrokerException(
                BrokerException.Reason.OVERLOADED,
                "this broker replica is busy; retry shortly",
                RETRY_AFTER,
                null));
        return;
      }
      try {
        super.onHalfClose();
      } finally {
        leavePending();
      }
    }

    @Override
    public void onCancel() {
      ended();
      super.onCancel();
    }

    @Override
    public void onComplete() {
      ended();
      super.onComplete();
    }

    private void ended() {
      if (!requestArrived(PAST)) {
        leavePending();
      }
    }

    /**
     * Leaves {@link #AWAITING_REQUEST} for {@code to} and stops the timeout, unless it has left.
     */
    private boolean requestArrived(int to) {
      if (!PHASE.compareAndSet(this, AWAITING_REQUEST, to)) {
        return false;
      }
      awaitingRequest.decrementAndGet();
      Timeout late = timeout;
      if (late != null) {
        late.cancel();
        timeout = null;
      }
      return true;
    }

    private void leavePending() {
      if (PHASE.compareAndSet(this, PENDING, PAST)) {
        pending.decrementAndGet();
      }
    }

    private void requestTimedOut() {
      if (!PHASE.compareAndSet(this, AWAITING_REQUEST, PAST)) {
        return;
      }
      awaitingRequest.decrementAndGet();
      requestTimeouts.increment();
      try {
        call.close(
            Status.DEADLINE_EXCEEDED.withDescription(
                "the call's request did not arrive within "
                    + Duration.ofNanos(requestTimeoutNanos).toMillis()
                    + " ms of its headers"),
            new Metadata());
      } catch (IllegalStateException e) {
        // grpc closed the call meanwhile (it refuses a second request message itself, before
        // any service method runs).
        log.debug("A call whose request was late was closed already", e);
      }
    }
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, BrokerException why) {
    StatusException refusal = GrpcErrorMapper.toStatusException(why);
    Metadata trailers = refusal.getTrailers();
    call.close(refusal.getStatus(), trailers != null ? trailers : new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
