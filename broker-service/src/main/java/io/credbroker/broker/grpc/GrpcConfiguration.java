package io.credbroker.broker.grpc;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.broker.auth.TokenAuthenticator;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.cluster.OwnershipLostEvent;
import io.credbroker.broker.cluster.ReplicaFencingEvent;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialRevokedEvent;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.BindableService;
import io.grpc.ServerInterceptor;
import io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.grpc.GrpcServerObservationContext;
import io.micrometer.observation.ObservationPredicate;
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.grpc.server.autoconfigure.GrpcServerExecutorProvider;
import org.springframework.boot.grpc.server.autoconfigure.GrpcServerFactoryCustomizer;
import org.springframework.context.ApplicationListener;
import org.springframework.context.PayloadApplicationEvent;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.grpc.server.GlobalServerInterceptor;
import org.springframework.grpc.server.GrpcServerFactory;
import org.springframework.grpc.server.NettyGrpcServerFactory;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.grpc.server.exception.GrpcExceptionHandler;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;
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

  /**
   * The executor of {@link #grpcCallExecutor}, with {@code threads} threads at most.
   *
   * <p>A {@link ForkJoinPool}, not a {@code ThreadPoolExecutor} on a {@code LinkedBlockingQueue}:
   * grpc-java runs a unary call as three tasks (its start, its message and half-close, its
   * completion), and the queue's idle workers wait on one condition that wakes the longest-waiting
   * of them, so every task went to the coldest of the idle threads, each in turn. The pool keeps
   * its idle workers on a stack and wakes the one that went idle last, so a call's tasks mostly run
   * on the few threads that ran the previous calls. Nothing here blocks through the pool's own
   * machinery ({@code join}, {@code ManagedBlocker}) in a way that may add threads: the maximum
   * equals the parallelism, and a blocker that wants a spare beyond it just blocks ({@code
   * saturate}). Its workers get this application's class loader as their context class loader (the
   * pool's default factory would give them the system class loader, which in the packaged jar does
   * not see the application's classes).
   */
  static ExecutorService boundedCallExecutor(int threads) {
    AtomicInteger counter = new AtomicInteger();
    ClassLoader loader = GrpcConfiguration.class.getClassLoader();
    ForkJoinPool.ForkJoinWorkerThreadFactory factory =
        pool -> {
          ForkJoinWorkerThread thread =
              ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
          thread.setName("grpc-call-" + counter.incrementAndGet());
          thread.setContextClassLoader(loader);
          return thread;
        };
    return new ForkJoinPool(
        threads, factory, null, true, 0, threads, 1, pool -> true, 30, TimeUnit.SECONDS);
  }

  @Bean
  GrpcServerExecutorProvider grpcServerExecutorProvider(ExecutorService grpcCallExecutor) {
    return () -> grpcCallExecutor;
  }

  /**
   * Every stream that ends gives its pod's stream slot back; one ended because its token expired
   * leaves its credentials resumable for the reconnect grace. The issuer and the lease service are
   * looked up when a stream ends, not when this bean is made: both depend, through the pod
   * departures and the lease lifecycle, on the streams.
   */
  @Bean(destroyMethod = "close")
  WatchStreams watchStreams(
      BrokerProperties properties,
      MeterRegistry meterRegistry,
      ObjectProvider<CredentialIssuer> issuer,
      ObjectProvider<LeaseService> leases,
      ObjectProvider<TokenAuthenticator> authenticator,
      Clock clock) {
    return new WatchStreams(
        properties.grpc().heartbeatInterval(),
        clock,
        meterRegistry,
        streamId -> issuer.getObject().streamEnded(streamId),
        streamId -> leases.getObject().detach(streamId),
        () -> authenticator.getObject().reviewsAnswered());
  }

  @Bean
  BindableService credentialBrokerService(
      CredentialIssuer issuer,
      LeaseService leaseService,
      WatchStreams watchStreams,
      Clock clock,
      BrokerProperties properties) {
    return new CredentialBrokerService(
        issuer, leaseService, watchStreams, clock, properties.grpc().maxStreamAuthorisation());
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

  /**
   * The gRPC server is grpc-netty's, the transport the broker ships, or the broker does not start.
   * The connection settings below customize grpc-netty's builder; spring-grpc serves with
   * grpc-netty-shaded instead when that is on the classpath too, and would skip them without a
   * word.
   */
  @Bean
  GrpcServerFactoryCustomizer requireGrpcNetty() {
    return GrpcConfiguration::requireGrpcNetty;
  }

  static void requireGrpcNetty(GrpcServerFactory factory) {
    if (!(factory instanceof NettyGrpcServerFactory)) {
      throw new IllegalStateException(
          "the broker serves gRPC with grpc-netty, but spring-grpc made a "
              + factory.getClass().getName()
              + " (is grpc-netty-shaded on the classpath?); its connection limits would not apply");
    }
  }

  /**
   * No HPACK dynamic table on the broker's connections (see {@link HeaderTableLimit}): a pod's
   * connection carries one long stream, so the table would only keep a copy of its first headers
   * for the life of the connection.
   */
  @Bean
  ServerBuilderCustomizer<NettyServerBuilder> headerTableLimit() {
    return new HeaderTableLimit(0);
  }

  /**
   * At most {@code credbroker.grpc.max-calls-per-connection} calls at once on one connection
   * (HTTP/2 {@code SETTINGS_MAX_CONCURRENT_STREAMS}; grpc-java sets no limit): a pod needs a stream
   * per credential and the odd unary call, while a client that opens streams without end would have
   * the broker hold every one of them. A client beyond the limit waits for a stream of its own to
   * end, as HTTP/2 specifies.
   */
  @Bean
  ServerBuilderCustomizer<NettyServerBuilder> callsPerConnection(BrokerProperties properties) {
    int limit = properties.grpc().maxCallsPerConnection();
    return builder -> builder.maxConcurrentCallsPerConnection(limit);
  }

  /**
   * No TLS session tickets on the broker's connections (see {@link NoSessionTickets}): each
   * connection would keep the ticket it was given for its whole life, and a pod seldom comes back
   * to the replica that sealed it.
   */
  @Bean
  ServerBuilderCustomizer<NettyServerBuilder> noSessionTickets() {
    return builder -> builder.addTransportFilter(new NoSessionTickets());
  }

  /**
   * {@code WatchCredential} streams are left out of the gRPC server observation ({@code
   * grpc_server_seconds}, {@code grpc_server_active_seconds}): an observation stays open for a
   * stream's whole life, hours, and its context (with its maps and key values) cost about 1 KiB of
   * heap per stream, to time something whose duration says nothing useful. Open streams are counted
   * by {@code credbroker_streams_active}; every other call is observed as before.
   */
  @Bean
  ObservationPredicate noObservationOfWatchStreams() {
    String watch = CredentialBrokerGrpc.getWatchCredentialMethod().getFullMethodName();
    return (name, context) ->
        !(context instanceof GrpcServerObservationContext call
            && watch.equals(call.getFullMethodName()));
  }

  /**
   * Ends the streams and refuses the calls of this replica while it cannot write its heartbeat, and
   * closes its port once the others presume it dead (see {@link SelfFence}). The server's lifecycle
   * is looked up when it is needed ({@link LazyLifecycle}): the server is built with the
   * interceptors, which ask this bean.
   */
  @Bean(destroyMethod = "close")
  SelfFence selfFence(
      WatchStreams watchStreams,
      LeaseService leaseService,
      BrokerProperties properties,
      ObjectProvider<GrpcServerLifecycle> server) {
    return new SelfFence(
        watchStreams,
        leaseService,
        new LazyLifecycle(server),
        properties.cluster().heartbeatInterval());
  }

  @Bean
  ApplicationListener<ReplicaFencingEvent> fenceOnUnwrittenHeartbeat(SelfFence selfFence) {
    return selfFence::on;
  }

  /** The context closes: the fence never starts the server again. */
  @Bean
  ApplicationListener<ContextClosedEvent> stopFencingOnClose(SelfFence selfFence) {
    return event -> selfFence.close();
  }

  /**
   * Sheds calls beyond {@code credbroker.grpc.max-pending-calls} as their requests arrive (noted in
   * {@link ClusterRefusals}), closes calls whose request is later than {@code
   * credbroker.grpc.request-timeout}, and refuses every call while this replica is fenced.
   */
  @Bean(destroyMethod = "close")
  @GlobalServerInterceptor
  CallAdmission callAdmission(
      BrokerProperties properties,
      MeterRegistry meterRegistry,
      SelfFence selfFence,
      ClusterRefusals refusals) {
    return new CallAdmission(
        properties.grpc().maxPendingCalls(),
        properties.grpc().requestTimeout(),
        meterRegistry,
        selfFence::refusal,
        refusals::refused);
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
