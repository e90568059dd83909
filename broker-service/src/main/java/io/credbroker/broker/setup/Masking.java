package io.credbroker.broker.setup;

import java.util.regex.Pattern;

/**
 * Hides secrets that may hide inside text a user supplied, such as a JDBC URL, before it is
 * printed.
 */
final class Masking {

  private static final Pattern URL_PASSWORD =
      Pattern.compile("(?i)([?&;](?:password|sslpassword)=)[^&;]*");
  // The password runs to the last @ before the query, so an unencoded @ or / in it stays hidden.
  private static final Pattern URL_USERINFO = Pattern.compile("(//[^/:@?#]*:)[^?#]*@");

  private Masking() {}

  /**
   * A JDBC or connection URL with any password parameter or user-info password replaced by the
   * mask.
   */
  static String url(String url) {
    String masked = URL_PASSWORD.matcher(url).replaceAll("$1" + Secret.MASK);
    return URL_USERINFO.matcher(masked).replaceAll("$1" + Secret.MASK + "@");
  }
}
