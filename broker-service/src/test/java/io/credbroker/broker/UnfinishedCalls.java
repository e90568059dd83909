package io.credbroker.broker;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.IssueCredentialResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** {@code IssueCredential} calls a client starts and never finishes, as a slow or hostile one. */
public final class UnfinishedCalls {

  private UnfinishedCalls() {}

  /**
   * Starts a call without a token on {@code channel} and sends its headers, and its request too
   * when {@code sendRequest}, but never the request's end (the half-close).
   *
   * @return the status the call ends with, once it ends
   */
  public static CompletableFuture<Status> issueCredential(Channel channel, boolean sendRequest) {
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall<IssueCredentialRequest, IssueCredentialResponse> call =
        channel.newCall(
            CredentialBrokerGrpc.getIssueCredentialMethod(),
            CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS));
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        },
        new Metadata());
    call.request(1);
    if (sendRequest) {
      call.sendMessage(IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build());
    }
    return closed;
  }
}
