package io.credbroker.devstack.vault.database;

/**
 * What Go's {@code net/url} makes of a {@code connection_url}, for the two places Vault looks at
 * it: the "password found" warning and the redacted URL a config read returns. A URL Go refuses to
 * parse (a templated {@code {{username}}:{{password}}@} user info is one) gets no warning and is
 * returned as stored. Stateless.
 */
final class GoUrls {

  private GoUrls() {}

  static boolean hasPassword(String url) {
    String userInfo = userInfo(url);
    return userInfo != null && userInfo.indexOf(':') >= 0;
  }

  /** {@code URL.Redacted()}: the password becomes {@code xxxxx}. */
  static String redacted(String url) {
    if (!hasPassword(url)) {
      return url;
    }
    int scheme = url.indexOf("://");
    int authorityEnd = authorityEnd(url, scheme + 3);
    int at = url.lastIndexOf('@', authorityEnd - 1);
    int colon = url.indexOf(':', scheme + 3);
    return url.substring(0, colon + 1) + "xxxxx" + url.substring(at);
  }

  /** The raw user info of a URL Go would parse, or null. */
  private static String userInfo(String url) {
    int scheme = url.indexOf("://");
    if (scheme <= 0 || !url.substring(0, scheme).matches("[A-Za-z][A-Za-z0-9+.\\-]*")) {
      return null;
    }
    int start = scheme + 3;
    int end = authorityEnd(url, start);
    String authority = url.substring(start, end);
    int at = authority.lastIndexOf('@');
    if (at < 0) {
      return null;
    }
    String userInfo = authority.substring(0, at);
    for (int i = 0; i < userInfo.length(); i++) {
      char c = userInfo.charAt(i);
      boolean valid =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || "-._:~!$&'()*+,;=%@".indexOf(c) >= 0;
      if (!valid) {
        return null;
      }
    }
    return userInfo;
  }

  private static int authorityEnd(String url, int start) {
    int end = url.length();
    for (char stop : new char[] {'/', '?', '#'}) {
      int i = url.indexOf(stop, start);
      if (i >= 0 && i < end) {
        end = i;
      }
    }
    return end;
  }
}
