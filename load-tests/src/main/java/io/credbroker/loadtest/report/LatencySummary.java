package io.credbroker.loadtest.report;

import org.HdrHistogram.Histogram;

/**
 * Percentiles of one latency histogram, in milliseconds. Immutable.
 *
 * @param count how many values were recorded
 */
public record LatencySummary(
    long count, double p50Ms, double p90Ms, double p99Ms, double maxMs, double meanMs) {

  /** Microseconds are recorded; three significant digits keep the error under 0.1 %. */
  public static Histogram newHistogram() {
    return new Histogram(3_600_000_000L, 3);
  }

  /**
   * @param micros a histogram of microseconds, as made by {@link #newHistogram()}
   */
  public static LatencySummary of(Histogram micros) {
    if (micros.getTotalCount() == 0) {
      return new LatencySummary(0, 0, 0, 0, 0, 0);
    }
    return new LatencySummary(
        micros.getTotalCount(),
        ms(micros.getValueAtPercentile(50)),
        ms(micros.getValueAtPercentile(90)),
        ms(micros.getValueAtPercentile(99)),
        ms(micros.getMaxValue()),
        Math.round(micros.getMean()) / 1000.0);
  }

  private static double ms(long micros) {
    return micros / 1000.0;
  }

  /** {@code p50 1.23 ms, p90 ..., p99 ..., max ...}. */
  public String render() {
    return String.format(
        "p50 %7.2f  p90 %7.2f  p99 %7.2f  max %8.2f ms  (n=%d)", p50Ms, p90Ms, p99Ms, maxMs, count);
  }
}
