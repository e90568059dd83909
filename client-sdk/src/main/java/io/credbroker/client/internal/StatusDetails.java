package io.credbroker.client.internal;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** Reads the {@code google.rpc} details the broker attaches to its errors. Stateless. */
public final class StatusDetails {

  private StatusDetails() {}

  /** The {@code RetryInfo.retry_delay} in the error's trailers, if any. */
  public static Optional<Duration> retryDelay(Throwable error) {
    RetryInfo info = detail(error, RetryInfo.class);
    if (info == null || !info.hasRetryDelay()) {
      return Optional.empty();
    }
    var delay = info.getRetryDelay();
    return Optional.of(Duration.ofSeconds(delay.getSeconds(), delay.getNanos()));
  }

  /** The {@code ErrorInfo.reason} in the error's trailers, or {@code null}. */
  public static @Nullable String errorReason(Throwable error) {
    ErrorInfo info = detail(error, ErrorInfo.class);
    return info == null || info.getReason().isEmpty() ? null : info.getReason();
  }

  private static <T extends com.google.protobuf.Message> @Nullable T detail(
      Throwable error, Class<T> type) {
    com.google.rpc.Status status = StatusProto.fromThrowable(error);
    if (status == null) {
      return null;
    }
    for (Any any : status.getDetailsList()) {
      if (any.is(type)) {
        try {
          return any.unpack(type);
        } catch (InvalidProtocolBufferException e) {
          // A malformed detail is no reason to fail the retry logic: behave as if it was absent.
          return null;
        }
      }
    }
    return null;
  }
}
