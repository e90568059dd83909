package io.credbroker.devstack.http;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Faults an {@link HttpEndpoint} injects in front of its handler, so that tests and operators can
 * watch what a client does when the server is slow or answers with errors, without a branch in the
 * stand-ins' own code: a delay before a request is handled, or a fixed response instead of the
 * handler's. "Down" is not here: a closed port is {@code DevStack.stopVault()}, a partition is a
 * {@code TcpProxy} in front of the port.
 *
 * <p>One fault at a time, for the requests its predicate selects (all by default). Every method is
 * thread-safe; a change applies to requests that arrive afterwards, not to one already delayed.
 */
public final class HttpFaults {

  private static final Predicate<HttpRequest> EVERY_REQUEST = request -> true;

  private record Fault(
      String description,
      Predicate<HttpRequest> selects,
      Duration delay,
      @Nullable HttpResponse response) {}

  private volatile @Nullable Fault fault;
  private final AtomicLong injected = new AtomicLong();

  /** Delays every request by {@code delay} before it is handled. */
  public void delay(Duration delay) {
    delay(EVERY_REQUEST, delay);
  }

  /** Delays the requests {@code selects} picks by {@code delay} before they are handled. */
  public void delay(Predicate<HttpRequest> selects, Duration delay) {
    if (delay.isNegative()) {
      throw new IllegalArgumentException("delay must not be negative: " + delay);
    }
    fault = new Fault("delay " + delay, Objects.requireNonNull(selects), delay, null);
  }

  /** Answers every request with {@code response}; the handler does not run. */
  public void respond(HttpResponse response) {
    respond(EVERY_REQUEST, response);
  }

  /** Answers the requests {@code selects} picks with {@code response}; the handler does not run. */
  public void respond(Predicate<HttpRequest> selects, HttpResponse response) {
    fault =
        new Fault(
            "respond " + response.status(),
            Objects.requireNonNull(selects),
            Duration.ZERO,
            Objects.requireNonNull(response));
  }

  /** Ends the fault: requests are handled as usual again. */
  public void clear() {
    fault = null;
  }

  /** How many requests a fault has delayed or answered since this endpoint started. */
  public long injected() {
    return injected.get();
  }

  /** Handles {@code request} with {@code handler} unless the current fault says otherwise. */
  HttpResponse apply(HttpRequest request, Handler handler) throws Exception {
    Fault current = fault;
    if (current == null || !current.selects().test(request)) {
      return handler.handle(request);
    }
    injected.incrementAndGet();
    if (!current.delay().isZero()) {
      Thread.sleep(current.delay().toMillis());
    }
    return current.response() != null ? current.response() : handler.handle(request);
  }

  @Override
  public String toString() {
    Fault current = fault;
    return "HttpFaults[" + (current == null ? "none" : current.description()) + "]";
  }
}
