package io.credbroker.broker.grpc;

import io.credbroker.broker.auth.BearerToken;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCallListener;
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
 * <p>The token is there until the service method has returned (for every method of the broker's
 * service, the end of the request's half-close), then the call lets go of it: a stream lives as
 * long as its pod's connection, and nothing after the start of a stream needs the token, which is
 * about a kilobyte per pod.
 *
 * <p>Stateless and thread-safe.
 */
final class BearerTokenInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private static final Context.Key<TokenHolder> TOKEN = Context.key("credbroker-bearer-token");

  /** The call's token until its service method has returned. */
  private static final class TokenHolder {
    private volatile @Nullable BearerToken token;

    TokenHolder(BearerToken token) {
      this.token = token;
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    BearerToken token = BearerToken.fromAuthorizationHeader(headers.get(AUTHORIZATION));
    // grpc-java keeps a call's headers until the call ends: for a stream, as long as the pod is
    // connected. The token is not kept in them.
    headers.discardAll(AUTHORIZATION);
    if (token == null) {
      return next.startCall(call, headers);
    }
    TokenHolder holder = new TokenHolder(token);
    ServerCall.Listener<Q> listener =
        Contexts.interceptCall(Context.current().withValue(TOKEN, holder), call, headers, next);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(listener) {
      @Override
      public void onHalfClose() {
        try {
          super.onHalfClose();
        } finally {
          holder.token = null;
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          holder.token = null;
        }
      }
    };
  }

  /**
   * The current call's bearer token, or {@code null} when it carried none or its service method has
   * returned.
   */
  static @Nullable BearerToken currentToken() {
    TokenHolder holder = TOKEN.get();
    return holder == null ? null : holder.token;
  }
}
