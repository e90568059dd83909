package io.credbroker.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.Timestamp;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.credbroker.api.v1.AcknowledgeRotationRequest;
import io.credbroker.api.v1.AcknowledgeRotationResponse;
import io.credbroker.api.v1.ConnectionHints;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialIssued;
import io.credbroker.api.v1.CredentialRevoked;
import io.credbroker.api.v1.CredentialRotated;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.api.v1.ReleaseCredentialResponse;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A scriptable broker for tests: records every call with the bearer token it carried, and lets the
 * test push events into, or end, each open {@code WatchCredential} stream. Thread-safe.
 */
public final class RecordingCredentialBroker extends CredentialBrokerGrpc.CredentialBrokerImplBase {

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<String> CALL_AUTHORIZATION = Context.key("authorization");

  private final BlockingQueue<WatchCall> pendingWatches = new LinkedBlockingQueue<>();
  private final List<WatchCall> watches = new CopyOnWriteArrayList<>();
  private final List<Recorded<AcknowledgeRotationRequest>> acknowledgements =
      new CopyOnWriteArrayList<>();
  private final List<Recorded<ReleaseCredentialRequest>> releases = new CopyOnWriteArrayList<>();
  private volatile Runnable onAcknowledge = () -> {};
  private volatile Runnable onRelease = () -> {};
  private final BlockingQueue<StatusRuntimeException> acknowledgementFailures =
      new LinkedBlockingQueue<>();
  private final List<Long> acknowledgementAttempts = new CopyOnWriteArrayList<>();

  /** A request together with the {@code authorization} header it arrived with. */
  public record Recorded<T>(T request, @Nullable String authorization) {}

