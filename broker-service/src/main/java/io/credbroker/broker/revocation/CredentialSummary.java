package io.credbroker.broker.revocation;

import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.lease.CredentialRecord;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * What an operator may see about one credential: who holds which PostgreSQL user, and where it is
 * in its life. There is no password here, because the broker never has one to show.
 *
 * @param id the broker's credential id
 * @param databaseRole the binding's database role
 * @param username the PostgreSQL user name
 * @param namespace the holder's namespace
 * @param serviceAccount the holder's service account
 * @param podName the holder pod, or {@code null} for a token bound to no pod
 * @param podUid that pod's UID, or {@code null} with {@code podName}
 * @param kind {@code STREAM} or {@code ONE_SHOT}
 * @param state {@code ACTIVE}, {@code RELEASED}, {@code REVOKED} or {@code EXPIRED}
 * @param ownerReplica the replica responsible for it, or {@code null}
 * @param issueTime when Vault issued it
 * @param expireTime when it stops working unless renewed
 * @param endTime when it ended, or {@code null} while active
 * @param endReason why it ended (e.g. {@code ADMIN}), or {@code null}
 * @param maxExpireTime the latest time renewals can take it to before it is rotated, or {@code
 *     null} when unknown
 * @param tokenExpireTime when the Vault token that created it dies (Vault revokes it then at the
 *     latest; the broker rotates it before), or {@code null} when unknown
 */
public record CredentialSummary(
    UUID id,
    String databaseRole,
    String username,
    String namespace,
    String serviceAccount,
    @Nullable String podName,
    @Nullable String podUid,
    String kind,
    String state,
    @Nullable String ownerReplica,
    Instant issueTime,
    Instant expireTime,
    @Nullable Instant endTime,
    @Nullable String endReason,
    @Nullable Instant maxExpireTime,
    @Nullable Instant tokenExpireTime) {

  public CredentialSummary {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(databaseRole, "databaseRole");
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(serviceAccount, "serviceAccount");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(issueTime, "issueTime");
    Objects.requireNonNull(expireTime, "expireTime");
  }

  /** What an operator may see of a credential the lease lifecycle recorded. */
  public static CredentialSummary of(CredentialRecord record) {
    PodIdentity owner = record.owner();
    return new CredentialSummary(
        record.id(),
        record.databaseRole(),
        record.username(),
        owner.namespace(),
        owner.serviceAccount(),
        owner.podName(),
        owner.podUid(),
        record.kind().name(),
        record.state().name(),
        record.ownerReplica(),
        record.issueTime(),
        record.expireTime(),
        record.endTime(),
        record.endReason(),
        record.maxExpireTime(),
        record.tokenExpireTime());
  }

  public boolean active() {
    return "ACTIVE".equals(state);
  }
}
