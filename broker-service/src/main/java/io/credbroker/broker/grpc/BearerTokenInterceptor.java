package io.credbroker.broker.grpc;

import io.credbroker.broker.auth.BearerToken;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import org.jspecify.annotations.Nullable;

/**
 * Lifts the {@code authorization: Bearer <token>} metadata into the call's {@link Context}, where
 * the service reads it with {@link #currentToken()}. Checking the token is the domain's job, not
 * this class's: a call without a token still reaches the service, which refuses it with the same
 * error mapping as every other failure. The header is removed from the metadata that later
 * interceptors and the service see.
 *
 * <p>Stateless and thread-safe.
 */
final class BearerTokenInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private static final Context.Key<BearerToken> TOKEN = Context.key("credbroker-bearer-token");

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    BearerToken token = BearerToken.fromAuthorizationHeader(headers.get(AUTHORIZATION));
    // grpc-java keeps a call's headers until the call ends: for a stream, as long as the pod is
    // connected. The token is kept once, in the context, and not a second time in them.
    headers.discardAll(AUTHORIZATION);
    if (token == null) {
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(Context.current().withValue(TOKEN, token), call, headers, next);
  }

  /** The current call's bearer token, or {@code null} when it carried none. */
  static @Nullable BearerToken currentToken() {
    return TOKEN.get();
  }
}
