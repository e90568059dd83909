package io.credbroker.broker;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A pod's {@code WatchCredential} stream in integration tests: records every event (heartbeats
 * apart), how the stream ended, and can be cancelled like a pod going away without a release.
 */
final class EventStream implements AutoCloseable {

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  final List<CredentialEvent> events = new CopyOnWriteArrayList<>();
  final AtomicReference<@Nullable Throwable> error = new AtomicReference<>();
  final AtomicBoolean completed = new AtomicBoolean();
  private final Context.CancellableContext context = Context.current().withCancellation();

  private EventStream() {}

  /**
   * A stream's request for a credential of {@code databaseRole}, asking for {@code ttl} if given.
   */
  static WatchCredentialRequest request(String databaseRole, @Nullable Duration ttl) {
    WatchCredentialRequest.Builder request =
        WatchCredentialRequest.newBuilder().setDatabaseRole(databaseRole);
    if (ttl != null) {
      request.setRequestedTtl(
          com.google.protobuf.Duration.newBuilder().setSeconds(ttl.toSeconds()));
    }
    return request.build();
  }

  static EventStream open(ManagedChannel channel, String token, WatchCredentialRequest request) {
    EventStream stream = new EventStream();
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    CredentialBrokerGrpc.CredentialBrokerStub stub =
        CredentialBrokerGrpc.newStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    stream.context.run(
        () ->
            stub.watchCredential(
                request,
                new StreamObserver<>() {
                  @Override
                  public void onNext(CredentialEvent event) {
                    if (!event.hasHeartbeat()) {
                      stream.events.add(event);
                    }
                  }

                  @Override
                  public void onError(Throwable t) {
                    stream.error.set(t);
                  }

                  @Override
                  public void onCompleted() {
                    stream.completed.set(true);
                  }
                }));
    return stream;
  }

  /**
   * Waits for the first event (issued or resumed).
   *
   * @throws StatusRuntimeException when the stream ended with an error instead
   */
  CredentialEvent first() {
    org.awaitility.Awaitility.await("first event")
        .atMost(Duration.ofSeconds(20))
        .until(() -> !events.isEmpty() || error.get() != null);
    if (events.isEmpty()) {
      if (error.get() instanceof StatusRuntimeException status) {
        throw status;
      }
      throw new AssertionError("stream failed", error.get());
    }
    return events.get(0);
  }

  /** Waits for the {@code n}-th event (counting from 1) matching {@code kind}. */
  CredentialEvent await(Predicate<CredentialEvent> kind, int n, Duration within) {
    org.awaitility.Awaitility.await("event #" + n)
        .atMost(within)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> events.stream().filter(kind).count() >= n);
    return events.stream().filter(kind).skip(n - 1L).findFirst().orElseThrow();
  }

  long count(Predicate<CredentialEvent> kind) {
    return events.stream().filter(kind).count();
  }

  boolean open() {
    return error.get() == null && !completed.get();
  }

  /** Cancels the stream, as a pod that goes away without releasing its credential. */
  @Override
  public void close() {
    context.cancel(null);
  }
}
