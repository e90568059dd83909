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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

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
 * <p>Known gap: a client that starts calls and never sends its request holds their slots until its
 * deadline, its cancel or the connection's end. Health and reflection calls are not counted.
 *
 * <p>Thread-safe.
 */
final class CallAdmission implements ServerInterceptor {

  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final int maxPendingCalls;
  private final AtomicInteger pending = new AtomicInteger();
  private final Counter shed;

  CallAdmission(int maxPendingCalls, MeterRegistry meterRegistry) {
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
    if (pending.incrementAndGet() > maxPendingCalls) {
      pending.decrementAndGet();
      shed.increment();
      StatusException refusal =
          GrpcErrorMapper.toStatusException(
              new BrokerException(
                  BrokerException.Reason.OVERLOADED,
                  "this broker replica is busy; retry shortly",
                  RETRY_AFTER,
                  null));
      Metadata trailers = refusal.getTrailers();
      call.close(refusal.getStatus(), trailers != null ? trailers : new Metadata());
      return new ServerCall.Listener<>() {};
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
}
