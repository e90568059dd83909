package io.credbroker.broker.grpc;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.credbroker.broker.BrokerException;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.grpc.server.exception.GrpcExceptionHandler;

/**
 * The one place where failures become gRPC statuses.
 *
 * <p>A {@link BrokerException} becomes the status code of its reason's category, its own message
 * (written for callers), a {@code google.rpc.ErrorInfo} with {@code domain = "credbroker.io"} and
 * the reason's name, and a {@code google.rpc.RetryInfo} when a retry makes sense. Anything else is
 * a defect: it is logged here and the caller sees a generic INTERNAL status, never the exception's
 * text. Registered with spring-grpc, so exceptions that escape a service method come here too.
 *
 * <p>Stateless and thread-safe.
 */
final class GrpcErrorMapper implements GrpcExceptionHandler {

  static final String DOMAIN = "credbroker.io";
  private static final Logger log = LoggerFactory.getLogger(GrpcErrorMapper.class);

  @Override
  public StatusException handleException(Throwable exception) {
    return toStatusException(exception);
  }

  static StatusException toStatusException(Throwable exception) {
    if (exception instanceof BrokerException broker) {
      return fromBrokerException(broker);
    }
    if (exception instanceof StatusException status) {
      return status;
    }
    if (exception instanceof StatusRuntimeException status) {
      return new StatusException(status.getStatus(), status.getTrailers());
    }
    log.error("Unexpected failure while serving a gRPC call", exception);
    return build(Code.INTERNAL, "internal error", BrokerException.Reason.INTERNAL.name(), null);
  }

  private static StatusException fromBrokerException(BrokerException e) {
    Code code =
        switch (e.reason().category()) {
          case UNAUTHENTICATED -> Code.UNAUTHENTICATED;
          case PERMISSION_DENIED -> Code.PERMISSION_DENIED;
          case NOT_FOUND -> Code.NOT_FOUND;
          case INVALID_ARGUMENT -> Code.INVALID_ARGUMENT;
          case FAILED_PRECONDITION -> Code.FAILED_PRECONDITION;
          // The broker sheds load: the client should back off, not give up.
          case RESOURCE_EXHAUSTED -> Code.RESOURCE_EXHAUSTED;
          case UNAVAILABLE -> Code.UNAVAILABLE;
          // Vault refusing the broker's own configuration is not the client's fault and not
          // transient; INTERNAL tells the client to report it rather than to fix its request.
          case INTERNAL -> Code.INTERNAL;
        };
    if (code == Code.INTERNAL && e.reason() == BrokerException.Reason.INTERNAL) {
      log.error("Internal error while serving a gRPC call", e);
    }
    return build(code, e.getMessage(), e.reason().name(), e.retryAfter());
  }

  private static StatusException build(
      Code code, String message, String reason, @Nullable Duration retryAfter) {
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage(message)
            .addDetails(
                Any.pack(ErrorInfo.newBuilder().setDomain(DOMAIN).setReason(reason).build()));
    if (retryAfter != null) {
      status.addDetails(
          Any.pack(
              RetryInfo.newBuilder()
                  .setRetryDelay(
                      com.google.protobuf.Duration.newBuilder()
                          .setSeconds(retryAfter.getSeconds())
                          .setNanos(retryAfter.getNano()))
                  .build()));
    }
    return StatusProto.toStatusException(status.build());
  }
}
