package io.credbroker.broker.lease;

import io.credbroker.broker.DaemonThreads;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;

/**
 * Writes that streams ended without a release ({@link CredentialStore#detachStream}), off the
 * caller's thread: streams end on gRPC's call threads, and thousands of them end at once when a
 * network path or a load balancer drops its connections.
 *
 * <p>Thread-safe. One thread at most ({@code stream-detach}, started when streams end, gone when
 * idle): however many streams end at once, writing their detachments costs one thread and one
 * state-store connection, not one each. Lifecycle: {@link #close()} writes the detachments still
 * queued, on the caller's thread, and stops that thread.
 */
final class StreamDetachments implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(StreamDetachments.class);

  private final CredentialStore store;

  /** This replica: only the credentials it still owns are detached. */
  private final String replica;

  private final Clock clock;
  private final Duration reconnectGrace;

  /** Streams that ended, with when they ended, waiting to be written by {@link #detacher}. */
  private final Queue<EndedStream> endedStreams = new ConcurrentLinkedQueue<>();

  /** The one thread, at most, that writes {@link #endedStreams}. */
  private final ThreadPoolExecutor detacher =
      new ThreadPoolExecutor(
          1,
          1,
          30,
          TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(),
          DaemonThreads.named("stream-detach"));

  /** Whether a drain of {@link #endedStreams} is queued or running on {@link #detacher}. */
  private final AtomicBoolean draining = new AtomicBoolean();

  private record EndedStream(UUID streamId, Instant endedAt) {}

  StreamDetachments(CredentialStore store, String replica, Clock clock, Duration reconnectGrace) {
    this.store = Objects.requireNonNull(store, "store");
    this.replica = Objects.requireNonNull(replica, "replica");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.reconnectGrace = Objects.requireNonNull(reconnectGrace, "reconnectGrace");
    detacher.allowCoreThreadTimeOut(true);
  }

  /** Queues the detachment of the stream's credentials, counted from now; does not block. */
  void detach(UUID streamId) {
    endedStreams.add(
        new EndedStream(Objects.requireNonNull(streamId, "streamId"), clock.instant()));
    if (draining.compareAndSet(false, true)) {
      try {
        detacher.execute(this::drainEndedStreams);
      } catch (RejectedExecutionException e) {
        // Closing: close() writes what is still queued.
        draining.set(false);
      }
    }
  }

  /** Writes every queued detachment, then lets the thread go idle. */
  private void drainEndedStreams() {
    do {
      EndedStream ended;
      while ((ended = endedStreams.poll()) != null) {
        writeDetachment(ended);
      }
      draining.set(false);
      // A stream that ended between the last poll and the reset above found the flag still set and
      // queued no drain: pick it up here.
    } while (!endedStreams.isEmpty() && draining.compareAndSet(false, true));
  }

  private void writeDetachment(EndedStream ended) {
    try {
      store.detachStream(
          ended.streamId(), replica, ended.endedAt(), ended.endedAt().plus(reconnectGrace));
    } catch (DataAccessException e) {
      // The credential then stays attached in the store; it is revoked when it runs out, or claimed
      // and given its grace when this replica stops.
      log.warn("Could not record that stream {} ended", ended.streamId(), e);
    }
  }

  /**
   * Writes the detachments still queued, on the caller's thread, and stops the background thread.
   */
  @Override
  public void close() {
    detacher.shutdown();
    try {
      if (!detacher.awaitTermination(10, TimeUnit.SECONDS)) {
        log.warn("Writing the detachments of ended streams did not finish in time");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    EndedStream ended;
    while ((ended = endedStreams.poll()) != null) {
      writeDetachment(ended);
    }
  }
}
