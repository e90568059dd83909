package io.credbroker.loadtest.issuance;

import io.credbroker.loadtest.report.LatencySummary;
import io.credbroker.loadtest.stack.Cleanup;
import java.util.List;
import java.util.Map;

/**
 * The figures of one issuance run. Immutable; serialised as the {@code issuance} part of the JSON
 * report.
 *
 * @param levels one result per concurrency level, in the order run
 * @param releases every broker credential of the run released through {@code ReleaseCredential}
 * @param tokenReviews how often the broker asked Kubernetes, against the distinct tokens it saw
 * @param cleanup what was revoked afterwards
 */
public record IssuanceReport(
    IssuanceOptions options,
    List<Level> levels,
    Releases releases,
    TokenReviews tokenReviews,
    Cleanup.Report cleanup) {

  /**
   * One concurrency level: broker calls and direct Vault reads interleaved, each measured from the
   * client.
   *
   * @param p50DifferenceMs broker p50 minus Vault p50: what the broker adds to an issuance
   * @param p50Ratio broker p50 divided by Vault p50
   * @param withinBudget whether {@code p50DifferenceMs} is at most the budget
   * @param completed whether all requests were made before the level's time limit
   * @param failures failed calls by a short cause (status code or exception type)
   * @param brokerSide where the broker's time went, from its own metrics over this level
   * @param brokerCpu the broker process's CPU time over this level, per successful issuance
   */
  public record Level(
      int concurrency,
      int requests,
      int brokerOk,
      int brokerFailed,
      int vaultOk,
      int vaultFailed,
      LatencySummary broker,
      LatencySummary vault,
      double p50DifferenceMs,
      double p50Ratio,
      boolean withinBudget,
      double seconds,
      double pairsPerSecond,
      boolean completed,
      Map<String, Integer> failures,
      BrokerSide brokerSide,
      BrokerCpu brokerCpu) {}

  /**
   * The broker process's own CPU time (user + system, every thread) over a phase, from the
   * operating system; absolute, so a property of this machine as much as of the broker.
   *
   * @param cpuMs CPU time used during the phase
   * @param msPerOperation {@code cpuMs} divided by the successful calls
   * @param msPerOperationLessIdle the same after taking off what the broker uses idle over as long
   * @param jitMs of {@code cpuMs}, the JIT compiler threads' (a warm-up cost, not a per-call one)
   * @param gcAndVmMs of {@code cpuMs}, the garbage collector's and VM threads'
   * @param applicationMs of {@code cpuMs}, every other live thread's (gRPC, Netty, HTTP and JDBC
   *     clients, timers); threads that ended during the phase are in none of the three
   * @param applicationMsPerOperation {@code applicationMs} divided by the successful calls
   */
  public record BrokerCpu(
      double cpuMs,
      double msPerOperation,
      double msPerOperationLessIdle,
      double jitMs,
      double gcAndVmMs,
      double applicationMs,
      double applicationMsPerOperation) {}

  /**
   * The release phase: every credential the broker issued in the run (warm-up included), released
   * as its pod would, at the last level's concurrency.
   *
   * @param idleCpuMsPerSecond the broker's CPU use with no calls, sampled before the levels
   */
  public record Releases(
      int concurrency,
      int released,
      int failed,
      LatencySummary latency,
      double seconds,
      double idleCpuMsPerSecond,
      BrokerCpu brokerCpu,
      Map<String, Integer> failures) {}

  /**
   * The broker's own timings over one level (its metrics' deltas): what it spends in total, in its
   * Vault call and holding a database connection, to see where {@code p50DifferenceMs} goes.
   *
   * @param grpcServerMeanMs mean of {@code grpc_server_seconds} for successful {@code
   *     IssueCredential}
   * @param vaultCredsMeanMs mean of {@code credbroker_vault_request_seconds{operation="creds"}}
   * @param vaultCredsP50Ms its p50, interpolated inside the histogram bucket (approximate)
   * @param jdbcUsageMeanMs mean time a state-store connection was held ({@code
   *     hikaricp_connections_usage_seconds}, millisecond resolution)
   */
  public record BrokerSide(
      double grpcServerMeanMs,
      double vaultCredsMeanMs,
      double vaultCredsP50Ms,
      double jdbcUsageMeanMs) {}

  /**
   * TokenReview calls the broker made during the run (warm-up included), from its own metrics.
   *
   * @param distinctTokens tokens used (one per pod)
   * @param reviews {@code credbroker_tokenreview_request_seconds_count}, all outcomes, during the
   *     run
   * @param cacheHits {@code credbroker_tokenreview_cache_total{result="hit"}} during the run
   * @param cacheMisses {@code ...{result="miss"}} during the run
   * @param cacheWindowSeconds the broker's cache window ({@code
   *     credbroker.kubernetes.cache-max-ttl})
   * @param elapsedSeconds from the first to the last call of the run
   * @param allowedReviews distinct tokens × cache windows the run spanned
   * @param withinBudget whether {@code reviews <= allowedReviews}
   */
  public record TokenReviews(
      int distinctTokens,
      long reviews,
      long cacheHits,
      long cacheMisses,
      double cacheWindowSeconds,
      double elapsedSeconds,
      long allowedReviews,
      boolean withinBudget) {}
}
