package io.credbroker.client.internal;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs tasks one at a time, in submission order, on a shared executor, so that one subscription's
 * listener sees its events in order even when the application hands the client a thread pool.
 * Thread-safe.
 *
 * <p>An executor that refuses a task (a bounded pool that is full, say) does not lose it: the
 * queued tasks stay, in order, and are handed to the executor again after a short delay, until it
 * takes them. They are dropped only when the executor has been shut down, or when the client
 * closes.
 */
final class SerialExecutor implements Executor {

  private static final System.Logger LOG = System.getLogger(SerialExecutor.class.getName());
  private static final Duration FIRST_RETRY = Duration.ofMillis(50);
  private static final Duration LONGEST_RETRY = Duration.ofSeconds(2);

  private final Executor delegate;
  private final ScheduledExecutorService retries;
  private final Object lock = new Object();

  @GuardedBy("lock")
  private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();

  /** A drain is submitted, running or waiting to be submitted again. */
  @GuardedBy("lock")
  private boolean running;

  /**
   * @param retries where a refused hand-off to {@code delegate} waits before it is tried again
   */
  SerialExecutor(Executor delegate, ScheduledExecutorService retries) {
    this.delegate = delegate;
    this.retries = retries;
  }

  @Override
  public void execute(Runnable task) {
    synchronized (lock) {
      tasks.add(task);
      if (running) {
        return;
      }
      running = true;
    }
    submitDrain(0);
  }

  private void submitDrain(int refusals) {
    try {
      delegate.execute(this::drain);
      if (refusals > 0) {
        LOG.log(
            System.Logger.Level.INFO,
            "callback executor took the credential callbacks after " + refusals + " refusals");
      }
    } catch (RejectedExecutionException e) {
      if (delegate instanceof ExecutorService service && service.isShutdown()) {
        drop("callback executor is shut down; dropping the queued credential callbacks", e);
        return;
      }
      Duration delay = retryDelay(refusals);
      if (refusals == 0) {
        LOG.log(
            System.Logger.Level.WARNING,
            "callback executor refused a credential callback; handing it over again in "
                + delay.toMillis()
                + " ms, and until it is taken",
            e);
      }
      try {
        retries.schedule(() -> submitDrain(refusals + 1), delay.toNanos(), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException closing) {
        drop("the client is closing; dropping the queued credential callbacks", closing);
      }
    }
  }

  private static Duration retryDelay(int refusals) {
    Duration delay = FIRST_RETRY.multipliedBy(1L << Math.min(refusals, 10));
    return delay.compareTo(LONGEST_RETRY) > 0 ? LONGEST_RETRY : delay;
  }

  private void drop(String message, RejectedExecutionException cause) {
    synchronized (lock) {
      running = false;
      tasks.clear();
    }
    LOG.log(System.Logger.Level.WARNING, message, cause);
  }

  private void drain() {
    while (true) {
      Runnable next;
      synchronized (lock) {
        next = tasks.poll();
        if (next == null) {
          running = false;
          return;
        }
      }
      try {
        next.run();
      } catch (RuntimeException | Error e) {
        LOG.log(System.Logger.Level.WARNING, "a credential callback failed", e);
      }
    }
  }
}
