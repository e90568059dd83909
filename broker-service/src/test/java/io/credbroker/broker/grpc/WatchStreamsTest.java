package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialIssued;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.IssuedCredential;
import io.credbroker.broker.lease.RotationReason;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The registry of open streams: revocations that race a stream's registration, and stream ends. */
class WatchStreamsTest {

  private static final CredentialEvent ISSUED =
      CredentialEvent.newBuilder().setIssued(CredentialIssued.getDefaultInstance()).build();

  /** The expiry a stream's first event carried, in tests where it does not matter. */
  private static final Instant SENT_EXPIRY = Instant.parse("2026-12-05T12:00:00Z");

  private final Set<UUID> ended = ConcurrentHashMap.newKeySet();
  private final Set<UUID> detached = ConcurrentHashMap.newKeySet();
  private final WatchStreams streams =
      new WatchStreams(
          Duration.ofMinutes(1),
          Clock.systemUTC(),
          new SimpleMeterRegistry(),
          ended::add,
          detached::add);

  @AfterEach
  void close() {
    streams.close();
  }

  @Test
  void aStreamThatRegistersAfterItsCredentialWasRevokedEndsAtOnce() {
    UUID credentialId = UUID.randomUUID();
    streams.revoked(credentialId, "POD_REVOKED");

    Transport transport = new Transport();
    WatchStream stream = new WatchStream(UUID.randomUUID(), credentialId, transport, null);
    stream.send(ISSUED);
    streams.register(stream, SENT_EXPIRY);

    assertThat(transport.written).hasSize(2);
    assertThat(transport.written.get(1).getRevoked().getCredentialId())
        .isEqualTo(credentialId.toString());
    assertThat(Status.fromThrowable(transport.error).getCode())
        .isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(streams.holds(credentialId)).isFalse();
    assertThat(ended).containsExactly(stream.streamId());
  }

  @Test
  void aRotationToACredentialRevokedBeforeItArrivedEndsTheStream() {
    // The operator's revocation of the pod (on another replica) ended both the old credential and
    // its replacement, and the replacement's notice arrived before the rotation reached the stream.
    // Before, the stream was re-keyed to the dropped role and stayed open.
    Transport transport = new Transport();
    WatchStream stream = open(transport, null);
    UUID replaced = stream.credentialId();
    IssuedCredential replacement =
        CredentialBrokerServiceTest.issuedCredential(CredentialKind.STREAM);
    UUID replacementId = replacement.record().id();
    streams.revoked(replacementId, "POD_REVOKED");

    boolean delivered =
        streams.rotated(replaced, replacement, Duration.ofSeconds(30), RotationReason.MAX_TTL);

    assertThat(delivered).isTrue();
    assertThat(transport.written).hasSize(3);
    assertThat(transport.written.get(1).getRotated().getCredential().getCredentialId())
        .isEqualTo(replacementId.toString());
    assertThat(transport.written.get(2).getRevoked().getCredentialId())
        .isEqualTo(replacementId.toString());
    assertThat(Status.fromThrowable(transport.error).getCode())
        .isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(streams.holds(replacementId)).isFalse();
    assertThat(streams.holds(replaced)).isFalse();
    assertThat(ended).containsExactly(stream.streamId());
  }

  @Test
  void aStreamOfAnotherCredentialIsNotTouchedByAnEarlierRevocation() {
    streams.revoked(UUID.randomUUID(), "CREDENTIAL_REVOKED");

    Transport transport = new Transport();
    WatchStream stream = new WatchStream(UUID.randomUUID(), UUID.randomUUID(), transport, null);
    stream.send(ISSUED);
    streams.register(stream, SENT_EXPIRY);

    assertThat(transport.written).hasSize(1);
    assertThat(transport.error).isNull();
    assertThat(streams.holds(stream.credentialId())).isTrue();
    assertThat(ended).isEmpty();
  }

  @Test
  void aStreamWhoseCredentialANewStreamResumedHereEndsAndGivesBackItsSlot() {
    // The client's old connection is half-open: this replica has not noticed it is gone when the
    // client resumes the credential on a new stream here.
    Transport oldTransport = new Transport();
    WatchStream old = new WatchStream(UUID.randomUUID(), UUID.randomUUID(), oldTransport, null);
    old.send(ISSUED);
    streams.register(old, SENT_EXPIRY);
    Transport newTransport = new Transport();
    WatchStream resumed =
        new WatchStream(UUID.randomUUID(), old.credentialId(), newTransport, null);
    resumed.send(ISSUED);

    streams.register(resumed, SENT_EXPIRY);

    assertThat(Status.fromThrowable(oldTransport.error).getCode())
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(ended).containsExactly(old.streamId());
    assertThat(newTransport.error).isNull();
    assertThat(streams.size()).isOne();
    assertThat(streams.holds(old.credentialId())).isTrue();
    // The old stream's cancel, when it comes, leaves the new one registered.
    streams.unregister(old);
    assertThat(streams.holds(old.credentialId())).isTrue();
  }

  @Test
  void everyWayAStreamEndsIsReported() {
    WatchStream released = open();
    WatchStream revoked = open();
    WatchStream cancelled = open();
    WatchStream shutDown = open();

    streams.released(released.credentialId());
    streams.revoked(revoked.credentialId(), "CREDENTIAL_REVOKED");
    streams.unregister(cancelled);
    streams.closeAll();

    assertThat(ended)
        .containsExactlyInAnyOrder(
            released.streamId(), revoked.streamId(), cancelled.streamId(), shutDown.streamId());
    assertThat(streams.size()).isZero();
  }

