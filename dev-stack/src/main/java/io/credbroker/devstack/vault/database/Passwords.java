package io.credbroker.devstack.vault.database;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Password generation as Vault's database engine does it without a password policy (20 characters
 * from {@code [a-zA-Z0-9-]} with at least one lowercase letter, one uppercase letter, one digit and
 * one dash), and the client-side SCRAM-SHA-256 verifier the PostgreSQL plugin sends when {@code
 * password_authentication} is {@code scram-sha-256}. Thread-safe.
 */
final class Passwords {

  static final int LENGTH = 20;

  private static final String LOWER = "abcdefghijklmnopqrstuvwxyz";
  private static final String UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  private static final String DIGITS = "0123456789";
  private static final String DASH = "-";
  private static final String CHARSET = LOWER + UPPER + DIGITS + DASH;
  private static final int SCRAM_ITERATIONS = 4096;

  private static final SecureRandom RANDOM = new SecureRandom();

  private Passwords() {}

  /** Draws from the whole charset until every rule holds, as Vault's string generator does. */
  static String generate() {
    while (true) {
      char[] chars = new char[LENGTH];
      for (int i = 0; i < LENGTH; i++) {
        chars[i] = CHARSET.charAt(RANDOM.nextInt(CHARSET.length()));
      }
      String candidate = new String(chars);
      if (hasAny(candidate, LOWER)
          && hasAny(candidate, UPPER)
          && hasAny(candidate, DIGITS)
          && hasAny(candidate, DASH)) {
        return candidate;
      }
    }
  }

  private static boolean hasAny(String s, String set) {
    for (int i = 0; i < s.length(); i++) {
      if (set.indexOf(s.charAt(i)) >= 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * A PostgreSQL SCRAM-SHA-256 verifier ({@code SCRAM-SHA-256$4096:salt$StoredKey:ServerKey}), so
   * the clear password never travels to the server.
   */
  static String scramSha256Verifier(String password) {
    byte[] salt = new byte[16];
    RANDOM.nextBytes(salt);
    return scramSha256Verifier(password, salt);
  }

  static String scramSha256Verifier(String password, byte[] salt) {
    try {
      SecretKeyFactory factory = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256");
      byte[] salted =
          factory
              .generateSecret(new PBEKeySpec(password.toCharArray(), salt, SCRAM_ITERATIONS, 256))
              .getEncoded();
      byte[] clientKey = hmac(salted, "Client Key");
      byte[] storedKey = MessageDigest.getInstance("SHA-256").digest(clientKey);
      byte[] serverKey = hmac(salted, "Server Key");
      Base64.Encoder b64 = Base64.getEncoder();
      return "SCRAM-SHA-256$"
          + SCRAM_ITERATIONS
          + ":"
          + b64.encodeToString(salt)
          + "$"
          + b64.encodeToString(storedKey)
          + ":"
          + b64.encodeToString(serverKey);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("PBKDF2WithHmacSHA256 is required of every JVM", e);
    }
  }

  private static byte[] hmac(byte[] key, String message) throws GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
  }
}
