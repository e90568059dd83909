package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.IssueCredentialResponse;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.UnfinishedCalls;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.IssuedCredential;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Load shedding at call admission, through an in-process server with the real call executor. */
class CallAdmissionTest {

  private static final int MAX_PENDING = 2;
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(1);
  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");

  private final ExecutorService executor = GrpcConfiguration.boundedCallExecutor(4);
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  /** Calls the admission reported as shed (for the cluster's refusals). */
  private final AtomicInteger reportedShed = new AtomicInteger();

  /** What refuses every call, as a fenced replica sets it; none unless a test sets it. */
  private final AtomicReference<BrokerException> fenced = new AtomicReference<>();

  private final CallAdmission admission =
      new CallAdmission(
          MAX_PENDING, REQUEST_TIMEOUT, meters, fenced::get, reportedShed::incrementAndGet);
  private final WatchStreams streams =
      new WatchStreams(Duration.ofMinutes(1), Clock.systemUTC(), meters);
  private final CredentialIssuer issuer = mock(CredentialIssuer.class);
  private final CountDownLatch release = new CountDownLatch(1);
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    when(issuer.issue(any(), any(), any(), eq(CredentialKind.ONE_SHOT)))
        .thenAnswer(
            invocation -> {
              // As a Vault or state store that answers slowly.
              release.await(30, TimeUnit.SECONDS);
              return issued();
            });
    when(issuer.issue(any(), any(), any(), eq(CredentialKind.STREAM), any(UUID.class)))
        .thenAnswer(invocation -> issued());
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .executor(executor)
            .addService(
                ServerInterceptors.intercept(
                    new CredentialBrokerService(
                        issuer,
                        mock(LeaseService.class),
                        streams,
                        Clock.systemUTC(),
                        Duration.ofHours(1)),
                    admission))
            .addService(
                ServerInterceptors.intercept(
                    new HealthStatusManager().getHealthService(), admission))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() {
    release.countDown();
    channel.shutdownNow();
    server.shutdownNow();
    streams.close();
    executor.shutdownNow();
    admission.close();
  }

  @Test
  void callsBeyondThePendingBoundAreRefusedAtOnceWithRetryInfoAndAdmittedAgainOnceOthersFinish()
      throws Exception {
    // An open stream past its first event is not pending.
    Iterator<CredentialEvent> stream =
        CredentialBrokerGrpc.newBlockingStub(channel)
            .watchCredential(WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build());
    assertThat(stream.next().hasIssued()).isTrue();
    await().atMost(Duration.ofSeconds(5)).until(() -> admission.pending() == 0);

    List<Recorder> slow = new ArrayList<>();
    for (int i = 0; i < MAX_PENDING; i++) {
      slow.add(issueAsync());
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> admission.pending() == MAX_PENDING);

    StatusRuntimeException refused =
        (StatusRuntimeException)
            catchThrowable(
                () ->
                    CredentialBrokerGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .issueCredential(request()));
    assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    com.google.rpc.Status details = StatusProto.fromThrowable(refused);
    assertThat(
            details.getDetailsList().stream()
                .filter(any -> any.is(ErrorInfo.class))
                .findFirst()
                .orElseThrow()
                .unpack(ErrorInfo.class)
                .getReason())
        .isEqualTo("OVERLOADED");
    assertThat(details.getDetailsList()).anyMatch(any -> any.is(RetryInfo.class));
    assertThat(meters.counter("credbroker.grpc.calls.shed").count()).isEqualTo(1);
    assertThat(reportedShed.get()).isEqualTo(1);

    // Health checks are not counted and still answer.
    assertThat(
            HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance())
                .getStatus())
        .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

    release.countDown();
    for (Recorder call : slow) {
      assertThat(call.done.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(call.error).isNull();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> admission.pending() == 0);
    assertThat(
            CredentialBrokerGrpc.newBlockingStub(channel)
                .withDeadlineAfter(5, TimeUnit.SECONDS)
                .issueCredential(request())
                .getCredential()
                .getUsername())
        .isNotEmpty();
  }

