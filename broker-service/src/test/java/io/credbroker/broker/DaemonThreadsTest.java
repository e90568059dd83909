package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;

/**
 * The broker's threads keep the names its documentation and logs know them by, and never hold the
 * JVM up.
 */
class DaemonThreadsTest {

  @Test
  void namedThreadsAreDaemonsNamedExactly() {
    assertThat(twoThreads(DaemonThreads.named("lease-poller")))
        .containsExactly("lease-poller daemon", "lease-poller daemon");
  }

  @Test
  void numberedThreadsAreDaemonsCountedFromOne() {
    assertThat(twoThreads(DaemonThreads.numbered("lease-worker-")))
        .containsExactly("lease-worker-1 daemon", "lease-worker-2 daemon");
  }

  /** Two threads of {@code factory}: each one's name, and whether it is a daemon. */
  private static List<String> twoThreads(ThreadFactory factory) {
    return List.of(factory.newThread(() -> {}), factory.newThread(() -> {})).stream()
        .map(thread -> thread.getName() + (thread.isDaemon() ? " daemon" : " user"))
        .toList();
  }
}
