package io.credbroker.broker.setup;

import java.security.SecureRandom;
import java.util.Objects;

/**
 * A password or token that must never print: {@link #toString()} is masked, the value is only
 * available through {@link #reveal()}. Immutable and thread-safe.
 */
public final class Secret {

  /** What every masked secret prints as. */
  public static final String MASK = "******";

  private static final char[] ALPHABET =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final String value;

  private Secret(String value) {
    this.value = value;
  }

  /** Wraps a given secret; rejects an empty one, which would silently mean "no password". */
  public static Secret of(String value) {
    Objects.requireNonNull(value, "value");
    if (value.isEmpty()) {
      throw new IllegalArgumentException("a secret must not be empty");
    }
    return new Secret(value);
  }

  /** A fresh random secret of 32 alphanumeric characters (about 190 bits). */
  public static Secret random() {
    char[] chars = new char[32];
    for (int i = 0; i < chars.length; i++) {
      chars[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    }
    return new Secret(new String(chars));
  }

  /** The clear value; pass it straight to the wire and nowhere else. */
  public String reveal() {
    return value;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Secret s && s.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return MASK;
  }
}
