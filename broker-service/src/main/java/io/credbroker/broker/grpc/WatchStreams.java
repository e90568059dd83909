package io.credbroker.broker.grpc;

import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.Heartbeat;
import io.credbroker.broker.BrokerException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code WatchCredential} streams open on this replica, and the one ticker that sends their
 * heartbeats.
 *
 * <p>A stream costs one map entry: there is no thread or timer per stream. Every {@code
 * heartbeatInterval} the ticker walks all streams and offers each a heartbeat. On shutdown every
 * stream is ended with UNAVAILABLE (so clients reconnect to another replica at once) before the gRPC
 * server waits for calls to finish.
 *
 * <p>Thread-safe. Lifecycle: the ticker starts with the instance and stops in {@link #close()}.
 */
final class WatchStreams implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(WatchStreams.class);
  private static final Duration RETRY_AFTER_SHUTDOWN = Duration.ofMillis(100);

  private final Map<UUID, WatchStream> streams = new ConcurrentHashMap<>();
  private final ScheduledExecutorService ticker;
  private final Clock clock;

  WatchStreams(Duration heartbeatInterval, Clock clock, MeterRegistry meterRegistry) {
    Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
    if (heartbeatInterval.isNegative() || heartbeatInterval.isZero()) {
      throw new IllegalArgumentException("heartbeatInterval must be positive");
    }
    this.clock = Objects.requireNonNull(clock, "clock");
    this.ticker =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "watch-stream-heartbeat");
              thread.setDaemon(true);
              return thread;
            });
    long millis = heartbeatInterval.toMillis();
    ticker.scheduleWithFixedDelay(this::heartbeatAll, millis, millis, TimeUnit.MILLISECONDS);
    Gauge.builder("credbroker.streams.active", streams, Map::size)
        .description("WatchCredential streams open on this replica")
        .register(meterRegistry);
  }

  void register(WatchStream stream) {
    streams.put(stream.credentialId(), stream);
  }

  void unregister(WatchStream stream) {
    streams.remove(stream.credentialId(), stream);
  }

  int size() {
    return streams.size();
  }

  /** Ends every open stream with UNAVAILABLE so that clients move to another replica. */
  void closeAll() {
    var status =
        GrpcErrorMapper.toStatusException(
            new BrokerException(
                BrokerException.Reason.SHUTTING_DOWN,
                "this broker replica is shutting down; reconnect",
                RETRY_AFTER_SHUTDOWN,
                null));
    for (WatchStream stream : streams.values()) {
      stream.close(status);
      unregister(stream);
    }
  }

  @Override
  public void close() {
    ticker.shutdownNow();
  }

  private void heartbeatAll() {
    try {
      CredentialEvent heartbeat =
          CredentialEvent.newBuilder()
              .setEventTime(ProtoCredentials.timestamp(clock.instant()))
              .setHeartbeat(Heartbeat.getDefaultInstance())
              .build();
      for (WatchStream stream : streams.values()) {
        try {
          stream.heartbeat(heartbeat);
        } catch (RuntimeException e) {
          // A stream whose transport just failed must not stop the heartbeats of all the others.
          log.debug("Heartbeat to stream of credential {} failed", stream.credentialId(), e);
        }
      }
    } catch (RuntimeException e) {
      log.warn("Heartbeat round failed", e);
    }
  }
}
