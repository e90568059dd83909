package io.credbroker.broker.revocation;

import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What one replica tells the others through {@code NOTIFY}: ids only, never a name that came from a
 * request, never a secret. The payload is a version tag and space-separated fields.
 */
sealed interface RevocationMessage {

  String VERSION = "v1";
  Pattern UPPER_SNAKE = Pattern.compile("[A-Z][A-Z0-9_]{0,62}");
  // Kubernetes UIDs are UUIDs; anything printable without spaces is accepted so that a UID format
  // change does not silently drop blocks, but nothing that could split the payload.
  Pattern POD_UID = Pattern.compile("[\\x21-\\x7e]{1,128}");

  /** The payload sent with {@code pg_notify}. */
  String encode();

  /** A pod UID was blocked: drop it from every replica's block cache. */
  record PodBlocked(String podUid) implements RevocationMessage {
    public PodBlocked {
      checkPodUid(podUid);
    }

    @Override
    public String encode() {
      return VERSION + " block " + podUid;
    }
  }

  /** A pod UID's block was lifted: drop it from every replica's block cache. */
  record PodUnblocked(String podUid) implements RevocationMessage {
    public PodUnblocked {
      checkPodUid(podUid);
    }

    @Override
    public String encode() {
      return VERSION + " unblock " + podUid;
    }
  }

  /** A credential was revoked: the replica holding its stream tells the client and ends it. */
  record CredentialRevoked(UUID credentialId, String reason) implements RevocationMessage {
    public CredentialRevoked {
      Objects.requireNonNull(credentialId, "credentialId");
      Objects.requireNonNull(reason, "reason");
      if (!UPPER_SNAKE.matcher(reason).matches()) {
        throw new IllegalArgumentException("reason must be UPPER_SNAKE_CASE");
      }
    }

    @Override
    public String encode() {
      return VERSION + " revoked " + credentialId + " " + reason;
    }
  }

  private static void checkPodUid(String podUid) {
    Objects.requireNonNull(podUid, "podUid");
    if (!POD_UID.matcher(podUid).matches()) {
      throw new IllegalArgumentException("pod UID is not printable ASCII without spaces");
    }
  }

  /**
   * Reads a payload.
   *
   * @return the message, or {@code null} when the payload is not one this version understands (a
   *     newer replica during a rolling update); such payloads are skipped
   */
  static @Nullable RevocationMessage decode(String payload) {
    String[] fields = payload.split(" ", -1);
    if (fields.length < 2 || !fields[0].equals(VERSION)) {
      return null;
    }
    try {
      return switch (fields[1]) {
        case "block" -> fields.length == 3 ? new PodBlocked(fields[2]) : null;
        case "unblock" -> fields.length == 3 ? new PodUnblocked(fields[2]) : null;
        case "revoked" ->
            fields.length == 4
                ? new CredentialRevoked(UUID.fromString(fields[2]), fields[3])
                : null;
        default -> null;
      };
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
