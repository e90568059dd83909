package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BearerTokenTest {

  @Test
  void bearerHeaderYieldsTheToken() {
    assertThat(BearerToken.fromAuthorizationHeader("Bearer abc.def.ghi"))
        .isEqualTo(new BearerToken("abc.def.ghi"));
    assertThat(BearerToken.fromAuthorizationHeader("bearer   abc.def.ghi "))
        .isEqualTo(new BearerToken("abc.def.ghi"));
  }

  @Test
  void otherSchemesAndEmptyValuesYieldNoToken() {
    assertThat(BearerToken.fromAuthorizationHeader(null)).isNull();
    assertThat(BearerToken.fromAuthorizationHeader("Basic dXNlcjpwYXNz")).isNull();
    assertThat(BearerToken.fromAuthorizationHeader("Bearer ")).isNull();
    assertThat(BearerToken.fromAuthorizationHeader("Bearerabc")).isNull();
  }

  @Test
  void tokenNeverPrints() {
    BearerToken token = new BearerToken("secret-token-value");

    assertThat(token.toString()).doesNotContain("secret-token-value");
    assertThat(token.sha256Hex()).hasSize(64).doesNotContain("secret");
  }
}
