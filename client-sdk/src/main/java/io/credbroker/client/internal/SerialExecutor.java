package io.credbroker.client.internal;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs tasks one at a time, in submission order, on a shared executor, so that one subscription's
 * listener sees its events in order even when the application hands the client a thread pool.
 * Thread-safe.
 */
final class SerialExecutor implements Executor {

  private static final System.Logger LOG = System.getLogger(SerialExecutor.class.getName());

  private final Executor delegate;
  private final Object lock = new Object();

  @GuardedBy("lock")
  private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();

  @GuardedBy("lock")
  private boolean running;

  SerialExecutor(Executor delegate) {
    this.delegate = delegate;
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
    try {
      delegate.execute(this::drain);
    } catch (RejectedExecutionException e) {
      synchronized (lock) {
        running = false;
        tasks.clear();
      }
      LOG.log(
          System.Logger.Level.WARNING,
          "callback executor rejected a credential callback; dropping it",
          e);
    }
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
