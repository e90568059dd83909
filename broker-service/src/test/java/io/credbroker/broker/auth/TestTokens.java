package io.credbroker.broker.auth;

import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import java.time.Instant;
import java.util.Date;
import java.util.UUID;

/** JWT-shaped tokens for tests; the broker only reads their expiry, Kubernetes checks the rest. */
final class TestTokens {

  private TestTokens() {}

  static BearerToken expiringAt(Instant expiry) {
    JWTClaimsSet claims =
        new JWTClaimsSet.Builder()
            .subject("system:serviceaccount:public:application")
            .jwtID(UUID.randomUUID().toString())
            .expirationTime(Date.from(expiry))
            .build();
    return new BearerToken(new PlainJWT(claims).serialize());
  }
}
