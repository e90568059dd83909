package io.credbroker.broker.revocation;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * One operator action, as the audit trail keeps it.
 *
 * @param id a increasing number (the order of the trail)
 * @param time when the action was recorded
 * @param actor the operator's Kubernetes user name
 * @param action {@code POD_REVOKED} or {@code CREDENTIAL_REVOKED}
 * @param namespace the namespace acted on
 * @param podName the pod acted on, or {@code null} for a credential of a token bound to no pod
 * @param podUids the pod UIDs blocked or concerned
 * @param credentialIds the credentials this action revoked (empty for a repeated call)
 * @param usernames their PostgreSQL user names
 * @param reason what the operator gave as the reason
 * @param replica the replica that served the call
 */
public record AuditEvent(
    long id,
    Instant time,
    String actor,
    String action,
    String namespace,
    @Nullable String podName,
    List<String> podUids,
    List<UUID> credentialIds,
    List<String> usernames,
    String reason,
    String replica) {

  public AuditEvent {
    Objects.requireNonNull(time, "time");
    Objects.requireNonNull(actor, "actor");
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(replica, "replica");
    podUids = List.copyOf(podUids);
    credentialIds = List.copyOf(credentialIds);
    usernames = List.copyOf(usernames);
  }
}
