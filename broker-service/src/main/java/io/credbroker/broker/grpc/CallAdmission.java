package io.credbroker.broker.grpc;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.broker.BrokerException;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Sheds load at call admission: at most {@code maxPendingCalls} {@code CredentialBroker} calls may
 * be pending at once, that is started and not yet past their service method (a unary call until it
 * has answered, a {@code WatchCredential} stream until its first event is sent, or either until it
 * is cancelled). A call beyond that is closed at once with RESOURCE_EXHAUSTED ({@code OVERLOADED})
 * and a RetryInfo, before it authenticates or reaches Vault.
 *
 * <p>Why here and not in the call executor. The executor's queue stays unbounded on purpose:
 * grpc-java runs all of one call's callbacks (message, half-close, cancel, completion) in order
 * through a serialising executor on top of it, and a task the executor rejected would be one of
 * those callbacks of a call already in flight: a lost cancel leaves a stream registered forever, a
 * lost half-close leaves a call that never answers. Refusing the whole call when it starts loses
 * nothing: no handler has run and the client sees a clean status. What is left in the queue for a
 * refused call costs microseconds, and the expensive work waiting there is bounded by this
 * interceptor.
 *
 * <p>While this replica is fenced (it cannot write its heartbeat), every call is refused at once
 * with what the {@code refusal} supplier gives (UNAVAILABLE, {@code STATE_STORE_UNAVAILABLE}, with
 * a retry delay), before anything else.
 *
 * <p>Known gap: a client that starts calls and never sends its request holds their slots until its
 * deadline, its cancel or the connection's end. Health and reflection calls are not counted.
 *
 * <p>Thread-safe.
 */
final class CallAdmission implements ServerInterceptor {

  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final int maxPendingCalls;
  private final Supplier<@Nullable BrokerException> refusal;
  private final Runnable onShed;
  private final AtomicInteger pending = new AtomicInteger();
  private final Counter shed;

  /**
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
      MeterRegistry meterRegistry,
      Supplier<@Nullable BrokerException> refusal,
      Runnable onShed) {
    this.refusal = Objects.requireNonNull(refusal, "refusal");
    this.onShed = Objects.requireNonNull(onShed, "onShed");
    if (maxPendingCalls < 1) {
      throw new IllegalArgumentException("maxPendingCalls must be positive");
    }
    this.maxPendingCalls = maxPendingCalls;
    this.shed =
        Counter.builder("credbroker.grpc.calls.shed")
            .description("CredentialBroker calls refused with RESOURCE_EXHAUSTED at admission")
            .register(meterRegistry);
    Gauge.builder("credbroker.grpc.calls.pending", pending, AtomicInteger::get)
        .description("CredentialBroker calls started and not yet past their service method")
        .register(meterRegistry);
  }

  /** How many calls are pending now; for tests and diagnostics. */
  int pending() {
    return pending.get();
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
    if (pending.incrementAndGet() > maxPendingCalls) {
      pending.decrementAndGet();
      shed.increment();
      onShed.run();
      return refuse(
          call,
          new BrokerException(
              BrokerException.Reason.OVERLOADED,
              "this broker replica is busy; retry shortly",
              RETRY_AFTER,
              null));
    }
    AtomicBoolean done = new AtomicBoolean();
    Runnable leave =
        () -> {
          if (done.compareAndSet(false, true)) {
            pending.decrementAndGet();
          }
        };
    ServerCall.Listener<Q> listener;
    try {
      listener = next.startCall(call, headers);
    } catch (RuntimeException | Error e) {
      leave.run();
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onHalfClose() {
        // The service method runs here (for unary and server-streaming calls).
        try {
          super.onHalfClose();
        } finally {
          leave.run();
        }
      }

      @Override
      public void onCancel() {
        leave.run();
        super.onCancel();
      }

      @Override
      public void onComplete() {
        leave.run();
        super.onComplete();
      }
    };
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, BrokerException why) {
    StatusException refusal = GrpcErrorMapper.toStatusException(why);
    Metadata trailers = refusal.getTrailers();
    call.close(refusal.getStatus(), trailers != null ? trailers : new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
