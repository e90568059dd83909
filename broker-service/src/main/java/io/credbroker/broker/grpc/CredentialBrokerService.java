package io.credbroker.broker.grpc;

import io.credbroker.api.v1.AcknowledgeRotationRequest;
import io.credbroker.api.v1.AcknowledgeRotationResponse;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialIssued;
import io.credbroker.api.v1.CredentialResumed;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.IssueCredentialResponse;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.api.v1.ReleaseCredentialResponse;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.auth.TokenLifetime;
import io.credbroker.broker.lease.Acknowledgement;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.IssuedCredential;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * The {@code credbroker.v1.CredentialBroker} service: translates requests for the domain and its
 * answers back, nothing more.
 *
 * <p>Methods run on gRPC's call executor and block while the credential is issued (TokenReview,
 * Vault, state store). A {@code WatchCredential} call then returns; its stream lives on in {@link
 * WatchStreams} until the client cancels it or the broker ends it.
 */
final class CredentialBrokerService extends CredentialBrokerGrpc.CredentialBrokerImplBase {

  private final CredentialIssuer issuer;
  private final LeaseService leases;
  private final WatchStreams streams;
  private final Clock clock;
  private final Duration maxStreamAuthorisation;

  /**
   * @param maxStreamAuthorisation the longest a stream lasts on the review of the token it was
   *     opened with, whatever that token's lifetime ({@code
   *     credbroker.grpc.max-stream-authorisation})
   */
  CredentialBrokerService(
      CredentialIssuer issuer,
      LeaseService leases,
      WatchStreams streams,
      Clock clock,
      Duration maxStreamAuthorisation) {
    this.maxStreamAuthorisation =
        Objects.requireNonNull(maxStreamAuthorisation, "maxStreamAuthorisation");
    this.issuer = Objects.requireNonNull(issuer, "issuer");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.streams = Objects.requireNonNull(streams, "streams");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  @Override
  public void watchCredential(
      WatchCredentialRequest request, StreamObserver<CredentialEvent> responseObserver) {
    ServerCallStreamObserver<CredentialEvent> observer =
        (ServerCallStreamObserver<CredentialEvent>) responseObserver;
    UUID streamId = UUID.randomUUID();
    // Both handlers must be installed before this method returns; the stream they act on is only
    // known once the credential exists.
    AtomicReference<WatchStream> stream = new AtomicReference<>();
    observer.setOnReadyHandler(
        () -> {
          WatchStream current = stream.get();
          if (current != null) {
            current.drain();
          }
        });
    observer.setOnCancelHandler(
        () -> {
          WatchStream current = stream.get();
          if (current != null) {
            cancelled(current);
          }
        });
    // Until registered below, the lease lifecycle must know that a stream is on its way here (a
    // credential the resume attaches can come due before): see LeaseDecisions.
    streams.beginOpening(streamId);
    try {
      CredentialEvent first;
      IssuedCredential credential;
      if (!request.getResumeCredentialId().isEmpty()) {
        credential =
            issuer.resume(
                BearerTokenInterceptor.currentToken(),
                request.getDatabaseRole(),
                request.getResumeCredentialId(),
                streamId);
        first =
            ProtoCredentials.event(clock)
                .setResumed(
                    CredentialResumed.newBuilder()
                        .setCredential(ProtoCredentials.credential(credential)))
                .build();
      } else {
        credential =
            issuer.issue(
                BearerTokenInterceptor.currentToken(),
                request.getDatabaseRole(),
                requestedTtl(request.hasRequestedTtl(), request.getRequestedTtl()),
                CredentialKind.STREAM,
                streamId);
        first =
            ProtoCredentials.event(clock)
                .setIssued(
                    CredentialIssued.newBuilder()
                        .setCredential(ProtoCredentials.credential(credential)))
                .build();
      }
      // Authorised by one review of its token, so it lasts no longer than that token, nor than
      // the longest a review authorises a stream for (see WatchStreams).
      WatchStream watch =
          new WatchStream(
              streamId,
              credential.record().id(),
              observer,
              TokenLifetime.streamEnd(
                  issuer.tokenLifetime(BearerTokenInterceptor.currentToken()),
                  clock.instant(),
                  ThreadLocalRandom.current().nextDouble(),
                  maxStreamAuthorisation));
      watch.send(first);
      stream.set(watch);
      streams.register(watch, credential.record().expireTime());
      if (observer.isCancelled()) {
        // The client left while the credential was being issued; the cancel handler ran before the
        // stream was known, so do its work here.
        cancelled(watch);
      }
    } catch (RuntimeException e) {
      // Whatever the stream got, it ends here: its pod's stream slot is free again.
      issuer.streamEnded(streamId);
      if (!observer.isCancelled()) {
        observer.onError(GrpcErrorMapper.toStatusException(e));
      }
    } finally {
      // After register: whoever finds it no longer opening finds it held, or never will.
      streams.endOpening(streamId);
    }
  }

  @Override
  public void acknowledgeRotation(
      AcknowledgeRotationRequest request,
      StreamObserver<AcknowledgeRotationResponse> responseObserver) {
    try {
      Acknowledgement ack =
          issuer.acknowledge(BearerTokenInterceptor.currentToken(), request.getCredentialId());
      responseObserver.onNext(
          AcknowledgeRotationResponse.newBuilder()
              .setReplacedCredentialId(ack.replacedId().toString())
              .setRevokeTime(ProtoCredentials.timestamp(ack.revokeTime()))
              .build());
      responseObserver.onCompleted();
    } catch (RuntimeException e) {
      responseObserver.onError(GrpcErrorMapper.toStatusException(e));
    }
  }

  @Override
  public void releaseCredential(
      ReleaseCredentialRequest request,
      StreamObserver<ReleaseCredentialResponse> responseObserver) {
    try {
      // A stream still holding one of them on this replica has nothing left to carry.
      for (UUID released :
          issuer.release(BearerTokenInterceptor.currentToken(), request.getCredentialId())) {
        streams.released(released);
      }
      responseObserver.onNext(ReleaseCredentialResponse.getDefaultInstance());
      responseObserver.onCompleted();
    } catch (RuntimeException e) {
      responseObserver.onError(GrpcErrorMapper.toStatusException(e));
    }
  }

  /**
   * The request's {@code requested_ttl}. One that is not a valid duration is refused only once the
   * caller is authenticated, as every other judgement of a request is: an anonymous caller is told
   * that it is anonymous, nothing about its request.
   */
  private @Nullable Duration requestedTtl(boolean present, com.google.protobuf.Duration ttl) {
    try {
      return ProtoCredentials.requestedTtl(present, ttl);
    } catch (BrokerException invalid) {
      issuer.authenticate(BearerTokenInterceptor.currentToken());
      throw invalid;
    }
  }

  /** The client left: the stream stops, and its credentials enter their reconnect grace. */
  private void cancelled(WatchStream stream) {
    stream.cancelled();
    streams.unregister(stream);
    leases.detach(stream.streamId());
  }

  @Override
  public void issueCredential(
      IssueCredentialRequest request, StreamObserver<IssueCredentialResponse> responseObserver) {
    try {
      IssuedCredential issued =
          issuer.issue(
              BearerTokenInterceptor.currentToken(),
              request.getDatabaseRole(),
              requestedTtl(request.hasRequestedTtl(), request.getRequestedTtl()),
              CredentialKind.ONE_SHOT);
      responseObserver.onNext(
          IssueCredentialResponse.newBuilder()
              .setCredential(ProtoCredentials.credential(issued))
              .build());
      responseObserver.onCompleted();
    } catch (RuntimeException e) {
      responseObserver.onError(GrpcErrorMapper.toStatusException(e));
    }
  }
}
