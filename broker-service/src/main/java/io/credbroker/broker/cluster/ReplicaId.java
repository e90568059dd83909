package io.credbroker.broker.cluster;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The name this process goes by in the state store, e.g. as the owner of the leases it issued.
 *
 * @param value the name; at most 200 characters
 */
public record ReplicaId(String value) {

  public ReplicaId {
    Objects.requireNonNull(value, "value");
    if (value.isBlank() || value.length() > 200) {
      throw new IllegalArgumentException("replica id must be 1 to 200 characters");
    }
  }

  /**
   * The configured id, or the host name plus a random suffix: a restarted process (same pod name)
   * is then a new replica, so leases of the old process are never mistaken for its own.
   */
  public static ReplicaId configuredOrGenerated(@Nullable String configured) {
    if (configured != null && !configured.isBlank()) {
      return new ReplicaId(configured.strip());
    }
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      host = "broker";
    }
    return new ReplicaId(host + "-" + UUID.randomUUID().toString().substring(0, 8));
  }

  @Override
  public String toString() {
    return value;
  }
}
