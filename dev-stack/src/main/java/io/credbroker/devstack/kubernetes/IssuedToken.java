package io.credbroker.devstack.kubernetes;

import java.time.Instant;

/** A signed service-account token and when it expires. The token never prints. */
record IssuedToken(String token, Instant expiration, String jti) {

  @Override
  public String toString() {
    return "IssuedToken[token=<redacted>, expiration=" + expiration + ", jti=" + jti + "]";
  }
}
