package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses TTL inputs the way Vault's {@code TypeDurationSecond} fields do: a JSON number of seconds,
 * a string of digits ({@code "3600"}), a day count ({@code "2d"}), or a Go duration ({@code "1h"},
 * {@code "90s"}, {@code "1h30m"}). Stateless.
 */
final class GoDurations {

  private static final Pattern GO_ELEMENT =
      Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h)");

  private GoDurations() {}

  /** A failure whose message reads like Go's {@code time.ParseDuration} or strconv error. */
  static final class InvalidDurationException extends Exception {
    InvalidDurationException(String message) {
      super(message);
    }
  }

  static Duration parseSeconds(JsonNode value) throws InvalidDurationException {
    if (value == null || value.isNull() || value.isMissingNode()) {
      return Duration.ZERO;
    }
    if (value.isIntegralNumber()) {
      return Duration.ofSeconds(value.asLong());
    }
    if (value.isNumber()) {
      return Duration.ofNanos(value.decimalValue().movePointRight(9).longValue());
    }
    if (value.isTextual()) {
      return parseSeconds(value.asText());
    }
    throw new InvalidDurationException("could not parse duration from input");
  }

  static Duration parseSeconds(String raw) throws InvalidDurationException {
    String in = raw.trim();
    if (in.isEmpty()) {
      return Duration.ZERO;
    }
    if (Character.isDigit(in.charAt(in.length() - 1))) {
      try {
        return Duration.ofSeconds(Long.parseLong(in));
      } catch (NumberFormatException e) {
        throw new InvalidDurationException(
            "strconv.ParseInt: parsing \"" + in + "\": invalid syntax");
      }
    }
    if (in.endsWith("d")) {
      try {
        return Duration.ofDays(Long.parseLong(in.substring(0, in.length() - 1)));
      } catch (NumberFormatException e) {
        throw new InvalidDurationException(
            "strconv.ParseInt: parsing \""
                + in.substring(0, in.length() - 1)
                + "\": invalid syntax");
      }
    }
    return parseGo(in);
  }

  /** Go's {@code time.ParseDuration}. */
  static Duration parseGo(String in) throws InvalidDurationException {
    String s = in;
    boolean negative = false;
    if (s.startsWith("-") || s.startsWith("+")) {
      negative = s.charAt(0) == '-';
      s = s.substring(1);
    }
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    if (s.isEmpty()) {
      throw invalid(in);
    }
    BigDecimal nanos = BigDecimal.ZERO;
    Matcher m = GO_ELEMENT.matcher(s);
    int at = 0;
    while (at < s.length()) {
      if (!m.find(at) || m.start() != at) {
        throw elementError(in, s, at);
      }
      BigDecimal number = new BigDecimal(m.group(1).endsWith(".") ? m.group(1) + "0" : m.group(1));
      long unit =
          switch (m.group(2)) {
            case "ns" -> 1L;
            case "us", "µs", "μs" -> 1_000L;
            case "ms" -> 1_000_000L;
            case "s" -> 1_000_000_000L;
            case "m" -> 60_000_000_000L;
            default -> 3_600_000_000_000L;
          };
      nanos = nanos.add(number.multiply(BigDecimal.valueOf(unit)));
      at = m.end();
    }
    if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw invalid(in);
    }
    Duration d = Duration.ofNanos(nanos.longValue());
    return negative ? d.negated() : d;
  }

  /** Go's message for the element at {@code at} that is not number-then-known-unit. */
  private static InvalidDurationException elementError(String in, String s, int at) {
    int i = at;
    while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
      i++;
    }
    if (i == at) {
      return invalid(in);
    }
    int unitEnd = i;
    while (unitEnd < s.length()
        && !Character.isDigit(s.charAt(unitEnd))
        && s.charAt(unitEnd) != '.') {
      unitEnd++;
    }
    if (unitEnd == i) {
      return new InvalidDurationException("time: missing unit in duration " + goQuote(in));
    }
    return new InvalidDurationException(
        "time: unknown unit " + goQuote(s.substring(i, unitEnd)) + " in duration " + goQuote(in));
  }

  private static InvalidDurationException invalid(String in) {
    return new InvalidDurationException("time: invalid duration " + goQuote(in));
  }

  private static String goQuote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
