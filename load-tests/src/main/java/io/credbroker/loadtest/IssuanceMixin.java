package io.credbroker.loadtest;

import io.credbroker.loadtest.issuance.IssuanceOptions;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Option;

/** The issuance scenario's options. */
final class IssuanceMixin {

  @Option(
      names = "--requests",
      defaultValue = "500",
      description =
          "Broker calls (and as many direct Vault reads) per concurrency level (default ${DEFAULT-VALUE})")
  int requests = 500;

  @Option(
      names = "--concurrency",
      defaultValue = "1,8",
      split = ",",
      description = "Concurrency levels, run one after the other (default ${DEFAULT-VALUE})")
  List<Integer> concurrency = List.of(1, 8);

  @Option(
      names = "--warmup",
      defaultValue = "50",
      description = "Pairs of calls before measuring (default ${DEFAULT-VALUE})")
  int warmup = 50;

  @Option(
      names = "--warmup-rounds",
      defaultValue = "10",
      description =
          "Most warm-up rounds (--warmup pairs each, then their releases) at the highest"
              + " concurrency, until the broker's JIT settles (default ${DEFAULT-VALUE})")
  int warmupRounds = 10;

  @Option(
      names = "--warm-jit-share",
      defaultValue = "0.1",
      description =
          "The broker counts as warm once its JIT compilers use at most this share of its CPU in a"
              + " warm-up round (default ${DEFAULT-VALUE})")
  double warmJitShare = 0.1;

  @Option(
      names = "--pods",
      defaultValue = "16",
      description = "Pods (distinct tokens) the calls are spread over (default ${DEFAULT-VALUE})")
  int pods = 16;

  @Option(
      names = "--budget-p50-ms",
      defaultValue = "2",
      description = "What the broker may add at p50 (default ${DEFAULT-VALUE} ms)")
  double budgetP50Ms = 2;

  IssuanceOptions options(Duration maxDuration) {
    return new IssuanceOptions(
        requests, concurrency, warmup, warmupRounds, warmJitShare, pods, maxDuration, budgetP50Ms);
  }
}
