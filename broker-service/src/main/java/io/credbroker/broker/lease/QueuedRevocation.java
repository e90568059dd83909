package io.credbroker.broker.lease;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * A revocation Vault has not confirmed yet: the role may still log in until a retry succeeds.
 *
 * @param credentialId the credential
 * @param username its PostgreSQL user name
 * @param namespace the holder's namespace
 * @param podName the holder pod, or {@code null}
 * @param trigger why it is being revoked (e.g. {@code ADMIN})
 * @param attempts how many attempts failed so far
 * @param nextAttemptTime when the next attempt is due
 * @param lastFailure a short classification of the last failure, or {@code null}
 * @param enqueuedTime when it entered the queue
 */
public record QueuedRevocation(
    UUID credentialId,
    String username,
    String namespace,
    @Nullable String podName,
    String trigger,
    int attempts,
    Instant nextAttemptTime,
    @Nullable String lastFailure,
    Instant enqueuedTime) {

  public QueuedRevocation {
    Objects.requireNonNull(credentialId, "credentialId");
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(trigger, "trigger");
    Objects.requireNonNull(nextAttemptTime, "nextAttemptTime");
    Objects.requireNonNull(enqueuedTime, "enqueuedTime");
  }
}
