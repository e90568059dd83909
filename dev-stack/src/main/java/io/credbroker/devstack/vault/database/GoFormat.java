package io.credbroker.devstack.vault.database;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Go's {@code fmt.Sprintf} for the values a username template produces (strings and integers):
 * verbs {@code %s %v %d %q %x %X %%}, the flags {@code -} and {@code 0}, width and precision, and
 * Go's in-band error texts ({@code %!d(string=x)}, {@code %!s(MISSING)}, {@code %!(EXTRA ...)}).
 * Stateless.
 */
final class GoFormat {

  private GoFormat() {}

  static String sprintf(String format, List<Object> args) {
    StringBuilder out = new StringBuilder();
    int argIndex = 0;
    int i = 0;
    while (i < format.length()) {
      char c = format.charAt(i);
      if (c != '%') {
        out.append(c);
        i++;
        continue;
      }
      i++;
      if (i >= format.length()) {
        out.append("%!(NOVERB)");
        break;
      }
      boolean minus = false;
      boolean zero = false;
      while (i < format.length() && "-0+# ".indexOf(format.charAt(i)) >= 0) {
        if (format.charAt(i) == '-') {
          minus = true;
        } else if (format.charAt(i) == '0') {
          zero = true;
        }
        i++;
      }
      int width = -1;
      int start = i;
      while (i < format.length() && Character.isDigit(format.charAt(i))) {
        i++;
      }
      if (i > start) {
        width = Integer.parseInt(format.substring(start, i));
      }
      int precision = -1;
      if (i < format.length() && format.charAt(i) == '.') {
        i++;
        start = i;
        while (i < format.length() && Character.isDigit(format.charAt(i))) {
          i++;
        }
        precision = i > start ? Integer.parseInt(format.substring(start, i)) : 0;
      }
      if (i >= format.length()) {
        out.append("%!(NOVERB)");
        break;
      }
      char verb = format.charAt(i++);
      if (verb == '%') {
        out.append('%');
        continue;
      }
      if (argIndex >= args.size()) {
        out.append("%!").append(verb).append("(MISSING)");
        continue;
      }
      Object arg = args.get(argIndex++);
      String formatted = formatOne(verb, arg, precision);
      if (formatted == null) {
        out.append("%!")
            .append(verb)
            .append('(')
            .append(UsernameTemplate.goType(arg))
            .append('=')
            .append(arg)
            .append(')');
        continue;
      }
      out.append(pad(formatted, width, minus, zero && !minus && arg instanceof Long));
    }
    if (argIndex < args.size()) {
      out.append("%!(EXTRA ");
      for (int k = argIndex; k < args.size(); k++) {
        if (k > argIndex) {
          out.append(", ");
        }
        Object arg = args.get(k);
        out.append(UsernameTemplate.goType(arg)).append('=').append(arg);
      }
      out.append(')');
    }
    return out.toString();
  }

  /** One argument under one verb, or null when Go would print a bad-verb marker. */
  private static String formatOne(char verb, Object arg, int precision) {
    if (arg instanceof Long number) {
      return switch (verb) {
        case 'd', 'v' -> Long.toString(number);
        case 'x' -> Long.toHexString(number);
        case 'X' -> Long.toHexString(number).toUpperCase(Locale.ROOT);
        default -> null;
      };
    }
    String s = String.valueOf(arg);
    return switch (verb) {
      case 's', 'v' -> precision >= 0 && precision < s.length() ? s.substring(0, precision) : s;
      case 'q' -> quote(s);
      case 'x' -> HexFormat.of().formatHex(s.getBytes(StandardCharsets.UTF_8));
      case 'X' -> HexFormat.of().withUpperCase().formatHex(s.getBytes(StandardCharsets.UTF_8));
      default -> null;
    };
  }

  private static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        default -> sb.append(c);
      }
    }
    return sb.append('"').toString();
  }

  private static String pad(String s, int width, boolean left, boolean zero) {
    if (width <= s.length()) {
      return s;
    }
    String fill = String.valueOf(zero ? '0' : ' ').repeat(width - s.length());
    if (left) {
      return s + fill;
    }
    if (zero && s.startsWith("-")) {
      return "-" + fill + s.substring(1);
    }
    return fill + s;
  }
}
