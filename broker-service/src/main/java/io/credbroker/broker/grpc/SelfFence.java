package io.credbroker.broker.grpc;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.cluster.ReplicaFencingEvent;
import io.credbroker.broker.cluster.ReplicaHeartbeat.Fencing;
import io.credbroker.broker.lease.LeaseService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.Lifecycle;

/**
 * What the gRPC API does while this replica cannot write its heartbeat ({@link
 * ReplicaFencingEvent}), so that its clients move to a replica that can, before the others presume
 * this one dead and claim (then revoke, unless resumed) the credentials its clients hold:
 *
 * <ul>
 *   <li>{@code FENCED}: every open stream ends with UNAVAILABLE ({@code STATE_STORE_UNAVAILABLE},
 *       with a retry delay) and every new call is refused the same way ({@link #refusal}, used by
 *       {@link CallAdmission});
 *   <li>{@code PRESUMED_DEAD}: the gRPC server stops, closing its port, so that clients whose
 *       connection would bring them back here (a client's pick-first channel, a pinned connection)
 *       connect to another replica;
 *   <li>{@code SERVING}: the gRPC server starts again if it was stopped here, the refusals end, and
 *       the streams ended by the fence are recorded as detached (they could not be while the state
 *       database was unreachable), so that a credential nobody resumed gets its reconnect grace.
 * </ul>
 *
 * <p>The server is stopped and started on a thread of its own (stopping waits for calls to finish).
 * Thread-safe.
 */
final class SelfFence implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SelfFence.class);

  private final WatchStreams streams;
  private final LeaseService leases;
  private final Lifecycle server;
  private final Duration retryAfter;
  private final ExecutorService serverControl =
      Executors.newSingleThreadExecutor(DaemonThreads.named("grpc-self-fence"));

  /** The streams ended by the fence, detached once the state database can be written again. */
  private final List<UUID> endedStreams = new ArrayList<>();

  private volatile @Nullable BrokerException refusal;
  private volatile boolean closed;

  /** Touched only on {@link #serverControl}. */
  private boolean serverStoppedHere;

  /**
   * @param server the gRPC server's lifecycle
   * @param retryAfter the retry delay given with the refusals
   */
  SelfFence(WatchStreams streams, LeaseService leases, Lifecycle server, Duration retryAfter) {
    this.streams = Objects.requireNonNull(streams, "streams");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.server = Objects.requireNonNull(server, "server");
    this.retryAfter = Objects.requireNonNull(retryAfter, "retryAfter");
  }

  /** What refuses a new call now, or {@code null} while this replica serves. */
  @Nullable BrokerException refusal() {
    return refusal;
  }

  void on(ReplicaFencingEvent event) {
    Fencing fencing = event.fencing();
    if (fencing == Fencing.SERVING) {
      refusal = null;
      control(this::serveAgain);
      return;
    }
    BrokerException why =
        new BrokerException(
            BrokerException.Reason.STATE_STORE_UNAVAILABLE,
            "this broker replica cannot reach its state database; reconnect to another replica",
            retryAfter,
            null);
    refusal = why;
    List<UUID> ended = streams.closeAll(why);
    synchronized (endedStreams) {
      endedStreams.addAll(ended);
    }
    if (!ended.isEmpty()) {
      log.warn("Ended {} streams: this replica cannot write its heartbeat", ended.size());
    }
    if (fencing == Fencing.PRESUMED_DEAD) {
      control(this::closePort);
    }
  }

  private void closePort() {
    if (!closed && server.isRunning()) {
      log.warn("Closing the gRPC port until this replica can write its heartbeat again");
      server.stop();
      serverStoppedHere = true;
    }
  }

  private void serveAgain() {
    if (serverStoppedHere && !closed) {
      log.info("Opening the gRPC port again");
      server.start();
      serverStoppedHere = false;
    }
    if (refusal != null) {
      // Fenced again meanwhile: detached when the heartbeat is written next.
      return;
    }
    List<UUID> ended;
    synchronized (endedStreams) {
      ended = List.copyOf(endedStreams);
      endedStreams.clear();
    }
    ended.forEach(leases::detach);
  }

  private void control(Runnable action) {
    try {
      serverControl.execute(
          () -> {
            try {
              action.run();
            } catch (RuntimeException e) {
              log.warn("Fencing the gRPC API failed", e);
            }
          });
    } catch (RejectedExecutionException e) {
      // Closing: the context stops the server itself.
    }
  }

  /** Stops fencing work; called when the context starts closing, before the server stops. */
  @Override
  public void close() {
    closed = true;
    serverControl.shutdownNow();
  }
}
