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
    Instant expireTime) {

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
}
