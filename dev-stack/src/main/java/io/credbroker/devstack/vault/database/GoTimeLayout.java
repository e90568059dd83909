package io.credbroker.devstack.vault.database;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.Locale;

/**
 * Formats a time with a Go reference layout ({@code Mon Jan 2 15:04:05 MST 2006}), as Vault's
 * {@code timestamp} template function and its {@code {{expiration}}} placeholder do. Covers the
 * layout elements of Go's {@code time} package except fractional-second forms with a comma.
 * Stateless.
 */
final class GoTimeLayout {

  /** The PostgreSQL plugin's layout for {@code {{expiration}}}. */
  static final String EXPIRATION = "2006-01-02 15:04:05-0700";

  private static final DateTimeFormatter ZONE_ABBREVIATION =
      DateTimeFormatter.ofPattern("zzz", Locale.ENGLISH);

  private GoTimeLayout() {}

  static String format(ZonedDateTime t, String layout) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < layout.length()) {
      String rest = layout.substring(i);
      String matched = null;
      String value = null;
      // Longest elements first, as Go's nextStdChunk does.
      if (rest.startsWith("January")) {
        matched = "January";
        value = t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
      } else if (rest.startsWith("Jan")) {
        matched = "Jan";
        value = t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
      } else if (rest.startsWith("Monday")) {
        matched = "Monday";
        value = t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
      } else if (rest.startsWith("Mon")) {
        matched = "Mon";
        value = t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
      } else if (rest.startsWith("MST")) {
        matched = "MST";
        String zone = ZONE_ABBREVIATION.format(t);
        value = zone.equals("Z") || zone.equals("GMT") ? "UTC" : zone;
      } else if (rest.startsWith("2006")) {
        matched = "2006";
        value = String.format("%04d", t.getYear());
      } else if (rest.startsWith("2")) {
        matched = "2";
        value = Integer.toString(t.getDayOfMonth());
      } else if (rest.startsWith("01")) {
        matched = "01";
        value = String.format("%02d", t.getMonthValue());
      } else if (rest.startsWith("02")) {
        matched = "02";
        value = String.format("%02d", t.getDayOfMonth());
      } else if (rest.startsWith("002")) {
        matched = "002";
        value = String.format("%03d", t.getDayOfYear());
      } else if (rest.startsWith("03")) {
        matched = "03";
        value = String.format("%02d", hour12(t));
      } else if (rest.startsWith("04")) {
        matched = "04";
        value = String.format("%02d", t.getMinute());
      } else if (rest.startsWith("05")) {
        matched = "05";
        value = String.format("%02d", t.getSecond());
      } else if (rest.startsWith("06")) {
        matched = "06";
        value = String.format("%02d", t.getYear() % 100);
      } else if (rest.startsWith("_2")) {
        matched = "_2";
        value = String.format("%2d", t.getDayOfMonth());
      } else if (rest.startsWith("15")) {
        matched = "15";
        value = String.format("%02d", t.getHour());
      } else if (rest.startsWith("1")) {
        matched = "1";
        value = Integer.toString(t.getMonthValue());
      } else if (rest.startsWith("3")) {
        matched = "3";
        value = Integer.toString(hour12(t));
      } else if (rest.startsWith("4")) {
        matched = "4";
        value = Integer.toString(t.getMinute());
      } else if (rest.startsWith("5")) {
        matched = "5";
        value = Integer.toString(t.getSecond());
      } else if (rest.startsWith("PM")) {
        matched = "PM";
        value = t.getHour() >= 12 ? "PM" : "AM";
      } else if (rest.startsWith("pm")) {
        matched = "pm";
        value = t.getHour() >= 12 ? "pm" : "am";
      } else if (rest.startsWith("Z07:00")) {
        matched = "Z07:00";
        value = offset(t, true, true);
      } else if (rest.startsWith("Z0700")) {
        matched = "Z0700";
        value = offset(t, false, true);
      } else if (rest.startsWith("-07:00")) {
        matched = "-07:00";
        value = offset(t, true, false);
      } else if (rest.startsWith("-0700")) {
        matched = "-0700";
        value = offset(t, false, false);
      } else if (rest.startsWith("-07")) {
        matched = "-07";
        value = offset(t, false, false).substring(0, 3);
      } else if (rest.matches("^\\.(0+|9+).*")) {
        char digit = rest.charAt(1);
        int n = 1;
        while (n + 1 < rest.length() && rest.charAt(n + 1) == digit) {
          n++;
        }
        // Go only treats ".000"/".999" as fractions when not followed by another digit.
        if (n + 1 >= rest.length() || !Character.isDigit(rest.charAt(n + 1))) {
          matched = rest.substring(0, n + 1);
          String nanos = String.format("%09d", t.getNano()).substring(0, Math.min(9, n));
          if (digit == '9') {
            nanos = nanos.replaceAll("0+$", "");
            value = nanos.isEmpty() ? "" : "." + nanos;
          } else {
            value = "." + nanos;
          }
        }
      }
      if (matched == null) {
        out.append(layout.charAt(i));
        i++;
      } else {
        out.append(value);
        i += matched.length();
      }
    }
    return out.toString();
  }

  private static int hour12(ZonedDateTime t) {
    int h = t.getHour() % 12;
    return h == 0 ? 12 : h;
  }

  private static String offset(ZonedDateTime t, boolean colon, boolean zForUtc) {
    int seconds = t.getOffset().getTotalSeconds();
    if (seconds == 0 && zForUtc) {
      return "Z";
    }
    char sign = seconds < 0 ? '-' : '+';
    int abs = Math.abs(seconds);
    String hh = String.format("%02d", abs / 3600);
    String mm = String.format("%02d", (abs % 3600) / 60);
    return sign + hh + (colon ? ":" : "") + mm;
  }
}
