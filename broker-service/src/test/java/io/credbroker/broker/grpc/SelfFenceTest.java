package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialIssued;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.cluster.ReplicaFencingEvent;
import io.credbroker.broker.cluster.ReplicaHeartbeat.Fencing;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.springframework.context.Lifecycle;

/**
 * A replica that cannot write its heartbeat stops serving before the others presume it dead: its
 * streams end and new calls are refused with UNAVAILABLE and a retry delay, its port closes once it
 * is presumed dead, and all of it is undone, with the ended streams detached, once it writes its
 * heartbeat again.
 */
class SelfFenceTest {

  private static final ReplicaId ME = new ReplicaId("replica-a");

  private final WatchStreams streams =
      new WatchStreams(Duration.ofMinutes(1), Clock.systemUTC(), new SimpleMeterRegistry());
  private final LeaseService leases = mock(LeaseService.class);
  private final Lifecycle server = mock(Lifecycle.class);
  private final SelfFence fence = new SelfFence(streams, leases, server, Duration.ofMillis(500));

  @AfterEach
  void close() {
    fence.close();
    streams.close();
  }

  @Test
  void fencedReplicaEndsItsStreamsAndRefusesCallsWithUnavailableAndARetryDelay() {
    @SuppressWarnings("unchecked")
    ServerCallStreamObserver<CredentialEvent> observer = mock(ServerCallStreamObserver.class);
    WatchStream stream = open(observer);
    assertThat(fence.refusal()).isNull();

    fence.on(new ReplicaFencingEvent(ME, Fencing.FENCED));

    ArgumentCaptor<Throwable> ended = ArgumentCaptor.forClass(Throwable.class);
    verify(observer).onError(ended.capture());
    assertThat(Status.fromThrowable(ended.getValue()).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(streams.holds(stream.credentialId())).isFalse();
    BrokerException refusal = fence.refusal();
    assertThat(refusal).isNotNull();
    assertThat(refusal.reason()).isEqualTo(BrokerException.Reason.STATE_STORE_UNAVAILABLE);
    assertThat(refusal.retryAfter()).isEqualTo(Duration.ofMillis(500));
    // The port stays open while the others do not presume this replica dead yet.
    verify(server, never()).stop();
    verify(leases, never()).detach(stream.streamId());
  }

  @Test
  void presumedDeadReplicaClosesItsPortUntilItWritesItsHeartbeatAgain() {
    @SuppressWarnings("unchecked")
    ServerCallStreamObserver<CredentialEvent> observer = mock(ServerCallStreamObserver.class);
    WatchStream stream = open(observer);
    when(server.isRunning()).thenReturn(true);

    fence.on(new ReplicaFencingEvent(ME, Fencing.FENCED));
    fence.on(new ReplicaFencingEvent(ME, Fencing.PRESUMED_DEAD));
    verify(server, timeout(5_000)).stop();

    fence.on(new ReplicaFencingEvent(ME, Fencing.SERVING));

    verify(server, timeout(5_000)).start();
    // The stream ended by the fence gets its reconnect grace now that the store can be written.
    verify(leases, timeout(5_000)).detach(stream.streamId());
    assertThat(fence.refusal()).isNull();
  }

  /** A stream that got its first event on {@code observer}, registered. */
  private WatchStream open(ServerCallStreamObserver<CredentialEvent> observer) {
    WatchStream stream = new WatchStream(UUID.randomUUID(), UUID.randomUUID(), observer, null);
    stream.send(
        CredentialEvent.newBuilder().setIssued(CredentialIssued.getDefaultInstance()).build());
    streams.register(stream, Instant.now().plusSeconds(60));
    return stream;
  }
}
