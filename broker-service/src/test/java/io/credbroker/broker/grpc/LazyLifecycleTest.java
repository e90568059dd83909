package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.support.DefaultListableBeanFactory;
import org.springframework.context.Lifecycle;

class LazyLifecycleTest {

  private final DefaultListableBeanFactory beans = new DefaultListableBeanFactory();
  private final LazyLifecycle lazy = new LazyLifecycle(beans.getBeanProvider(Lifecycle.class));

  @Test
  void readsAsNotRunningUntilTheBeanExists() {
    assertThat(lazy.isRunning()).isFalse();
  }

  @Test
  void startsStopsAndReadsTheBeanOnceItExists() {
    Lifecycle server = mock(Lifecycle.class);
    beans.registerSingleton("server", server);
    when(server.isRunning()).thenReturn(true);

    lazy.start();
    lazy.stop();

    verify(server).start();
    verify(server).stop();
    assertThat(lazy.isRunning()).isTrue();
  }
}
