package io.credbroker.broker.grpc;

import io.credbroker.broker.cluster.OwnershipLostEvent;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialRevokedEvent;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.BindableService;
import io.grpc.ServerInterceptor;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.grpc.server.autoconfigure.GrpcServerExecutorProvider;
import org.springframework.context.ApplicationListener;
import org.springframework.context.PayloadApplicationEvent;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.grpc.server.GlobalServerInterceptor;
import org.springframework.grpc.server.exception.GrpcExceptionHandler;
import org.springframework.grpc.server.lifecycle.GrpcServerShutdownEvent;

/**
 * Wires the gRPC API into spring-grpc, which serves every {@link BindableService} bean next to the
 * health and reflection services.
 */
@Configuration(proxyBeanMethods = false)
class GrpcConfiguration {

  /**
   * Runs the gRPC server's calls and their callbacks (including a stream's cancel handler) on at
   * most {@code credbroker.grpc.call-threads} threads; calls beyond that wait in the queue. The
   * queue is unbounded on purpose and guarded instead by {@link CallAdmission}, which refuses calls
   * beyond {@code credbroker.grpc.max-pending-calls} when they start: rejecting a task here could
   * drop a callback (a cancel, a half-close) of a call already in flight. gRPC's default, a cached
   * pool, starts a thread for every callback that finds none idle, so thousands of streams ending
   * at once grew it by hundreds or thousands of threads. Idle threads end after 30 s. Shut down
   * when the context closes, after the server has stopped.
   */
  @Bean(destroyMethod = "shutdown")
  ExecutorService grpcCallExecutor(BrokerProperties properties) {
    return boundedCallExecutor(properties.grpc().callThreads());
  }

  /** The executor of {@link #grpcCallExecutor}, with {@code threads} threads at most. */
  static ExecutorService boundedCallExecutor(int threads) {
    AtomicInteger counter = new AtomicInteger();
    ThreadFactory factory =
        runnable -> {
          Thread thread = new Thread(runnable, "grpc-call-" + counter.incrementAndGet());
          thread.setDaemon(true);
          return thread;
        };
    ThreadPoolExecutor executor =
        new ThreadPoolExecutor(
            threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
    executor.allowCoreThreadTimeOut(true);
    return executor;
  }

  @Bean
  GrpcServerExecutorProvider grpcServerExecutorProvider(ExecutorService grpcCallExecutor) {
    return () -> grpcCallExecutor;
  }

  /**
   * Every stream that ends gives its pod's stream slot back. The issuer is looked up when a stream
   * ends, not when this bean is made: the issuer depends, through the pod departures, on the
   * streams.
   */
  @Bean(destroyMethod = "close")
  WatchStreams watchStreams(
      BrokerProperties properties,
      MeterRegistry meterRegistry,
      ObjectProvider<CredentialIssuer> issuer,
      Clock clock) {
    return new WatchStreams(
        properties.grpc().heartbeatInterval(),
        clock,
        meterRegistry,
        streamId -> issuer.getObject().streamEnded(streamId));
  }

  @Bean
  BindableService credentialBrokerService(
      CredentialIssuer issuer, LeaseService leaseService, WatchStreams watchStreams, Clock clock) {
    return new CredentialBrokerService(issuer, leaseService, watchStreams, clock);
  }

  /** Ends the local stream of a credential that was revoked (by an operator, on any replica). */
  @Bean
  ApplicationListener<PayloadApplicationEvent<CredentialRevokedEvent>> endRevokedStreams(
      WatchStreams watchStreams) {
    return event ->
        watchStreams.revoked(event.getPayload().credentialId(), event.getPayload().reason());
  }

  /**
   * Another replica presumed this one dead and took over its credentials: its streams no longer get
   * renewals here, so they are ended with UNAVAILABLE and their clients resume where the
   * credentials now live.
   */
  @Bean
  ApplicationListener<OwnershipLostEvent> endStreamsOnOwnershipLoss(WatchStreams watchStreams) {
    return event -> watchStreams.closeAll();
  }

  /** Sheds calls beyond {@code credbroker.grpc.max-pending-calls} as they start. */
  @Bean
  @GlobalServerInterceptor
  ServerInterceptor callAdmission(BrokerProperties properties, MeterRegistry meterRegistry) {
    return new CallAdmission(properties.grpc().maxPendingCalls(), meterRegistry);
  }

  @Bean
  @GlobalServerInterceptor
  ServerInterceptor bearerTokenInterceptor() {
    return new BearerTokenInterceptor();
  }

  @Bean
  GrpcExceptionHandler grpcErrorMapper() {
    return new GrpcErrorMapper();
  }

  /**
   * Open streams never end on their own, so the server's graceful shutdown would wait its whole
   * grace period for them; ending them first lets clients move to another replica at once.
   */
  @Bean
  ApplicationListener<GrpcServerShutdownEvent> closeStreamsOnShutdown(WatchStreams watchStreams) {
    return event -> watchStreams.closeAll();
  }
}
