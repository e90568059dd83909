package io.credbroker.client;

import io.grpc.Status;
import org.jspecify.annotations.Nullable;

/**
 * Why the broker refused a request, as its gRPC status code and the {@code google.rpc.ErrorInfo}
 * reason it sent.
 *
 * <p>Immutable. The message holds the code, the reason and the broker's description, never a token
 * or password.
 */
public final class CredentialBrokerException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final @Nullable String reason;

  public CredentialBrokerException(
      String message, Status.Code code, @Nullable String reason, @Nullable Throwable cause) {
    super(message, cause);
    this.code = code;
    this.reason = reason;
  }

  /**
   * The gRPC status code the broker (or the transport, or the client itself) ended the call with.
   */
  public Status.Code code() {
    return code;
  }

  /**
   * The broker's {@code ErrorInfo.reason} (for example {@code POD_REVOKED}), when it sent one; or
   * {@code INSECURE_TRANSPORT} when the client refused to send the token over a connection that is
   * not private (see {@link CredentialBrokerClient.Builder#allowInsecureTransport()}).
   */
  public @Nullable String reason() {
    return reason;
  }
}
