package io.credbroker.loadtest.streams;

import java.time.Duration;
import java.util.Objects;

/**
 * What the streams scenario does. Immutable; validated on construction.
 *
 * @param streams how many {@code WatchCredential} streams to hold open at once, one pod each
 * @param connections over how many TCP connections (gRPC channels) they are spread
 * @param openConcurrency how many streams may wait for their first event at once
 * @param warmup streams opened and closed before the baseline, so that lazily built parts of the
 *     broker exist before it is measured
 * @param hold how long to keep all streams open before measuring (heartbeats flow meanwhile)
 * @param maxDuration opening stops after this long even if not all streams are open
 * @param budgetBytesPerStream issue 5's target (8 KiB)
 * @param targetStreams the streams per replica the heap must hold (issue 5: 20,000)
 */
public record StreamsOptions(
    int streams,
    int connections,
    int openConcurrency,
    int warmup,
    Duration hold,
    Duration maxDuration,
    long budgetBytesPerStream,
    int targetStreams) {

  public StreamsOptions {
    if (streams < 1 || streams > 200_000) {
      throw new IllegalArgumentException("streams must be between 1 and 200000, was " + streams);
    }
    if (connections < 1 || connections > 10_000) {
      throw new IllegalArgumentException(
          "connections must be between 1 and 10000, was " + connections);
    }
    if (openConcurrency < 1 || openConcurrency > 1024) {
      throw new IllegalArgumentException(
          "open concurrency must be between 1 and 1024, was " + openConcurrency);
    }
    if (warmup < 0 || warmup > 10_000) {
      throw new IllegalArgumentException("warm-up must be between 0 and 10000, was " + warmup);
    }
    Objects.requireNonNull(hold, "hold");
    Objects.requireNonNull(maxDuration, "maxDuration");
    if (hold.isNegative() || maxDuration.isNegative() || maxDuration.isZero()) {
      throw new IllegalArgumentException(
          "hold must not be negative and max duration must be positive");
    }
  }
}
