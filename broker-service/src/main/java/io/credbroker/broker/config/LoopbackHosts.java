package io.credbroker.broker.config;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Which hosts are this machine: the only place a secret may travel in clear text (the dev run's
 * Vault on {@code http://127.0.0.1:8200}).
 */
public final class LoopbackHosts {

  private static final Pattern IPV4_LITERAL = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");

  private LoopbackHosts() {}

  /**
   * Whether a connection with {@code scheme} to {@code host} would carry secrets in clear text
   * beyond this machine: plain {@code http} (in any case) to a host that is not {@linkplain
   * #isLoopback loopback}.
   */
  public static boolean isClearTextBeyondThisMachine(
      @Nullable String scheme, @Nullable String host) {
    return "http".equalsIgnoreCase(scheme) && !isLoopback(host);
  }

  /**
   * {@code scheme://host[:port]} of {@code uri}, for messages: no user info (which may hold a
   * password), path or query.
   */
  public static String origin(URI uri) {
    return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
  }

  /**
   * Whether {@code host}, as a URI carries it (a name, an IPv4 literal or a bracketed IPv6
   * literal), is {@code localhost}, in {@code 127.0.0.0/8} or {@code ::1}. No name but {@code
   * localhost} counts, and none is looked up: what a resolver answers for another name is not this
   * machine's to promise.
   */
  public static boolean isLoopback(@Nullable String host) {
    if (host == null || host.isEmpty()) {
      return false;
    }
    String literal =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (literal.toLowerCase(Locale.ROOT).equals("localhost")) {
      return true;
    }
    if (!IPV4_LITERAL.matcher(literal).matches() && !literal.contains(":")) {
      return false;
    }
    try {
      // A literal address: parsed, never resolved.
      return InetAddress.getByName(literal).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
