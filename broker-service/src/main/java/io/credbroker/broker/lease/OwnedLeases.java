package io.credbroker.broker.lease;

import io.credbroker.broker.lease.CredentialStore.Due;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The leases this replica renews, in memory: what {@link FencedRenewals} needs to keep renewing
 * them in Vault while the replica cannot reach its state database. For each credential that this
 * replica owns and renews (a stream credential, renewable, neither capped nor ending): its lease
 * id, what a renewal asks Vault for, when the next renewal is due, the expiry and the limit.
 *
 * <p>Noted where the schedule is written while the state database is reachable: at issue, at a
 * resume, on every look the scheduler takes at a credential ({@link LeaseDecisions#tend}) and at
 * every renewal; forgotten when the credential ends here, is capped or ending, or is found to be
 * another replica's. The state database stays the schedule: this is a copy, which may be stale (a
 * credential resumed on another replica since it was noted here). Renewing a stale lease only
 * extends it, and Vault refuses (400) the renewal of a revoked lease, which is then forgotten;
 * {@link #sweep} drops the entries whose expiry passed without a newer note.
 *
 * <p>Cost: one {@link ConcurrentHashMap} entry per credential. With compressed references about 230
 * bytes: the node (32), the {@link UUID} key (32), the {@link Lease} (64: times are kept as epoch
 * milliseconds, not {@link Instant}s), the lease id (a string of about 50 Latin-1 characters such
 * as {@code database/creds/db1/<24 characters>}: about 90), and the table slot (about 8); measured:
 * 230 bytes per entry over 100,000 entries (JDK 17). 20,000 credentials on one replica take about
 * 4.6 MB.
 *
 * <p>Thread-safe: the workers, the poller, the fenced renewals and the gRPC threads (issue, resume)
 * note and read it concurrently; a credential's own notes come one at a time from the scheduler (it
 * holds a credential in its queue at most once).
 */
final class OwnedLeases {

  /** A time not set, in {@link Lease}'s epoch-millisecond fields. */
  private static final long NONE = Long.MIN_VALUE;

  private final Map<UUID, Lease> leases = new ConcurrentHashMap<>();

  /**
   * What renews one lease. Immutable.
   *
   * @param leaseId Vault's lease id
   * @param ttlMillis what each renewal asks Vault for
   * @param renewalDueMillis when to renew next, or {@link #NONE} when nobody renews it any more
   *     (Vault capped a renewal made while fenced)
   * @param expireMillis when the lease runs out, as last granted
   * @param maxExpireMillis the latest time renewals can reach, or {@link #NONE} when unknown
   * @param renewedWhileFencedMillis when Vault granted {@code expireMillis} to a renewal made while
   *     fenced, not yet recorded in the state database; {@link #NONE} otherwise
   * @param cappedByVault whether Vault capped that renewal at the lease's max TTL
   * @param failures consecutive renewals while fenced that could not reach Vault
   */
  record Lease(
      String leaseId,
      long ttlMillis,
      long renewalDueMillis,
      long expireMillis,
      long maxExpireMillis,
      long renewedWhileFencedMillis,
      boolean cappedByVault,
      int failures) {

    Duration ttl() {
      return Duration.ofMillis(ttlMillis);
    }

    @Nullable Instant renewalDue() {
      return instant(renewalDueMillis);
    }

    Instant expireTime() {
      return Instant.ofEpochMilli(expireMillis);
    }

    @Nullable Instant maxExpireTime() {
      return instant(maxExpireMillis);
    }

    /** When a renewal made while fenced granted {@link #expireTime}, or null when none did. */
    @Nullable Instant renewedWhileFenced() {
      return instant(renewedWhileFencedMillis);
    }

    private static @Nullable Instant instant(long millis) {
      return millis == NONE ? null : Instant.ofEpochMilli(millis);
    }
  }

  /**
   * Notes the credential as its owner just read it: kept when this replica renews it, forgotten
   * otherwise (ended, one-shot, capped, ending, or another replica's).
   */
  void note(LeaseEntry entry, String replica) {
    CredentialRecord record = entry.record();
    Instant renewalDue = entry.renewalDue();
    if (record.state() != CredentialState.ACTIVE
        || record.kind() != CredentialKind.STREAM
        || !entry.renewedByItsOwner()
        || !replica.equals(record.ownerReplica())) {
      forget(record.id());
      return;
    }
    Duration ttl =
        entry.leaseTtl() != null
            ? entry.leaseTtl()
            : Duration.between(record.issueTime(), record.expireTime());
    put(record, ttl, renewalDue, record.expireTime());
  }

  /**
   * Notes a lease that Vault granted until {@code expireTime} and the state database recorded (an
   * issue or a renewal); {@code renewalDue} null when nobody renews it.
   */
  void granted(
      CredentialRecord record, Duration ttl, Instant expireTime, @Nullable Instant renewalDue) {
    if (renewalDue == null) {
      forget(record.id());
    } else {
      put(record, ttl, renewalDue, expireTime);
    }
  }

  private void put(CredentialRecord record, Duration ttl, Instant renewalDue, Instant expire) {
    Instant max = record.maxExpireTime();
    leases.put(
        record.id(),
        new Lease(
            record.leaseId(),
            ttl.toMillis(),
            renewalDue.toEpochMilli(),
            expire.toEpochMilli(),
            max == null ? NONE : max.toEpochMilli(),
            NONE,
            false,
            0));
  }

  /**
   * Notes a renewal made while fenced, unless the entry changed meanwhile.
   *
   * @param renewalDue when to renew next, or {@code null} when Vault capped it
   */
  void renewedWhileFenced(
      UUID id, Lease seen, Instant at, Instant expire, @Nullable Instant renewalDue) {
    long due = renewalDue == null ? NONE : renewalDue.toEpochMilli();
    replace(id, seen, due, expire.toEpochMilli(), at.toEpochMilli(), renewalDue == null, 0);
  }

  /** Notes a renewal while fenced that could not reach Vault, and when to try again. */
  void failedWhileFenced(UUID id, Lease seen, Instant retryAt) {
    replace(
        id,
        seen,
        retryAt.toEpochMilli(),
        seen.expireMillis(),
        seen.renewedWhileFencedMillis(),
        seen.cappedByVault(),
        seen.failures() + 1);
  }

  private void replace(
      UUID id,
      Lease seen,
      long renewalDue,
      long expire,
      long renewedWhileFenced,
      boolean cappedByVault,
      int failures) {
    leases.replace(
        id,
        seen,
        new Lease(
            seen.leaseId(),
            seen.ttlMillis(),
            renewalDue,
            expire,
            seen.maxExpireMillis(),
            renewedWhileFenced,
            cappedByVault,
            failures));
  }

  @Nullable Lease get(UUID id) {
    return leases.get(id);
  }

  void forget(UUID id) {
    leases.remove(id);
  }

  /** Forgets the entry unless it changed since {@code seen} was read. */
  void forget(UUID id, Lease seen) {
    leases.remove(id, seen);
  }

  /** The noted leases whose renewal is due by {@code until}, earliest first. */
  List<Due> dueBy(Instant until) {
    long untilMillis = until.toEpochMilli();
    List<Due> due = new ArrayList<>();
    leases.forEach(
        (id, lease) -> {
          if (lease.renewalDueMillis() != NONE && lease.renewalDueMillis() <= untilMillis) {
            due.add(new Due(id, Instant.ofEpochMilli(lease.renewalDueMillis())));
          }
        });
    due.sort(Comparator.comparing(Due::at));
    return due;
  }

  /**
   * Forgets the leases that ran out without a newer note: while the state database is reachable
   * this replica notes every renewal it makes, so such a lease is no longer renewed here (its
   * credential ended, or another replica keeps it).
   */
  void sweep(Instant now) {
    long nowMillis = now.toEpochMilli();
    leases.values().removeIf(lease -> lease.expireMillis() < nowMillis);
  }

  int size() {
    return leases.size();
  }
}
