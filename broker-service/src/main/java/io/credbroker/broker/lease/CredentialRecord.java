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

  /**
   * A builder with nothing set: the required components must be set before {@link Builder#build}.
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Builds a {@link CredentialRecord} by named components rather than by position; {@link #build}
   * checks them as the constructor does. The optional components (owner replica, max expiry,
   * replaces, detached time, end time and reason, token expiry) default to {@code null}, {@code
   * renewable} to {@code false}.
   */
  public static final class Builder {
    private @Nullable UUID id;
    private @Nullable String databaseRole;
    private @Nullable String vaultMount;
    private @Nullable String vaultRole;
    private @Nullable String leaseId;
    private @Nullable String username;
    private @Nullable PodIdentity owner;
    private @Nullable CredentialKind kind;
    private @Nullable CredentialState state;
    private boolean renewable;
    private @Nullable String ownerReplica;
    private @Nullable Instant issueTime;
    private @Nullable Instant expireTime;
    private @Nullable Instant maxExpireTime;
    private @Nullable UUID replaces;
    private @Nullable Instant detachedTime;
    private @Nullable Instant endTime;
    private @Nullable String endReason;
    private @Nullable Instant tokenExpireTime;

    private Builder() {}

    public Builder id(UUID id) {
      this.id = id;
      return this;
    }

    public Builder databaseRole(String databaseRole) {
      this.databaseRole = databaseRole;
      return this;
    }

    public Builder vaultMount(String vaultMount) {
      this.vaultMount = vaultMount;
      return this;
    }

    public Builder vaultRole(String vaultRole) {
      this.vaultRole = vaultRole;
      return this;
    }

    public Builder leaseId(String leaseId) {
      this.leaseId = leaseId;
      return this;
    }

    public Builder username(String username) {
      this.username = username;
      return this;
    }

    public Builder owner(PodIdentity owner) {
      this.owner = owner;
      return this;
    }

    public Builder kind(CredentialKind kind) {
      this.kind = kind;
      return this;
    }

    public Builder state(CredentialState state) {
      this.state = state;
      return this;
    }

    public Builder renewable(boolean renewable) {
      this.renewable = renewable;
      return this;
    }

    public Builder ownerReplica(@Nullable String ownerReplica) {
      this.ownerReplica = ownerReplica;
      return this;
    }

    public Builder issueTime(Instant issueTime) {
      this.issueTime = issueTime;
      return this;
    }

    public Builder expireTime(Instant expireTime) {
      this.expireTime = expireTime;
      return this;
    }

    public Builder maxExpireTime(@Nullable Instant maxExpireTime) {
      this.maxExpireTime = maxExpireTime;
      return this;
    }

    public Builder replaces(@Nullable UUID replaces) {
      this.replaces = replaces;
      return this;
    }

    public Builder detachedTime(@Nullable Instant detachedTime) {
      this.detachedTime = detachedTime;
      return this;
    }

    public Builder endTime(@Nullable Instant endTime) {
      this.endTime = endTime;
      return this;
    }

    public Builder endReason(@Nullable String endReason) {
      this.endReason = endReason;
      return this;
    }

    public Builder tokenExpireTime(@Nullable Instant tokenExpireTime) {
      this.tokenExpireTime = tokenExpireTime;
      return this;
    }

    /**
     * @throws NullPointerException when a required component is not set
     * @throws IllegalArgumentException when the expiry is before the issue
     */
    public CredentialRecord build() {
      return new CredentialRecord(
          Objects.requireNonNull(id, "id"),
          Objects.requireNonNull(databaseRole, "databaseRole"),
          Objects.requireNonNull(vaultMount, "vaultMount"),
          Objects.requireNonNull(vaultRole, "vaultRole"),
          Objects.requireNonNull(leaseId, "leaseId"),
          Objects.requireNonNull(username, "username"),
          Objects.requireNonNull(owner, "owner"),
          Objects.requireNonNull(kind, "kind"),
          Objects.requireNonNull(state, "state"),
          renewable,
          ownerReplica,
          Objects.requireNonNull(issueTime, "issueTime"),
          Objects.requireNonNull(expireTime, "expireTime"),
          maxExpireTime,
          replaces,
          detachedTime,
          endTime,
          endReason,
          tokenExpireTime);
    }
  }
}
