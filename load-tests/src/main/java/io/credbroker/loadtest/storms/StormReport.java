package io.credbroker.loadtest.storms;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What one storm scenario measured, as named figures in the order they were added. Each name says
 * its unit ({@code _s}, {@code _per_s}, {@code _ratio}, counts otherwise). Holds no secret: ids,
 * counts and times only. Immutable once built.
 *
 * @param scenario the subcommand ({@code rollout}, {@code failover}, {@code renewals})
 * @param figures the figures; values are numbers, strings or maps of counts
 */
public record StormReport(String scenario, Map<String, Object> figures) {

  public StormReport {
    Objects.requireNonNull(scenario, "scenario");
    figures = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(figures));
  }

  /** Collects figures in order. Not thread-safe. */
  static final class Builder {
    private final String scenario;
    private final Map<String, Object> figures = new LinkedHashMap<>();

    Builder(String scenario) {
      this.scenario = scenario;
    }

    Builder put(String name, Object value) {
      figures.put(name, value);
      return this;
    }

    /** A ratio or rate rounded to 3 decimals; {@code NaN} when the divisor is 0. */
    Builder ratio(String name, double numerator, double denominator) {
      return put(name, denominator == 0 ? Double.NaN : round3(numerator / denominator));
    }

    StormReport build() {
      return new StormReport(scenario, figures);
    }
  }

  /** p50, p90, p99 and max of {@code nanos}, in seconds (2 decimals); empty when there is none. */
  static Map<String, Double> spread(java.util.List<Long> nanos) {
    Map<String, Double> out = new LinkedHashMap<>();
    if (nanos.isEmpty()) {
      return out;
    }
    long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
    out.put("p50", seconds(sorted[rank(sorted.length, 0.50)]));
    out.put("p90", seconds(sorted[rank(sorted.length, 0.90)]));
    out.put("p99", seconds(sorted[rank(sorted.length, 0.99)]));
    out.put("max", seconds(sorted[sorted.length - 1]));
    return out;
  }

  /** The nearest-rank index of quantile {@code q} among {@code n} sorted values. */
  static int rank(int n, double q) {
    return Math.max(0, Math.min(n - 1, (int) Math.ceil(q * n) - 1));
  }

  static double seconds(long nanos) {
    return Math.round(nanos / 1e7) / 100.0;
  }

  static double round3(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
