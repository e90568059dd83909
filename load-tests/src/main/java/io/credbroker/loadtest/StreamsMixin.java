package io.credbroker.loadtest;

import io.credbroker.loadtest.streams.StreamsOptions;
import java.time.Duration;
import picocli.CommandLine.Option;

/** The streams scenario's options. */
final class StreamsMixin {

  @Option(
      names = "--streams",
      defaultValue = "2000",
      description = "Streams held open at once, one pod each (default ${DEFAULT-VALUE})")
  int streams = 2000;

  @Option(
      names = "--connections",
      defaultValue = "100",
      description =
          "TCP connections the streams are spread over (default ${DEFAULT-VALUE}; each pod would have its own)")
  int connections = 100;

  @Option(
      names = "--open-concurrency",
      defaultValue = "32",
      description = "Streams waiting for their first event at once (default ${DEFAULT-VALUE})")
  int openConcurrency = 32;

  @Option(
      names = "--stream-warmup",
      defaultValue = "20",
      description = "Streams opened and closed before measuring (default ${DEFAULT-VALUE})")
  int warmup = 20;

  @Option(
      names = "--hold",
      defaultValue = "0s",
      converter = DurationConverter.class,
      description =
          "How long to hold every stream open before measuring (default ${DEFAULT-VALUE})")
  Duration hold = Duration.ZERO;

  @Option(
      names = "--budget-bytes-per-stream",
      defaultValue = "8192",
      description = "Heap budget per stream (default ${DEFAULT-VALUE})")
  long budgetBytesPerStream = 8192;

  @Option(
      names = "--target-streams",
      defaultValue = "20000",
      description =
          "Streams per replica the heap must hold, for the projection (default ${DEFAULT-VALUE})")
  int targetStreams = 20_000;

  StreamsOptions options(Duration maxDuration) {
    return new StreamsOptions(
        streams,
        connections,
        openConcurrency,
        warmup,
        hold,
        maxDuration,
        budgetBytesPerStream,
        targetStreams);
  }
}
