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
   * One such call.
   *
   * @param closed the status the call ends with, once it ends
   */
  public record Unfinished(ClientCall<?, ?> call, CompletableFuture<Status> closed) {

    /** Ends the call from the client's side, if the server has not. */
    public void cancel() {
      call.cancel("the test is done with it", null);
    }
  }

  /** Starts a call without a token on {@code channel} and sends its headers, never its request. */
  public static Unfinished issueCredential(Channel channel) {
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
    return new Unfinished(call, closed);
  }
}
