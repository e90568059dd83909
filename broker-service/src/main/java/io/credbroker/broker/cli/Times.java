package io.credbroker.broker.cli;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Times as an operator types them ({@code 90m}, {@code 2h}, {@code 3d} ago, or RFC 3339) and reads
 * them.
 */
final class Times {

  private static final Pattern AGO = Pattern.compile("(\\d{1,6})([smhd])");
  private static final DateTimeFormatter SHOWN =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'");

  private Times() {}

  /**
   * An RFC 3339 time for the API, from {@code 15m}/{@code 2h}/{@code 1d} (before now) or RFC 3339.
   */
  static @Nullable String parse(@Nullable String value, String option, Clock clock) {
    if (value == null || value.isBlank()) {
      return null;
    }
    Matcher ago = AGO.matcher(value.strip());
    if (ago.matches()) {
      long amount = Long.parseLong(ago.group(1));
      Duration duration =
          switch (ago.group(2)) {
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            default -> Duration.ofDays(amount);
          };
      return clock.instant().minus(duration).toString();
    }
    try {
      return OffsetDateTime.parse(value.strip()).toInstant().toString();
    } catch (DateTimeParseException e) {
      throw new CliException(
          option
              + " must be a duration before now (30m, 2h, 7d) or an RFC 3339 time, was "
              + value);
    }
  }

  /** {@code 2026-01-31 23:00:00Z}, or {@code -} for none. */
  static String show(@Nullable String rfc3339) {
    if (rfc3339 == null || rfc3339.isEmpty() || rfc3339.equals("null")) {
      return "-";
    }
    try {
      return SHOWN.format(Instant.parse(rfc3339).atOffset(ZoneOffset.UTC));
    } catch (DateTimeParseException e) {
      return rfc3339;
    }
  }
}
