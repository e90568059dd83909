package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A pod's view of the broker in integration tests: calls with a bearer token, and assertions on the
 * documented error details. Remembers every password it received, so tests can look for them where
 * they must never appear.
 */
final class BrokerTestClient {

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final List<String> passwords = new CopyOnWriteArrayList<>();

  BrokerTestClient(ManagedChannel channel) {
    this.channel = channel;
  }

  CredentialBrokerGrpc.CredentialBrokerBlockingStub as(String token) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    return CredentialBrokerGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  CredentialBrokerGrpc.CredentialBrokerBlockingStub anonymous() {
    return CredentialBrokerGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  /** {@code IssueCredential} for {@code databaseRole} with the given token. */
  Credential issue(String token, String databaseRole) {
    return remember(
        as(token)
            .issueCredential(
                IssueCredentialRequest.newBuilder().setDatabaseRole(databaseRole).build())
            .getCredential());
  }

  Credential remember(Credential credential) {
    passwords.add(credential.getPassword());
    return credential;
  }

  List<String> passwordsSeen() {
    return List.copyOf(passwords);
  }

  /** Logs in to the credential's database as the pod would, with what the broker issued. */
  static Connection login(Credential credential) throws SQLException {
    return DriverManager.getConnection(
        credential.getConnection().getJdbcUrl(),
        credential.getUsername(),
        credential.getPassword());
  }

  /** Asserts that {@code call} fails with {@code code} and an ErrorInfo of {@code reason}. */
  static StatusRuntimeException assertRefused(Runnable call, Status.Code code, String reason) {
    StatusRuntimeException[] caught = new StatusRuntimeException[1];
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(code);
              ErrorInfo info = errorInfo(e);
              assertThat(info.getDomain()).isEqualTo("credbroker.io");
              assertThat(info.getReason()).isEqualTo(reason);
              caught[0] = e;
            });
    return caught[0];
  }

  static ErrorInfo errorInfo(StatusRuntimeException e) {
    try {
      return StatusProto.fromThrowable(e).getDetailsList().stream()
          .filter(any -> any.is(ErrorInfo.class))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no ErrorInfo in " + e.getStatus()))
          .unpack(ErrorInfo.class);
    } catch (InvalidProtocolBufferException ex) {
      throw new AssertionError(ex);
    }
  }

  /** The RetryInfo of a refusal, or {@code null} when it has none. */
  static @Nullable RetryInfo retryInfo(StatusRuntimeException e) {
    return StatusProto.fromThrowable(e).getDetailsList().stream()
        .filter(any -> any.is(RetryInfo.class))
        .findFirst()
        .map(
            any -> {
              try {
                return any.unpack(RetryInfo.class);
              } catch (InvalidProtocolBufferException ex) {
                throw new AssertionError(ex);
              }
            })
        .orElse(null);
  }
}
