package io.credbroker.broker;

import java.util.concurrent.ThreadFactory;
import org.springframework.scheduling.concurrent.CustomizableThreadFactory;

/**
 * The thread factories of the broker's own threads, on Spring's {@link CustomizableThreadFactory}:
 * daemons, so that none holds the JVM up (each owner stops its threads in its lifecycle), named for
 * their job as thread dumps and log lines show them. The lease core's threads and the order they
 * stop in are listed in {@code io.credbroker.broker.lease}'s package documentation.
 */
public final class DaemonThreads {

  private DaemonThreads() {}

  /** Daemon threads all named {@code name}: one thread, or a pool whose threads share one job. */
  public static ThreadFactory named(String name) {
    CustomizableThreadFactory factory = new FixedName(name);
    factory.setDaemon(true);
    return factory;
  }

  /** Daemon threads named {@code prefix} followed by 1, 2, ...: the workers of one pool. */
  public static ThreadFactory numbered(String prefix) {
    CustomizableThreadFactory factory = new CustomizableThreadFactory(prefix);
    factory.setDaemon(true);
    return factory;
  }

  /** Names every thread exactly its prefix, without the count. */
  private static final class FixedName extends CustomizableThreadFactory {

    private static final long serialVersionUID = 1L;

    FixedName(String name) {
      super(name);
    }

    @Override
    protected String nextThreadName() {
      return getThreadNamePrefix();
    }
  }
}
