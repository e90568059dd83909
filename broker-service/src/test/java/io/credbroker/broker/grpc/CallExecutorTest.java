package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.isNull;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.IssuedCredential;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gRPC server's call executor: how many threads the broker's calls and stream callbacks may
 * take, counted, not timed.
 */
class CallExecutorTest {

  private static final int THREADS = 4;
  private static final int STREAMS = 200;
  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");

  private final ExecutorService executor = GrpcConfiguration.boundedCallExecutor(THREADS);
  private final ExecutorService clientExecutor = Executors.newFixedThreadPool(2);
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final WatchStreams streams =
      new WatchStreams(Duration.ofMinutes(1), Clock.systemUTC(), meters);
  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void stop() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.shutdownNow();
    }
    streams.close();
    executor.shutdownNow();
    clientExecutor.shutdownNow();
  }

  @Test
  void manyStreamsEndingAtOnceUseNoMoreThreadsThanConfiguredAndEveryEndIsRecorded()
      throws Exception {
    CredentialIssuer issuer = mock(CredentialIssuer.class);
    when(issuer.issue(any(), any(), isNull(), any(CredentialKind.class), any(UUID.class)))
        .thenAnswer(invocation -> issued());
    // The cancel path blocks (as a slow state store would) until every stream has ended, so a pool
    // that starts a thread per waiting callback would show it.
    CountDownLatch allCancelled = new CountDownLatch(1);
    Set<UUID> detached = ConcurrentHashMap.newKeySet();
    LeaseService leases = mock(LeaseService.class);
    doAnswer(
            invocation -> {
              allCancelled.await(30, TimeUnit.SECONDS);
              detached.add(invocation.getArgument(0));
              return null;
            })
        .when(leases)
        .detach(any());
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .executor(executor)
            .addService(
                new CredentialBrokerService(
                    issuer, leases, streams, Clock.systemUTC(), Duration.ofHours(1)))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).executor(clientExecutor).build();

    List<ClientCall<WatchCredentialRequest, CredentialEvent>> calls = new ArrayList<>();
    AtomicInteger firstEvents = new AtomicInteger();
    for (int i = 0; i < STREAMS; i++) {
      ClientCall<WatchCredentialRequest, CredentialEvent> call =
          channel.newCall(CredentialBrokerGrpc.getWatchCredentialMethod(), CallOptions.DEFAULT);
      call.start(
          new ClientCall.Listener<>() {
            @Override
            public void onMessage(CredentialEvent message) {
              firstEvents.incrementAndGet();
            }

            @Override
            public void onClose(Status status, Metadata trailers) {}
          },
          new Metadata());
      call.request(1);
      call.sendMessage(WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build());
      call.halfClose();
      calls.add(call);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> firstEvents.get() == STREAMS);
    assertThat(streams.size()).isEqualTo(STREAMS);

    calls.forEach(call -> call.cancel("pod gone", null));
    // Every thread is now stuck in a cancel handler; the other cancellations wait for a thread
    // instead of each getting a new one.
    await().atMost(Duration.ofSeconds(30)).until(() -> streams.size() <= STREAMS - THREADS);
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(5))
        .until(() -> callThreads() <= THREADS && streams.size() == STREAMS - THREADS);

    allCancelled.countDown();
    await().atMost(Duration.ofSeconds(30)).until(() -> detached.size() == STREAMS);
    assertThat(streams.size()).isZero();
    assertThat(callThreads()).isLessThanOrEqualTo(THREADS);
  }

  /**
   * One task at a time, as a quiet broker's calls come: each goes to a thread that ran one of the
   * last tasks, not to the thread idle longest. A pool whose idle threads wait in turn on one queue
   * ran these tasks on every one of its threads, each in turn.
   */
  @Test
  void tasksOneAtATimeRunOnTheThreadsThatRanTheLastOnes() throws Exception {
    int threads = 16;
    ExecutorService pool = GrpcConfiguration.boundedCallExecutor(threads);
    try {
      // Every thread started and idle.
      CountDownLatch allStarted = new CountDownLatch(threads);
      for (int i = 0; i < threads; i++) {
        pool.execute(
            () -> {
              allStarted.countDown();
              try {
                allStarted.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
      }
      assertThat(allStarted.await(30, TimeUnit.SECONDS)).isTrue();
      Thread.sleep(100);

      Set<String> ranOn = ConcurrentHashMap.newKeySet();
      Set<ClassLoader> loaders = ConcurrentHashMap.newKeySet();
      for (int i = 0; i < 4 * threads; i++) {
        CountDownLatch done = new CountDownLatch(1);
        pool.execute(
            () -> {
              ranOn.add(Thread.currentThread().getName());
              loaders.add(Thread.currentThread().getContextClassLoader());
              done.countDown();
            });
        assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(2);
      }
      assertThat(ranOn).allMatch(name -> name.startsWith("grpc-call-"));
      assertThat(ranOn.size()).isLessThanOrEqualTo(threads / 4);
      // The application's classes are visible to the calls' threads (the packaged jar's loader).
      assertThat(loaders).containsExactly(GrpcConfiguration.class.getClassLoader());
    } finally {
      pool.shutdownNow();
    }
  }

  private static long callThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(thread -> thread.getName().startsWith("grpc-call-"))
        .count();
  }

  private static IssuedCredential issued() {
    Instant now = Instant.now();
    CredentialRecord record =
        new CredentialRecord(
            UUID.randomUUID(),
            "db1",
            "database",
            "db1",
            "database/creds/db1/" + UUID.randomUUID(),
            "v-app-db1-abc",
            POD,
            CredentialKind.STREAM,
            CredentialState.ACTIVE,
            true,
            "replica-1",
            now,
            now.plusSeconds(60));
    return new IssuedCredential(
        record, "A1b2-C3d4-E5f6-G7h8", new ConnectionHints("127.0.0.1", 15432, "db1", "disable"));
  }
}