  /** Records the {@code authorization} header so that the service methods can see it. */
  public ServerInterceptor headerRecorder() {
    return new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
          ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        Context context =
            Context.current().withValue(CALL_AUTHORIZATION, headers.get(AUTHORIZATION));
        return Contexts.interceptCall(context, call, headers, next);
      }
    };
  }

  @Override
  public void watchCredential(
      WatchCredentialRequest request, StreamObserver<CredentialEvent> responseObserver) {
    var serverObserver = (ServerCallStreamObserver<CredentialEvent>) responseObserver;
    WatchCall call = new WatchCall(request, CALL_AUTHORIZATION.get(), serverObserver);
    serverObserver.setOnCancelHandler(() -> call.cancelled = true);
    watches.add(call);
    pendingWatches.add(call);
  }

  @Override
  public void acknowledgeRotation(
      AcknowledgeRotationRequest request,
      StreamObserver<AcknowledgeRotationResponse> responseObserver) {
    acknowledgementAttempts.add(System.nanoTime());
    StatusRuntimeException failure = acknowledgementFailures.poll();
    if (failure != null) {
      responseObserver.onError(failure);
      return;
    }
    onAcknowledge.run();
    acknowledgements.add(new Recorded<>(request, CALL_AUTHORIZATION.get()));
    responseObserver.onNext(
        AcknowledgeRotationResponse.newBuilder().setReplacedCredentialId("replaced").build());
    responseObserver.onCompleted();
  }

  @Override
  public void releaseCredential(
      ReleaseCredentialRequest request,
      StreamObserver<ReleaseCredentialResponse> responseObserver) {
    onRelease.run();
    releases.add(new Recorded<>(request, CALL_AUTHORIZATION.get()));
    responseObserver.onNext(ReleaseCredentialResponse.getDefaultInstance());
    responseObserver.onCompleted();
  }

  /** Answers the next {@code times} acknowledgements with {@code failure} instead. */
  public void failAcknowledgements(int times, StatusRuntimeException failure) {
    for (int i = 0; i < times; i++) {
      acknowledgementFailures.add(failure);
    }
  }

  /** {@link System#nanoTime} of every acknowledgement that arrived, answered or failed. */
  public List<Long> acknowledgementAttempts() {
    return List.copyOf(acknowledgementAttempts);
  }

  /**
   * Runs {@code hook} when an acknowledgement arrives, before it is recorded: to see the client's
   * state then.
   */
  public void onAcknowledge(Runnable hook) {
    this.onAcknowledge = hook;
  }

  /**
   * Runs {@code hook} when a release arrives, before it is recorded and answered: to hold the
   * client inside its close.
   */
  public void onRelease(Runnable hook) {
    this.onRelease = hook;
  }

  /** The next {@code WatchCredential} call not yet taken, waiting up to five seconds for it. */
  public WatchCall nextWatch() throws InterruptedException {
    WatchCall call = pendingWatches.poll(5, TimeUnit.SECONDS);
    assertThat(call).as("a WatchCredential call within 5 s").isNotNull();
    return call;
  }

  public List<WatchCall> watches() {
    return List.copyOf(watches);
  }

  public List<Recorded<AcknowledgeRotationRequest>> acknowledgements() {
    return List.copyOf(acknowledgements);
  }

  public List<Recorded<ReleaseCredentialRequest>> releases() {
    return List.copyOf(releases);
  }

  /** One {@code WatchCredential} stream as the broker sees it. */
  public static final class WatchCall {

    private final WatchCredentialRequest request;
    private final @Nullable String authorization;
    private final ServerCallStreamObserver<CredentialEvent> observer;
    private volatile boolean cancelled;

    WatchCall(
        WatchCredentialRequest request,
        @Nullable String authorization,
        ServerCallStreamObserver<CredentialEvent> observer) {
      this.request = request;
      this.authorization = authorization;
      this.observer = observer;
    }

    public WatchCredentialRequest request() {
      return request;
    }

    public @Nullable String authorization() {
      return authorization;
    }

    public boolean cancelled() {
      return cancelled;
    }

    public synchronized void send(CredentialEvent event) {
      observer.onNext(event);
    }

    public void issue(io.credbroker.api.v1.Credential credential) {
      send(event().setIssued(CredentialIssued.newBuilder().setCredential(credential)).build());
    }

    public void rotate(io.credbroker.api.v1.Credential credential, String replaces) {
      send(
          event()
              .setRotated(
                  CredentialRotated.newBuilder()
                      .setCredential(credential)
                      .setReplaces(replaces)
                      .setPreviousValidFor(
                          com.google.protobuf.Duration.newBuilder().setSeconds(30)))
              .build());
    }

    public void revoke(String credentialId, String reason) {
      send(
          event()
              .setRevoked(
                  CredentialRevoked.newBuilder().setCredentialId(credentialId).setReason(reason))
              .build());
    }

    public synchronized void fail(Status status) {
      observer.onError(status.asRuntimeException());
    }

    /**
     * Ends the stream the way the broker does: with {@code ErrorInfo} and, if given, {@code
     * RetryInfo}.
     */
    public synchronized void fail(Status status, String reason, @Nullable Duration retryDelay) {
      observer.onError(withDetails(status, reason, retryDelay));
    }
  }

  public static CredentialEvent.Builder event() {
    Instant now = Instant.now();
    return CredentialEvent.newBuilder()
        .setEventTime(
            Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()));
  }

  public static StatusRuntimeException withDetails(
      Status status, String reason, @Nullable Duration retryDelay) {
    var details =
        com.google.rpc.Status.newBuilder()
            .setCode(status.getCode().value())
            .setMessage(status.getDescription() == null ? "" : status.getDescription())
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder().setReason(reason).setDomain("credbroker.io").build()));
    if (retryDelay != null) {
      details.addDetails(
          Any.pack(
              RetryInfo.newBuilder()
                  .setRetryDelay(
                      com.google.protobuf.Duration.newBuilder()
                          .setSeconds(retryDelay.getSeconds())
                          .setNanos(retryDelay.getNano()))
                  .build()));
    }
    return StatusProto.toStatusRuntimeException(details.build());
  }

  /** A wire credential for {@code db1} that expires in a minute, pointing at {@code jdbcUrl}. */
  public static io.credbroker.api.v1.Credential credential(
      String id, String username, String password, String jdbcUrl) {
    Instant now = Instant.now();
    return io.credbroker.api.v1.Credential.newBuilder()
        .setCredentialId(id)
        .setDatabaseRole("db1")
        .setUsername(username)
        .setPassword(password)
        .setIssueTime(timestamp(now))
        .setExpireTime(timestamp(now.plusSeconds(60)))
        .setMaxExpireTime(timestamp(now.plusSeconds(600)))
        .setRenewable(true)
        .setConnection(
            ConnectionHints.newBuilder()
                .setHost("localhost")
                .setPort(5432)
                .setDatabase("db1")
                .setSslmode("disable")
                .setJdbcUrl(jdbcUrl))
        .build();
  }

  public static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }
}