  @Test
  void aCallCancelledWhileItsHandlerRunsKeepsItsSlotUntilTheHandlerReturns() throws Exception {
    // grpc-java delivers a call's cancel after its running callback: the work still occupies a
    // thread, so it still counts.
    io.grpc.Context.CancellableContext context = io.grpc.Context.current().withCancellation();
    Recorder recorder = new Recorder();
    context.run(() -> CredentialBrokerGrpc.newStub(channel).issueCredential(request(), recorder));
    await().atMost(Duration.ofSeconds(5)).until(() -> admission.pending() == 1);

    context.cancel(null);
    assertThat(recorder.done.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(admission.pending()).isEqualTo(1);

    release.countDown();
    await().atMost(Duration.ofSeconds(5)).until(() -> admission.pending() == 0);
  }

  @Test
  void callsThatNeverSendTheirRequestHoldNoSlotAndAreClosedAfterTheRequestTimeout()
      throws Exception {
    // One client starts more calls than there are slots and never sends their requests.
    List<Closed> silent = new ArrayList<>();
    for (int i = 0; i <= MAX_PENDING; i++) {
      silent.add(new Closed(UnfinishedCalls.issueCredential(channel).closed()));
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> admission.awaitingRequest() == MAX_PENDING + 1);
    assertThat(admission.pending()).isZero();

    // Others are served meanwhile.
    Iterator<CredentialEvent> stream =
        CredentialBrokerGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .watchCredential(WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build());
    assertThat(stream.next().hasIssued()).isTrue();
    assertThat(meters.counter("credbroker.grpc.calls.shed").count()).isZero();

    for (Closed call : silent) {
      assertThat(call.status.get(REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS).getCode())
          .isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    }
    assertThat(silent.get(0).status.get().getDescription()).contains("request did not arrive");
    assertThat(meters.counter("credbroker.grpc.calls.request.timeouts").count())
        .isEqualTo(MAX_PENDING + 1);
    assertThat(admission.awaitingRequest()).isZero();
    verify(issuer, times(1)).issue(any(), any(), any(), eq(CredentialKind.STREAM), any(UUID.class));
    verify(issuer, never()).issue(any(), any(), any(), eq(CredentialKind.ONE_SHOT));
  }

  @Test
  @SuppressWarnings("unchecked")
  void aCallStartedBeforeTheReplicaFencedItselfIsRefusedWhenItsRequestArrives() throws Exception {
    UnfinishedCalls.Unfinished started = UnfinishedCalls.issueCredential(channel);
    await().atMost(Duration.ofSeconds(5)).until(() -> admission.awaitingRequest() == 1);

    fenced.set(
        new BrokerException(
            BrokerException.Reason.STATE_STORE_UNAVAILABLE,
            "this broker replica cannot reach its state database; reconnect to another replica",
            Duration.ofSeconds(1),
            null));
    ClientCall<IssueCredentialRequest, ?> call =
        (ClientCall<IssueCredentialRequest, ?>) started.call();
    call.sendMessage(request());
    call.halfClose();

    Status status = started.closed().get(5, TimeUnit.SECONDS);
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("cannot reach its state database");
    verify(issuer, never()).issue(any(), any(), any(), eq(CredentialKind.ONE_SHOT));
    assertThat(admission.pending()).isZero();
    assertThat(admission.awaitingRequest()).isZero();
  }

  @Test
  void aCallWhoseRequestArrivedIsNeverClosedByTheRequestTimeout() throws Exception {
    Closed stream = new Closed();
    CredentialBrokerGrpc.newStub(channel)
        .watchCredential(
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), stream.observer());
    await().atMost(Duration.ofSeconds(5)).until(() -> streams.size() == 1);
    TimeUnit.MILLISECONDS.sleep(REQUEST_TIMEOUT.toMillis() * 2);

    assertThat(stream.status).isNotDone();
    assertThat(streams.size()).isEqualTo(1);
    assertThat(meters.counter("credbroker.grpc.calls.request.timeouts").count()).isZero();
  }

  /** How a call ended, once it has. */
  private static final class Closed {
    final CompletableFuture<Status> status;

    Closed() {
      this(new CompletableFuture<>());
    }

    Closed(CompletableFuture<Status> status) {
      this.status = status;
    }

    <T> StreamObserver<T> observer() {
      return new StreamObserver<>() {
        @Override
        public void onNext(T value) {}

        @Override
        public void onError(Throwable t) {
          status.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
          status.complete(Status.OK);
        }
      };
    }
  }

  private static Throwable catchThrowable(Runnable call) {
    try {
      call.run();
    } catch (Throwable t) {
      return t;
    }
    throw new AssertionError("the call succeeded");
  }

  private Recorder issueAsync() {
    Recorder recorder = new Recorder();
    CredentialBrokerGrpc.newStub(channel).issueCredential(request(), recorder);
    return recorder;
  }

  private static IssueCredentialRequest request() {
    return IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build();
  }

  private static final class Recorder implements StreamObserver<IssueCredentialResponse> {
    final CountDownLatch done = new CountDownLatch(1);
    volatile Throwable error;

    @Override
    public void onNext(IssueCredentialResponse value) {}

    @Override
    public void onError(Throwable t) {
      error = t;
      done.countDown();
    }

    @Override
    public void onCompleted() {
      done.countDown();
    }
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
