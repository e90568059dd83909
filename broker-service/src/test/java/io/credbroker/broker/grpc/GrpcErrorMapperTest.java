package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GrpcErrorMapperTest {

  @Test
  void everyReasonMapsToItsDocumentedStatusCode() {
    Map<Reason, Status.Code> expected =
        Map.ofEntries(
            Map.entry(Reason.TOKEN_MISSING, Status.Code.UNAUTHENTICATED),
            Map.entry(Reason.TOKEN_MALFORMED, Status.Code.UNAUTHENTICATED),
            Map.entry(Reason.TOKEN_REJECTED, Status.Code.UNAUTHENTICATED),
            Map.entry(Reason.TOKEN_NOT_POD_BOUND, Status.Code.UNAUTHENTICATED),
            Map.entry(Reason.POD_DELETED, Status.Code.UNAUTHENTICATED),
            Map.entry(Reason.TOKEN_EXPIRED, Status.Code.UNAUTHENTICATED),
            Map.entry(Reason.NOT_BOUND, Status.Code.PERMISSION_DENIED),
            Map.entry(Reason.POD_REVOKED, Status.Code.PERMISSION_DENIED),
            Map.entry(Reason.ACCESS_DENIED, Status.Code.PERMISSION_DENIED),
            Map.entry(Reason.CREDENTIAL_REVOKED, Status.Code.FAILED_PRECONDITION),
            Map.entry(Reason.CREDENTIAL_OF_ANOTHER_POD, Status.Code.PERMISSION_DENIED),
            Map.entry(Reason.POD_NOT_FOUND, Status.Code.NOT_FOUND),
            Map.entry(Reason.POD_NOT_BLOCKED, Status.Code.NOT_FOUND),
            Map.entry(Reason.CREDENTIAL_NOT_FOUND, Status.Code.NOT_FOUND),
            Map.entry(Reason.NOT_A_ROTATION, Status.Code.FAILED_PRECONDITION),
            Map.entry(Reason.UNKNOWN_DATABASE_ROLE, Status.Code.NOT_FOUND),
            Map.entry(Reason.CREDENTIAL_NOT_RESUMABLE, Status.Code.FAILED_PRECONDITION),
            Map.entry(Reason.INVALID_REQUEST, Status.Code.INVALID_ARGUMENT),
            Map.entry(Reason.OVERLOADED, Status.Code.RESOURCE_EXHAUSTED),
            Map.entry(Reason.TOO_MANY_STREAMS, Status.Code.RESOURCE_EXHAUSTED),
            Map.entry(Reason.ISSUANCE_RATE_EXCEEDED, Status.Code.RESOURCE_EXHAUSTED),
            Map.entry(Reason.TOKEN_REVIEWS_THROTTLED, Status.Code.RESOURCE_EXHAUSTED),
            Map.entry(Reason.VAULT_UNAVAILABLE, Status.Code.UNAVAILABLE),
            Map.entry(Reason.KUBERNETES_UNAVAILABLE, Status.Code.UNAVAILABLE),
            Map.entry(Reason.STATE_STORE_UNAVAILABLE, Status.Code.UNAVAILABLE),
            Map.entry(Reason.SHUTTING_DOWN, Status.Code.UNAVAILABLE),
            Map.entry(Reason.VAULT_REJECTED, Status.Code.INTERNAL),
            Map.entry(Reason.INTERNAL, Status.Code.INTERNAL));
    assertThat(expected.keySet()).containsExactlyInAnyOrder(Reason.values());

    expected.forEach(
        (reason, code) -> {
          StatusException status =
              GrpcErrorMapper.toStatusException(new BrokerException(reason, "why"));
          assertThat(status.getStatus().getCode()).as(reason.name()).isEqualTo(code);
          assertThat(errorInfo(status).getReason()).isEqualTo(reason.name());
          assertThat(errorInfo(status).getDomain()).isEqualTo("credbroker.io");
        });
  }

  @Test
  void retryableFailureCarriesRetryInfo() throws Exception {
    StatusException status =
        GrpcErrorMapper.toStatusException(
            new BrokerException(
                Reason.VAULT_UNAVAILABLE, "Vault is unavailable", Duration.ofMillis(1500), null));

    RetryInfo retry =
        StatusProto.fromThrowable(status).getDetailsList().stream()
            .filter(any -> any.is(RetryInfo.class))
            .findFirst()
            .orElseThrow()
            .unpack(RetryInfo.class);
    assertThat(retry.getRetryDelay().getSeconds()).isEqualTo(1);
    assertThat(retry.getRetryDelay().getNanos()).isEqualTo(500_000_000);
    assertThat(status.getStatus().getDescription()).isEqualTo("Vault is unavailable");
  }

  @Test
  void finalFailureCarriesNoRetryInfo() {
    StatusException status =
        GrpcErrorMapper.toStatusException(new BrokerException(Reason.NOT_BOUND, "not bound"));

    assertThat(StatusProto.fromThrowable(status).getDetailsList())
        .noneMatch(any -> any.is(RetryInfo.class));
  }

  @Test
  void unexpectedExceptionBecomesInternalWithoutItsMessage() {
    StatusException status =
        GrpcErrorMapper.toStatusException(
            new IllegalStateException("password=hunter2 leaked from somewhere"));

    assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(status.getStatus().getDescription()).doesNotContain("hunter2");
    assertThat(errorInfo(status).getReason()).isEqualTo("INTERNAL");
  }

  private static ErrorInfo errorInfo(StatusException status) {
    try {
      return StatusProto.fromThrowable(status).getDetailsList().stream()
          .filter(any -> any.is(ErrorInfo.class))
          .findFirst()
          .orElseThrow()
          .unpack(ErrorInfo.class);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }
}
