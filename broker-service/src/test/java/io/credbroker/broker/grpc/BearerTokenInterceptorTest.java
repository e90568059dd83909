package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.broker.auth.BearerToken;
import io.grpc.Context;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The bearer token's way from the call's metadata into its context, through an in-process call. */
class BearerTokenInterceptorTest {

  private static final String TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwb2QifQ.c2lnbmF0dXJl";

  private final AtomicReference<@Nullable BearerToken> seenToken = new AtomicReference<>();
  private final AtomicReference<@Nullable Metadata> seenHeaders = new AtomicReference<>();
  private final AtomicReference<@Nullable BearerToken> tokenInServiceMethod =
      new AtomicReference<>();
  private final AtomicReference<@Nullable Context> callContext = new AtomicReference<>();
  private InProcessGrpc grpc;

  @BeforeEach
  void start() throws Exception {
    // What the service and every interceptor after this one see of the call.
    ServerInterceptor inner =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            seenToken.set(BearerTokenInterceptor.currentToken());
            seenHeaders.set(headers);
            callContext.set(Context.current());
            return new ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(
                next.startCall(call, headers)) {
              @Override
              public void onHalfClose() {
                // Where the service method runs.
                tokenInServiceMethod.set(BearerTokenInterceptor.currentToken());
                super.onHalfClose();
              }
            };
          }
        };
    grpc =
        InProcessGrpc.serve(
            ServerInterceptors.intercept(
                new HealthStatusManager().getHealthService(), inner, new BearerTokenInterceptor()));
  }

  @AfterEach
  void stop() {
    grpc.close();
  }

  @Test
  void theTokenReachesTheCallsContextAndLeavesItsHeaders() {
    Metadata headers = new Metadata();
    headers.put(BearerTokenInterceptor.AUTHORIZATION, "Bearer " + TOKEN);
    headers.put(Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER), "r-1");

    check(headers);

    assertThat(seenToken.get()).isNotNull();
    assertThat(seenToken.get().value()).isEqualTo(TOKEN);
    // The headers live as long as the call (a stream: as long as the pod's connection to us); the
    // token is kept once, in the context, not a second time in them.
    Metadata seen = seenHeaders.get();
    assertThat(seen.containsKey(BearerTokenInterceptor.AUTHORIZATION)).isFalse();
    assertThat(seen.get(Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER)))
        .isEqualTo("r-1");
  }

  @Test
  void aHeaderThatIsNoBearerTokenGivesNoTokenAndIsDroppedAsWell() {
    Metadata headers = new Metadata();
    headers.put(BearerTokenInterceptor.AUTHORIZATION, "Basic dXNlcjpwYXNz");

    check(headers);

    assertThat(seenToken.get()).isNull();
    assertThat(seenHeaders.get().containsKey(BearerTokenInterceptor.AUTHORIZATION)).isFalse();
  }

  @Test
  void aStreamLetsGoOfItsTokenOnceItsServiceMethodHasReturned() throws Exception {
    Metadata headers = new Metadata();
    headers.put(BearerTokenInterceptor.AUTHORIZATION, "Bearer " + TOKEN);
    BlockingQueue<HealthCheckResponse> responses = new LinkedBlockingQueue<>();
    AtomicBoolean ended = new AtomicBoolean();
    // Health.Watch is server-streaming, like WatchCredential: its service method sends the first
    // status and returns, and the stream stays open for as long as the client keeps it.
    Context.CancellableContext client = Context.current().withCancellation();
    try {
      client.run(
          () ->
              HealthGrpc.newStub(grpc.channel())
                  .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                  .watch(
                      HealthCheckRequest.getDefaultInstance(),
                      new StreamObserver<>() {
                        @Override
                        public void onNext(HealthCheckResponse value) {
                          responses.add(value);
                        }

                        @Override
                        public void onError(Throwable t) {
                          ended.set(true);
                        }

                        @Override
                        public void onCompleted() {
                          ended.set(true);
                        }
                      }));
      assertThat(responses.poll(10, TimeUnit.SECONDS)).as("the stream's first status").isNotNull();

      assertThat(tokenInServiceMethod.get()).as("the token in the service method").isNotNull();
      assertThat(tokenInServiceMethod.get().value()).isEqualTo(TOKEN);
      Context stream = callContext.get();
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(stream.call(BearerTokenInterceptor::currentToken))
                      .as("the open stream's token after its service method returned")
                      .isNull());
      assertThat(ended).as("the stream ended").isFalse();
    } finally {
      client.cancel(null);
    }
  }

  private void check(Metadata headers) {
    HealthGrpc.newBlockingStub(grpc.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .check(HealthCheckRequest.getDefaultInstance());
  }
}
