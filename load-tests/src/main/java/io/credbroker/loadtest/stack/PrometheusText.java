package io.credbroker.loadtest.stack;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The samples of one scrape of {@code /actuator/prometheus} (text exposition format 0.0.4 and the
 * OpenMetrics text Micrometer also writes). Immutable.
 */
public final class PrometheusText {

  /** One sample line: a metric name, its labels and its value. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;

  private PrometheusText(List<Sample> samples) {
    this.samples = List.copyOf(samples);
  }

  /**
   * @throws IllegalArgumentException when a sample line is malformed
   */
  public static PrometheusText parse(String text) {
    List<Sample> samples = new ArrayList<>();
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      samples.add(parseLine(line));
    }
    return new PrometheusText(samples);
  }

  /**
   * The sum of every sample named {@code name} whose labels include all of {@code labels}
   * (alternating keys and values); 0 when there is none.
   */
  public double sum(String name, String... labels) {
    if (labels.length % 2 != 0) {
      throw new IllegalArgumentException("labels come in key/value pairs");
    }
    double total = 0;
    for (Sample s : samples) {
      if (s.name().equals(name) && matches(s.labels(), labels)) {
        total += s.value();
      }
    }
    return total;
  }

  /**
   * The {@code q} quantile of what a histogram observed between two scrapes, interpolated linearly
   * inside the bucket it falls in (so only as exact as the buckets are fine); NaN when nothing was
   * observed.
   *
   * @param bucketName e.g. {@code credbroker_vault_request_seconds_bucket}
   * @param labels alternating keys and values every counted series must carry
   */
  public static double quantileBetween(
      PrometheusText before, PrometheusText after, String bucketName, double q, String... labels) {
    TreeMap<Double, Double> cumulative = new TreeMap<>();
    for (Sample s : after.samples) {
      if (s.name().equals(bucketName)
          && matches(s.labels(), labels)
          && s.labels().containsKey("le")) {
        cumulative.merge(parseValue(s.labels().get("le"), bucketName), s.value(), Double::sum);
      }
    }
    for (Sample s : before.samples) {
      if (s.name().equals(bucketName)
          && matches(s.labels(), labels)
          && s.labels().containsKey("le")) {
        cumulative.merge(parseValue(s.labels().get("le"), bucketName), -s.value(), Double::sum);
      }
    }
    if (cumulative.isEmpty() || cumulative.lastEntry().getValue() <= 0) {
      return Double.NaN;
    }
    double target = q * cumulative.lastEntry().getValue();
    double previousBound = 0;
    double previousCount = 0;
    for (Map.Entry<Double, Double> bucket : cumulative.entrySet()) {
      if (bucket.getValue() >= target) {
        if (bucket.getKey().isInfinite() || bucket.getValue() == previousCount) {
          return previousBound;
        }
        return previousBound
            + (bucket.getKey() - previousBound)
                * (target - previousCount)
                / (bucket.getValue() - previousCount);
      }
      previousBound = bucket.getKey();
      previousCount = bucket.getValue();
    }
    return previousBound;
  }

  /** Whether any sample has this name. */
  public boolean has(String name) {
    return samples.stream().anyMatch(s -> s.name().equals(name));
  }

  public List<Sample> samples() {
    return samples;
  }

  private static boolean matches(Map<String, String> actual, String[] wanted) {
    for (int i = 0; i < wanted.length; i += 2) {
      if (!wanted[i + 1].equals(actual.get(wanted[i]))) {
        return false;
      }
    }
    return true;
  }

  private static Sample parseLine(String line) {
    int brace = line.indexOf('{');
    int space = line.indexOf(' ');
    Map<String, String> labels = new LinkedHashMap<>();
    String name;
    int rest;
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.substring(0, brace);
      rest = parseLabels(line, brace + 1, labels);
    } else if (space > 0) {
      name = line.substring(0, space);
      rest = space;
    } else {
      throw new IllegalArgumentException("not a sample line: " + line);
    }
    String[] valueAndTimestamp = line.substring(rest).strip().split("\\s+");
    return new Sample(name, labels, parseValue(valueAndTimestamp[0], line));
  }

  /** Reads {@code k="v",...}} from {@code start}; returns the index after the closing brace. */
  private static int parseLabels(String line, int start, Map<String, String> labels) {
    int i = start;
    while (i < line.length()) {
      char c = line.charAt(i);
      if (c == '}') {
        return i + 1;
      }
      if (c == ',' || c == ' ') {
        i++;
        continue;
      }
      int eq = line.indexOf('=', i);
      if (eq < 0 || eq + 1 >= line.length() || line.charAt(eq + 1) != '"') {
        throw new IllegalArgumentException("malformed labels: " + line);
      }
      String key = line.substring(i, eq).strip();
      StringBuilder value = new StringBuilder();
      int j = eq + 2;
      for (; j < line.length() && line.charAt(j) != '"'; j++) {
        char v = line.charAt(j);
        if (v == '\\' && j + 1 < line.length()) {
          char escaped = line.charAt(++j);
          value.append(escaped == 'n' ? '\n' : escaped);
        } else {
          value.append(v);
        }
      }
      if (j >= line.length()) {
        throw new IllegalArgumentException("unterminated label value: " + line);
      }
      labels.put(key, value.toString());
      i = j + 1;
    }
    throw new IllegalArgumentException("unterminated labels: " + line);
  }

  private static double parseValue(String text, String line) {
    return switch (text) {
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> {
        try {
          yield Double.parseDouble(text);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("not a sample value in: " + line, e);
        }
      }
    };
  }
}
