package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The JWT shape check accepts exactly what its regular expression describes. */
class SignedJwtShapeTest {

  /** The shape as the authenticator documents it, with its length bound. */
  private static final Pattern SHAPE =
      Pattern.compile("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*");

  private static final int MAX_LENGTH = TokenAuthenticator.MAX_TOKEN_LENGTH;

  private static boolean expected(String token) {
    return token.length() <= MAX_LENGTH && SHAPE.matcher(token).matches();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a.b.c",
        "a.b.",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_",
        "",
        ".",
        "..",
        "a..c",
        ".b.c",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "a.b.c=",
        "a b.c.d",
        "a.b.c\n",
        "Bearer a.b.c",
        "a+b.c.d",
        "a/b.c.d",
        "é.b.c",
        "a.b.\u0000"
      })
  void acceptsWhatThePatternAccepts(String token) {
    assertThat(TokenAuthenticator.looksLikeSignedJwt(token))
        .as("%s", token)
        .isEqualTo(expected(token));
  }

  @Test
  void refusesATokenOverTheLengthBoundThatIsOtherwiseWellShaped() {
    String part = "a".repeat(MAX_LENGTH / 2);
    String atBound = part + "." + "b".repeat(MAX_LENGTH - part.length() - 3) + ".c";
    assertThat(atBound).hasSize(MAX_LENGTH);
    assertThat(TokenAuthenticator.looksLikeSignedJwt(atBound)).isTrue();
    assertThat(TokenAuthenticator.looksLikeSignedJwt(atBound + "c")).isFalse();
  }

  @Test
  void agreesWithThePatternOnRandomStringsOfJwtCharactersAndOthers() {
    // JWT characters weighted up, so that a few per cent of the strings have the shape.
    String alphabet = "aZ0-_aZ0-_...=+ é";
    SplittableRandom random = new SplittableRandom(20261203);
    int accepted = 0;
    for (int n = 0; n < 50_000; n++) {
      StringBuilder token = new StringBuilder();
      int length = 3 + random.nextInt(10);
      for (int i = 0; i < length; i++) {
        token.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      String value = token.toString();
      boolean shape = expected(value);
      assertThat(TokenAuthenticator.looksLikeSignedJwt(value)).as("%s", value).isEqualTo(shape);
      accepted += shape ? 1 : 0;
    }
    // Both answers were exercised, not just refusals.
    assertThat(accepted).isGreaterThan(200);
  }
}
