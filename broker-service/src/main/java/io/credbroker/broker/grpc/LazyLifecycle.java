package io.credbroker.broker.grpc;

import java.util.Objects;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.Lifecycle;

/**
 * A {@link Lifecycle} bean looked up only when it is started or stopped, for a bean that cannot ask
 * for it when it is made: {@link SelfFence} starts and stops the gRPC server, and the server is
 * built with the interceptors, which ask the fence. Until the bean exists it reads as not running
 * and is not made for that question.
 *
 * <p>Thread-safe as the provider and the bean are.
 */
final class LazyLifecycle implements Lifecycle {

  private final ObjectProvider<? extends Lifecycle> lifecycle;

  LazyLifecycle(ObjectProvider<? extends Lifecycle> lifecycle) {
    this.lifecycle = Objects.requireNonNull(lifecycle, "lifecycle");
  }

  @Override
  public void start() {
    lifecycle.getObject().start();
  }

  @Override
  public void stop() {
    lifecycle.getObject().stop();
  }

  @Override
  public boolean isRunning() {
    Lifecycle bean = lifecycle.getIfAvailable();
    return bean != null && bean.isRunning();
  }
}
