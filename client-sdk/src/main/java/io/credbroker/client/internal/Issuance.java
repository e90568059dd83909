package io.credbroker.client.internal;

import com.google.protobuf.Duration;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerException;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One {@code IssueCredential} call: a credential without a stream, which nobody renews. Stateless.
 */
public final class Issuance {

  private Issuance() {}

  /**
   * Asks the broker for one credential, waiting at most the request timeout for a connection and
   * the answer.
   *
   * @throws CredentialBrokerException with the broker's code and reason when it refused, or the
   *     transport failed
   */
  public static Credential issue(
      ClientRuntime runtime, String databaseRole, java.time.@Nullable Duration ttl) {
    var request = IssueCredentialRequest.newBuilder().setDatabaseRole(databaseRole);
    if (ttl != null) {
      request.setRequestedTtl(
          Duration.newBuilder().setSeconds(ttl.getSeconds()).setNanos(ttl.getNano()));
    }
    try {
      var response =
          runtime
              .blockingStub()
              .withWaitForReady()
              .withDeadlineAfter(runtime.requestTimeout().toNanos(), TimeUnit.NANOSECONDS)
              .issueCredential(request.build());
      return ProtoCredentials.toCredential(response.getCredential());
    } catch (StatusRuntimeException e) {
      String reason =
          TokenFileCallCredentials.refusedInsecureTransport(e.getStatus())
              ? TokenFileCallCredentials.INSECURE_TRANSPORT
              : StatusDetails.errorReason(e);
      throw new CredentialBrokerException(
          "IssueCredential for database role "
              + databaseRole
              + " failed with "
              + e.getStatus().getCode()
              + (reason == null ? "" : " (" + reason + ")"),
          e.getStatus().getCode(),
          reason,
          e);
    }
  }
}
