package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Vault's duration handling: parsing as {@code parseutil.ParseDurationSecond} does (a number of
 * seconds, a numeric string, or a Go duration string such as {@code "1h30m"}, plus {@code d} for
 * days) and Go's formatting with zero units left out ({@code 1h}, {@code 12m31s}). Stateless.
 */
public final class GoDuration {

  private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h|d)");

  private GoDuration() {}

  /**
   * Parses a duration field of a request body.
   *
   * @return {@code fallback} when the node is missing or null
   * @throws VaultException 400 when the value is not a duration
   */
  public static Duration parse(@Nullable JsonNode node, Duration fallback) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return fallback;
    }
    if (node.isNumber()) {
      return Duration.ofSeconds(node.asLong());
    }
    return parse(node.asText());
  }

  /** Parses {@code "3600"}, {@code "1h"}, {@code "1h30m10s"}, {@code "2d"}; empty means zero. */
  public static Duration parse(String text) {
    String s = text.trim();
    if (s.isEmpty()) {
      return Duration.ZERO;
    }
    if (s.matches("-?\\d+")) {
      long seconds = Long.parseLong(s);
      if (seconds < 0) {
        throw VaultException.badRequest("invalid duration: negative value " + s);
      }
      return Duration.ofSeconds(seconds);
    }
    Matcher m = PART.matcher(s);
    int pos = 0;
    double nanos = 0;
    while (m.find()) {
      if (m.start() != pos) {
        throw invalid(text);
      }
      double value = Double.parseDouble(m.group(1));
      nanos +=
          value
              * switch (m.group(2)) {
                case "ns" -> 1d;
                case "us", "µs" -> 1e3;
                case "ms" -> 1e6;
                case "s" -> 1e9;
                case "m" -> 60e9;
                case "h" -> 3600e9;
                default -> 86400e9;
              };
      pos = m.end();
    }
    if (pos != s.length()) {
      throw invalid(text);
    }
    return Duration.ofNanos((long) nanos);
  }

  private static VaultException invalid(String text) {
    return VaultException.badRequest("time: invalid duration \"" + text + "\"");
  }

  /**
   * Go's {@code time.Duration.String()} for whole seconds, without zero units: {@code 1h}, {@code
   * 59m58s}, {@code 768h}, {@code 0s}.
   */
  public static String format(Duration d) {
    long total = d.getSeconds();
    if (total <= 0) {
      return "0s";
    }
    long h = total / 3600;
    long m = (total % 3600) / 60;
    long s = total % 60;
    StringBuilder sb = new StringBuilder();
    if (h > 0) {
      sb.append(h).append('h');
    }
    if (m > 0) {
      sb.append(m).append('m');
    }
    if (s > 0) {
      sb.append(s).append('s');
    }
    return sb.toString();
  }

  /** The warning Vault adds when a requested TTL is cut down to what the max TTL leaves. */
  public static String cappedWarning(Duration requested, Duration allowed) {
    return "TTL of \""
        + format(requested)
        + "\" exceeded the effective max_ttl of \""
        + format(allowed)
        + "\"; TTL value is capped accordingly";
  }
}
