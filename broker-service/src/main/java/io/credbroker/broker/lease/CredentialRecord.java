package io.credbroker.broker.lease;

import io.credbroker.broker.auth.PodIdentity;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * What the broker records about one credential: everything except the password.
 *
 * @param id the broker's id for the credential (what clients resume, acknowledge and release by)
 * @param databaseRole the binding's database role
 * @param vaultMount the database secrets engine mount the lease came from
 * @param vaultRole the Vault role the lease came from
 * @param leaseId Vault's lease id
 * @param username the PostgreSQL user name
 * @param owner the pod it was issued to
 * @param kind how it was asked for
 * @param state where it is in its life
 * @param renewable whether the broker will renew it
 * @param ownerReplica the replica responsible for it, or {@code null} when none is
 * @param issueTime when Vault issued it
 * @param expireTime when it stops working unless renewed
 * @param maxExpireTime the latest time renewals can reach (Vault's max TTL), or {@code null} when
 *     the broker does not know it
 * @param replaces the credential this one replaced in a rotation, or {@code null}
 * @param detachedTime when the stream holding it ended without a release, or {@code null} while a
 *     stream holds it (or it never had one)
 * @param endTime when it was released, revoked or found expired, or {@code null} while it is active
 * @param endReason the {@link RevocationTrigger} name it ended for, or {@code null} while active
 * @param tokenExpireTime when the Vault token that created its lease dies (Vault revokes the lease
 *     then at the latest), or {@code null} when the broker does not know it
 */
public record CredentialRecord(
    UUID id,
    String databaseRole,
    String vaultMount,
    String vaultRole,
    String leaseId,
    String username,
    PodIdentity owner,
    CredentialKind kind,
    CredentialState state,
    boolean renewable,
    @Nullable String ownerReplica,
    Instant issueTime,
    Instant expireTime,
    @Nullable Instant maxExpireTime,
    @Nullable UUID replaces,
    @Nullable Instant detachedTime,
    @Nullable Instant endTime,
    @Nullable String endReason,
    @Nullable Instant tokenExpireTime) {

  public CredentialRecord {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(databaseRole, "databaseRole");
    Objects.requireNonNull(vaultMount, "vaultMount");
    Objects.requireNonNull(vaultRole, "vaultRole");
    Objects.requireNonNull(leaseId, "leaseId");
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(issueTime, "issueTime");
    Objects.requireNonNull(expireTime, "expireTime");
    if (expireTime.isBefore(issueTime)) {
      throw new IllegalArgumentException("expireTime before issueTime");
    }
  }

  /** A credential as issued: no rotation history, attached, active. */
  public CredentialRecord(
      UUID id,
      String databaseRole,
      String vaultMount,
      String vaultRole,
      String leaseId,
      String username,
      PodIdentity owner,
      CredentialKind kind,
      CredentialState state,
      boolean renewable,
      @Nullable String ownerReplica,
      Instant issueTime,
      Instant expireTime) {
    this(
        id,
        databaseRole,
        vaultMount,
        vaultRole,
        leaseId,
        username,
        owner,
        kind,
        state,
        renewable,
        ownerReplica,
        issueTime,
        expireTime,
        null,
        null,
        null,
        null,
        null,
        null);
  }
}