  @Test
  void onlyTheStreamsWhoseTokenExpiredEndUnauthenticatedAndLeaveTheirCredentialsResumable() {
    Transport expiredTransport = new Transport();
    WatchStream expired = open(expiredTransport, Instant.now().minusMillis(1));
    Transport validTransport = new Transport();
    WatchStream valid = open(validTransport, Instant.now().plusSeconds(60));
    WatchStream neverExpires = open(new Transport(), null);

    streams.endStreamsWithExpiredTokens();

    assertThat(expiredTransport.error)
        .isInstanceOfSatisfying(
            StatusException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThat(expiredTransport.error.getMessage()).contains("token").contains("expired");
    assertThat(ended).containsExactly(expired.streamId());
    assertThat(detached).containsExactly(expired.streamId());
    assertThat(streams.holds(expired.credentialId())).isFalse();
    assertThat(validTransport.error).isNull();
    assertThat(streams.holds(valid.credentialId())).isTrue();
    assertThat(streams.holds(neverExpires.credentialId())).isTrue();
  }

  @Test
  void whileKubernetesAnswersNoReviewOneStreamIsEndedForItsTokenAsAProbeAndOnceItAnswersTheRest() {
    AtomicBoolean reviewsAnswered = new AtomicBoolean(false);
    WatchStreams held =
        new WatchStreams(
            Duration.ofMinutes(1),
            Clock.systemUTC(),
            new SimpleMeterRegistry(),
            ended::add,
            detached::add,
            reviewsAnswered::get);
    try {
      List<Transport> transports = List.of(new Transport(), new Transport(), new Transport());
      for (Transport transport : transports) {
        WatchStream expired =
            new WatchStream(
                UUID.randomUUID(), UUID.randomUUID(), transport, Instant.now().minusMillis(1));
        expired.send(ISSUED);
        held.register(expired, SENT_EXPIRY);
      }

      // Their clients could not be let back in (a resume needs a review): one ends, whose resume
      // tells whether Kubernetes answers again; the others stay, also at the next checks.
      held.endStreamsWithExpiredTokens();
      held.endStreamsWithExpiredTokens();
      assertThat(transports).filteredOn(t -> t.error != null).hasSize(1);
      assertThat(detached).hasSize(1);

      reviewsAnswered.set(true);
      held.endStreamsWithExpiredTokens();
      assertThat(transports)
          .allSatisfy(
              t ->
                  assertThat(Status.fromThrowable(t.error).getCode())
                      .isEqualTo(Status.Code.UNAUTHENTICATED));
      assertThat(detached).hasSize(3);
    } finally {
      held.close();
    }
  }

  @Test
  void aRenewalMadeWhileAResumeWasOpeningItsStreamIsSentWhenTheStreamRegisters() {
    // The resume read the credential (expiring at SENT_EXPIRY); this replica's lease lifecycle
    // renewed it before the stream was registered, so no stream was there to be told.
    UUID streamId = UUID.randomUUID();
    UUID credentialId = UUID.randomUUID();
    Instant renewedTo = SENT_EXPIRY.plusSeconds(60);
    streams.beginOpening(streamId);
    streams.renewed(credentialId, renewedTo);

    Transport transport = new Transport();
    registerOpened(streamId, credentialId, transport);

    assertThat(transport.written).hasSize(2);
    assertThat(transport.written.get(1).getRenewed().getCredentialId())
        .isEqualTo(credentialId.toString());
    assertThat(transport.written.get(1).getRenewed().getExpireTime())
        .isEqualTo(ProtoCredentials.timestamp(renewedTo));
    assertThat(transport.error).isNull();
  }

  @Test
  void aRenewalTheFirstEventAlreadyCarriedOrOneMadeWhileNoStreamWasOpeningIsNotSentAgain() {
    UUID streamId = UUID.randomUUID();
    UUID carried = UUID.randomUUID();
    UUID unrelated = UUID.randomUUID();
    // Made while no call was opening a stream: a resume after it reads the renewed expiry.
    streams.renewed(unrelated, SENT_EXPIRY.plusSeconds(60));
    streams.beginOpening(streamId);
    streams.renewed(carried, SENT_EXPIRY);

    Transport carriedTransport = new Transport();
    registerOpened(streamId, carried, carriedTransport);
    Transport unrelatedTransport = new Transport();
    registerOpened(UUID.randomUUID(), unrelated, unrelatedTransport);

    assertThat(carriedTransport.written).containsExactly(ISSUED);
    assertThat(unrelatedTransport.written).containsExactly(ISSUED);
  }

  /**
   * What the call opening stream {@code streamId} does once it has the credential (read with an
   * expiry of {@link #SENT_EXPIRY}): sends the first event, registers, stops opening.
   */
  private void registerOpened(UUID streamId, UUID credentialId, Transport transport) {
    WatchStream stream = new WatchStream(streamId, credentialId, transport, null);
    stream.send(ISSUED);
    streams.register(stream, SENT_EXPIRY);
    streams.endOpening(streamId);
  }

  private WatchStream open() {
    return open(new Transport(), null);
  }

  private WatchStream open(Transport transport, @Nullable Instant tokenExpiry) {
    WatchStream stream =
        new WatchStream(UUID.randomUUID(), UUID.randomUUID(), transport, tokenExpiry);
    stream.send(ISSUED);
    streams.register(stream, SENT_EXPIRY);
    return stream;
  }

  private static final class Transport extends ServerCallStreamObserver<CredentialEvent> {
    final List<CredentialEvent> written = new CopyOnWriteArrayList<>();
    volatile @Nullable Throwable error;

    @Override
    public boolean isReady() {
      return true;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void onNext(CredentialEvent value) {
      written.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {}

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {}

    @Override
    public void setCompression(String compression) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}
  }
}
