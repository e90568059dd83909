package io.credbroker.broker.lease;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * The answer to a rotation acknowledgement.
 *
 * @param replacedId the credential that the acknowledged one replaced
 * @param revokeTime when the replaced credential is (or was) revoked
 */
public record Acknowledgement(UUID replacedId, Instant revokeTime) {

  public Acknowledgement {
    Objects.requireNonNull(replacedId, "replacedId");
    Objects.requireNonNull(revokeTime, "revokeTime");
  }
}
