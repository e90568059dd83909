package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialIssued;
import io.credbroker.api.v1.CredentialRenewed;
import io.credbroker.api.v1.Heartbeat;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** Flow control of one stream, against a transport whose readiness the test decides. */
class WatchStreamTest {

  private static final CredentialEvent ISSUED =
      CredentialEvent.newBuilder().setIssued(CredentialIssued.getDefaultInstance()).build();
  private static final CredentialEvent HEARTBEAT =
      CredentialEvent.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build();

  private final RecordingTransport transport = new RecordingTransport();
  private final WatchStream stream =
      new WatchStream(UUID.randomUUID(), UUID.randomUUID(), transport, null);

  @Test
  void firstEventIsWrittenEvenBeforeTheTransportReportsReady() {
    transport.ready = false;

    stream.send(ISSUED);

    assertThat(transport.written).containsExactly(ISSUED);
  }

  @Test
  void laterEventsWaitUntilTheClientIsReadyAndKeepTheirOrder() {
    stream.send(ISSUED);
    transport.ready = false;

    stream.send(renewed(1));
    stream.send(renewed(2));
    assertThat(transport.written).containsExactly(ISSUED);

    transport.ready = true;
    stream.drain();

    assertThat(transport.written).containsExactly(ISSUED, renewed(1), renewed(2));
  }

  @Test
  void heartbeatIsDroppedWhileTheClientIsNotKeepingUp() {
    stream.send(ISSUED);
    transport.ready = false;

    stream.heartbeat(HEARTBEAT);
    transport.ready = true;
    stream.heartbeat(HEARTBEAT);

    assertThat(transport.written).containsExactly(ISSUED, HEARTBEAT);
  }

  @Test
  void heartbeatNeverOvertakesAQueuedEvent() {
    stream.send(ISSUED);
    transport.ready = false;
    stream.send(renewed(1));

    stream.heartbeat(HEARTBEAT);

    assertThat(transport.written).containsExactly(ISSUED);
  }

  @Test
  void closedStreamWritesNothingMore() {
    stream.send(ISSUED);

    stream.close(Status.UNAVAILABLE.asException());
    stream.send(renewed(1));
    stream.heartbeat(HEARTBEAT);

    assertThat(transport.written).containsExactly(ISSUED);
    assertThat(transport.error).isNotNull();
  }

  @Test
  void cancelledStreamIsNotWrittenTo() {
    stream.send(ISSUED);
    transport.cancelled = true;

    stream.cancelled();
    stream.close(Status.UNAVAILABLE.asException());
    stream.send(renewed(1));

    assertThat(transport.written).containsExactly(ISSUED);
    assertThat(transport.error).isNull();
  }

  private static CredentialEvent renewed(int n) {
    return CredentialEvent.newBuilder()
        .setRenewed(CredentialRenewed.newBuilder().setCredentialId("c-" + n))
        .build();
  }

  /** A server call whose readiness and cancellation the test sets, recording what is written. */
  private static final class RecordingTransport extends ServerCallStreamObserver<CredentialEvent> {
    final List<CredentialEvent> written = new ArrayList<>();
    volatile boolean ready = true;
    volatile boolean cancelled;
    @Nullable Throwable error;

    @Override
    public boolean isReady() {
      return ready;
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public void onNext(CredentialEvent value) {
      written.add(value);
    }

    @Override
    public void onError(Throwable t) {
      if (!(t instanceof StatusException)) {
        throw new AssertionError("streams end with a status", t);
      }
      error = t;
    }

    @Override
    public void onCompleted() {
      throw new AssertionError("a watch stream never completes on its own");
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {}

    @Override
    public void setCompression(String compression) {}

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }
}
