package io.credbroker.broker.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A caller's bearer token (a pod's projected service-account JWT), as presented.
 *
 * <p>Never prints: {@link #toString()} hides the value, so the token cannot reach a log line by
 * accident. Immutable.
 *
 * @param value the raw token
 */
public record BearerToken(String value) {

  public BearerToken {
    Objects.requireNonNull(value, "value");
    if (value.isBlank()) {
      throw new IllegalArgumentException("token must not be blank");
    }
  }

  /**
   * Parses an {@code authorization} header value of the form {@code Bearer <token>}.
   *
   * @return the token, or {@code null} when the header is absent or not a bearer credential
   */
  public static @Nullable BearerToken fromAuthorizationHeader(@Nullable String header) {
    if (header == null) {
      return null;
    }
    String trimmed = header.strip();
    // The scheme is case-insensitive (RFC 9110 section 11.1).
    if (trimmed.length() <= 7 || !trimmed.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = trimmed.substring(7).strip();
    return token.isEmpty() ? null : new BearerToken(token);
  }

  /** The SHA-256 of the token as lower-case hex: what caches key on instead of the token itself. */
  public String sha256Hex() {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(digest.digest(value.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK provides SHA-256", e);
    }
  }

  /**
   * How long a verdict about a token may be cached: {@code max}, but never past the token's own
   * expiry (a token that has expired already: zero).
   *
   * @param tokenExpiry the token's {@code exp}, or {@code null} when it has none or is not a JWT
   */
  public static Duration verdictTtl(Duration max, @Nullable Instant tokenExpiry, Clock clock) {
    if (tokenExpiry == null) {
      return max;
    }
    Duration left = Duration.between(clock.instant(), tokenExpiry);
    return left.compareTo(max) < 0 ? (left.isNegative() ? Duration.ZERO : left) : max;
  }

  @Override
  public String toString() {
    return "BearerToken[****]";
  }
}
