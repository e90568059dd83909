package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.broker.auth.BearerToken;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.MetadataUtils;
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
            return next.startCall(call, headers);
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

  private void check(Metadata headers) {
    HealthGrpc.newBlockingStub(grpc.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .check(HealthCheckRequest.getDefaultInstance());
  }
}
