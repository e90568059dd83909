package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import io.credbroker.devstack.vault.VaultStore.StoredLease;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Vault's expiration manager for secret leases: creation (capped by the mount), renewal with
 * Vault's capping and warning, revocation through the owning engine with Vault's retry backoff (2^n
 * × 10 s ± 50 %, 6 attempts, then irrevocable), lookup and listing.
 *
 * <p>Thread-safe: all state is in the {@link VaultStore}; {@link #revokeDue} is called by the
 * server's expiry timer and may run beside request threads.
 */
final class LeaseManager {

  private static final Logger log = LoggerFactory.getLogger(LeaseManager.class);
  static final int MAX_REVOKE_ATTEMPTS = 6;

  /** Finds the engine and mount that own a mount path. */
  interface Engines {
    @Nullable MountedEngine find(String mountPath);
  }

  record MountedEngine(Mount mount, SecretsEngine engine) {}

  private final VaultStore store;
  private final Engines engines;
  private final Clock clock;

  /** Runs an expiry pass soon, on the expiry timer's thread; set by the server. */
  private volatile Runnable expirySoon = () -> {};

  LeaseManager(VaultStore store, Engines engines, Clock clock) {
    this.store = store;
    this.engines = engines;
    this.clock = clock;
  }

  LeaseRecord register(
      EngineRequest request, Mount mount, Duration ttl, Duration maxTtl, JsonNode engineData) {
    Duration max =
        maxTtl.isZero() || maxTtl.compareTo(mount.effectiveMaxTtl()) > 0
            ? mount.effectiveMaxTtl()
            : maxTtl;
    Duration granted = ttl.isZero() ? mount.effectiveDefaultTtl() : ttl;
    if (granted.compareTo(max) > 0) {
      granted = max;
    }
    Instant now = clock.instant();
    String requestPath = request.path();
    LeaseRecord lease =
        new LeaseRecord(
            mount.path() + requestPath + "/" + Ids.base62(24),
            mount.path(),
            requestPath,
            now,
            now.plus(granted),
            null,
            true,
            request.token().accessor(),
            engineData);
    store.insertLease(lease);
    return lease;
  }

  /** {@code sys/leases/renew}. */
  VaultResponse renew(String leaseId, Duration increment) {
    if (leaseId.isEmpty()) {
      throw VaultException.badRequest("lease_id must be specified");
    }
    if (leaseId.startsWith("auth/")) {
      throw VaultException.badRequest("tokens cannot be renewed through this endpoint");
    }
    StoredLease stored =
        store.lease(leaseId).orElseThrow(() -> VaultException.badRequest("lease not found"));
    if (stored.irrevocable()) {
      throw VaultException.badRequest(
          "lease is expired and has failed previous revocation attempts");
    }
    LeaseRecord lease = stored.lease();
    Instant now = clock.instant();
    if (!lease.expireTime().isAfter(now)) {
      throw VaultException.badRequest("lease expired");
    }
    if (!lease.renewable()) {
      throw VaultException.badRequest("lease is not renewable");
    }
    MountedEngine owner = engines.find(lease.mountPath());
    if (owner == null) {
      throw VaultException.badRequest(
          "failed to renew entry: resp: (*logical.Response)(nil) err: no backend for lease");
    }
    RenewalGrant grant;
    try {
      grant = owner.engine().renewalGrant(lease, increment);
    } catch (VaultException e) {
      throw renewFailed(e);
    }
    Mount mount = owner.mount();
    Duration max =
        grant.maxTtl().isZero() || grant.maxTtl().compareTo(mount.effectiveMaxTtl()) > 0
            ? mount.effectiveMaxTtl()
            : grant.maxTtl();
    Duration def = grant.ttl().isZero() ? mount.effectiveDefaultTtl() : grant.ttl();
    // As in Vault, the backend moves the credential's expiry by its own calculation first
    // (secretCredsRenew), then the core calculates the lease's TTL when the backend has
    // answered (RenewLease in vault/expiration.go); lease_duration is that TTL exactly.
    TtlCalculator.Result planned =
        TtlCalculator.renew(Duration.ZERO, def, max, lease.issueTime(), now);
    try {
      owner.engine().applyRenewal(lease, now.plus(planned.ttl()));
    } catch (VaultException e) {
      throw renewFailed(e);
    }
    now = clock.instant();
    TtlCalculator.Result result =
        TtlCalculator.renew(Duration.ZERO, def, max, lease.issueTime(), now);
    Instant newExpire = now.plus(result.ttl());
    store.renewLease(leaseId, newExpire, now);
    LeaseRecord renewed =
        new LeaseRecord(
            lease.leaseId(),
            lease.mountPath(),
            lease.requestPath(),
            lease.issueTime(),
            newExpire,
            now,
            lease.renewable(),
            lease.tokenAccessor(),
            lease.engineData());
    List<String> warnings = result.warning() == null ? List.of() : List.of(result.warning());
    return new VaultResponse(200, null, renewed, warnings, null);
  }

  /** Vault wraps any backend error on renewal into one 400 that quotes it. */
  private static VaultException renewFailed(VaultException backendError) {
    return VaultException.badRequest(
        "failed to renew entry: resp: (*logical.Response)(nil) err: "
            + String.join("; ", backendError.errors()));
  }

  /**
   * Revokes one lease now through its engine and deletes it. Unknown ids succeed (idempotent).
   *
   * @throws VaultException 400 {@code failed to revoke entry: ...} when the engine fails; the lease
   *     stays unchanged and is revoked (with retries) when it expires
   */
  void revokeNow(String leaseId) {
    StoredLease stored = store.lease(leaseId).orElse(null);
    if (stored == null) {
      return;
    }
    String error = tryRevoke(stored.lease());
    if (error != null) {
      // Vault's revokeCommon returns the backend's error and leaves the entry as it was: same
      // expiry, no attempt counted; its own expiry (and the retries from then on) still apply.
      throw VaultException.badRequest(
          "failed to revoke entry: resp: (*logical.Response)(nil) err: " + error);
    }
  }

  /** How to have the expiry timer make a pass at once, as Vault's pending timers fire at once. */
  void onLeasesDue(Runnable expirySoon) {
    this.expirySoon = expirySoon;
  }

  /** Queues a lease for revocation by the expiry timer (Vault's {@code sync:false}). */
  void revokeLater(String leaseId) {
    store.expireLeaseNow(leaseId, clock.instant());
    expirySoon.run();
  }

  /**
   * The leases a prefix names, as Vault's {@code revokePrefixCommon} reads it: a prefix without a
   * trailing slash is one lease of exactly that id if there is one, else the path segment (so
   * {@code database/creds/app} does not take the leases of {@code database/creds/app2}).
   */
  private List<StoredLease> leasesUnder(String prefix) {
    if (prefix.endsWith("/")) {
      return store.leasesWithPrefix(prefix);
    }
    Optional<StoredLease> exact = store.lease(prefix);
    return exact.isPresent() ? List.of(exact.get()) : store.leasesWithPrefix(prefix + "/");
  }

  /** {@code revoke-prefix}: revokes every lease under the prefix, stopping at the first failure. */
  void revokePrefix(String prefix, boolean sync) {
    for (StoredLease l : leasesUnder(prefix)) {
      if (sync) {
        revokeNow(l.lease().leaseId());
      } else {
        revokeLater(l.lease().leaseId());
      }
    }
  }

  /** {@code revoke-force}: tries the engine, ignores its errors, deletes the leases. */
  void revokeForce(String prefix) {
    for (StoredLease l : leasesUnder(prefix)) {
      String error = tryRevoke(l.lease());
      if (error != null) {
        log.warn(
            "revoke-force: engine failed for {}, deleting it anyway: {}",
            l.lease().leaseId(),
            error);
        store.deleteLease(l.lease().leaseId());
      }
    }
  }

  /** Revokes every lease a token created; failures are left to the timer's retries. */
  void revokeAllOfToken(String accessor) {
    // Vault's RevokeByToken marks each lease expired and hands it to the expiration manager's
    // timers, which revoke it in the background: the token's revocation does not wait for the
    // database's revocation statements, and the leases outlive it briefly.
    Instant now = clock.instant();
    List<String> ids = store.leaseIdsOfToken(accessor);
    for (String id : ids) {
      store.expireLeaseNow(id, now);
    }
    if (!ids.isEmpty()) {
      expirySoon.run();
    }
  }

  /** {@code sys/leases/lookup}. */
  VaultResponse lookup(String leaseId) {
    if (leaseId.isEmpty()) {
      throw VaultException.badRequest("lease_id must be specified");
    }
    StoredLease stored =
        store.lease(leaseId).orElseThrow(() -> VaultException.badRequest("invalid lease"));
    LeaseRecord l = stored.lease();
    ObjectNode data = Json.MAPPER.createObjectNode();
    data.put("expire_time", VaultClock.format(l.expireTime()));
    data.put("id", l.leaseId());
    data.put("issue_time", VaultClock.format(l.issueTime()));
    if (l.lastRenewal() == null) {
      data.putNull("last_renewal");
    } else {
      data.put("last_renewal", VaultClock.format(l.lastRenewal()));
    }
    data.put("renewable", l.renewable());
    data.put("ttl", l.ttlSeconds(clock.instant()));
    return VaultResponse.data(data);
  }

  /** {@code LIST sys/leases/lookup/<prefix>/}: the next level of keys, 404 when empty. */
  VaultResponse list(String prefix) {
    TreeSet<String> keys = new TreeSet<>();
    for (StoredLease l : store.leasesWithPrefix(prefix)) {
      String rest = l.lease().leaseId().substring(prefix.length());
      int slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.substring(0, slash + 1));
    }
    if (keys.isEmpty()) {
      throw VaultException.notFound();
    }
    ObjectNode data = Json.MAPPER.createObjectNode();
    keys.forEach(data.putArray("keys")::add);
    return VaultResponse.data(data);
  }

  /** {@code GET sys/leases?type=irrevocable} data. */
  VaultResponse irrevocable() {
    ObjectNode data = Json.MAPPER.createObjectNode();
    var arr = data.putArray("leases");
    List<StoredLease> leases = store.irrevocableLeases();
    for (StoredLease l : leases) {
      ObjectNode n = arr.addObject();
      n.put("lease_id", l.lease().leaseId());
      n.put("mount_id", l.lease().mountPath());
      n.put("error", l.revokeError());
      n.put("expire_time", VaultClock.format(l.lease().expireTime()));
    }
    data.put("lease_count", leases.size());
    return VaultResponse.data(data);
  }

  /** One pass of the expiry timer: revoke what is due, record failures with backoff. */
  int revokeDue() {
    Instant now = clock.instant();
    List<StoredLease> due = store.dueLeases(now, 200);
    int revoked = 0;
    for (StoredLease l : due) {
      String error = tryRevoke(l.lease());
      if (error == null) {
        revoked++;
      } else {
        recordFailure(l, error);
      }
    }
    return revoked;
  }

  /** Revokes through the engine and deletes the row; returns the error text or null. */
  private @Nullable String tryRevoke(LeaseRecord lease) {
    MountedEngine owner = engines.find(lease.mountPath());
    try {
      if (owner != null) {
        owner.engine().revoke(lease);
      }
      // A lease whose mount is gone has nothing left to revoke (Vault drops it the same way).
      store.deleteLease(lease.leaseId());
      return null;
    } catch (VaultException e) {
      return String.join("; ", e.errors()).strip();
    } catch (RuntimeException e) {
      return String.valueOf(e.getMessage());
    }
  }

  private void recordFailure(StoredLease l, String error) {
    int attempts = l.revokeAttempts() + 1;
    if (attempts >= MAX_REVOKE_ATTEMPTS) {
      log.warn(
          "lease {} is irrevocable after {} attempts: {}", l.lease().leaseId(), attempts, error);
      store.recordRevokeFailure(l.lease().leaseId(), attempts, null, true, error);
      return;
    }
    Duration backoff = backoff(attempts);
    log.info(
        "revoking lease {} failed (attempt {}), retrying in {}: {}",
        l.lease().leaseId(),
        attempts,
        backoff,
        error);
    store.recordRevokeFailure(
        l.lease().leaseId(), attempts, clock.instant().plus(backoff), false, error);
  }

  /** Vault's revocation backoff: 2^attempt × 10 s, ± 50 %. */
  static Duration backoff(int attempt) {
    long base = (1L << attempt) * 10_000L;
    double factor = 0.5 + ThreadLocalRandom.current().nextDouble();
    return Duration.ofMillis((long) (base * factor));
  }
}
