package io.credbroker.loadtest.issuance;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What the issuance scenario does. Immutable; validated on construction.
 *
 * @param requests broker calls (and as many direct Vault reads) per concurrency level
 * @param concurrency the levels, each run after the other with this many client threads
 * @param warmup pairs of calls before measuring (at least one per pod, so every token is reviewed);
 *     then rounds of this many pairs at the highest concurrency level, each followed by the release
 *     of its broker credentials, until the broker's JIT compilers use at most {@code warmJitShare}
 *     of its CPU in a round, or {@code warmupRounds} rounds were run
 * @param warmupRounds the most warm-up rounds at the highest concurrency (0: none)
 * @param warmJitShare the JIT compilers' share of the broker's CPU under which it counts as warm
 * @param pods how many pods (distinct tokens) the calls are spread over
 * @param maxDuration a level stops after this long even if not all requests were made
 * @param budgetP50Ms what the broker may add to Vault's p50 (issue 3: 2 ms)
 */
public record IssuanceOptions(
    int requests,
    List<Integer> concurrency,
    int warmup,
    int warmupRounds,
    double warmJitShare,
    int pods,
    Duration maxDuration,
    double budgetP50Ms) {

  public IssuanceOptions {
    if (requests < 1 || requests > 1_000_000) {
      throw new IllegalArgumentException("requests must be between 1 and 1000000, was " + requests);
    }
    concurrency = List.copyOf(Objects.requireNonNull(concurrency, "concurrency"));
    if (concurrency.isEmpty() || concurrency.stream().anyMatch(c -> c < 1 || c > 256)) {
      throw new IllegalArgumentException(
          "concurrency levels must be between 1 and 256, were " + concurrency);
    }
    if (warmup < 0) {
      throw new IllegalArgumentException("warmup must not be negative");
    }
    if (warmupRounds < 0 || warmupRounds > 1000) {
      throw new IllegalArgumentException(
          "warm-up rounds must be between 0 and 1000, were " + warmupRounds);
    }
    if (!(warmJitShare >= 0 && warmJitShare <= 1)) {
      throw new IllegalArgumentException(
          "the warm JIT share must be between 0 and 1, was " + warmJitShare);
    }
    if (pods < 1 || pods > 100_000) {
      throw new IllegalArgumentException("pods must be between 1 and 100000, was " + pods);
    }
    Objects.requireNonNull(maxDuration, "maxDuration");
    if (maxDuration.isNegative() || maxDuration.isZero()) {
      throw new IllegalArgumentException("max duration must be positive");
    }
  }
}
