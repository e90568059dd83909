/**
 * Credentials and their leases through their whole life: issuing a pod's PostgreSQL role from
 * Vault, renewing, rotating, resuming and ending it on one shared scheduler, the persisted
 * revocation retry queue, and the state store that records every lease (never a password). This
 * package owns the tables {@code credential} and {@code revocation_retry}.
 *
 * <h2>Vocabulary</h2>
 *
 * <p>A <em>credential</em> is what a pod holds: one PostgreSQL role, one row of {@code credential}.
 * Its <em>lease</em> is Vault's side of it (the {@code lease_id} that is renewed and revoked).
 * Classes named {@code Lease*} work on the schedule that keeps leases alive; classes named {@code
 * Credential*} hold or hand out credentials.
 *
 * <p>Revocation has two sides. This package says how a credential ends, whoever asked: {@link
 * io.credbroker.broker.lease.RevocationTrigger} (why: release, rotation, abandoned, expired, an
 * operator, pod deleted, unbound), {@link io.credbroker.broker.lease.RevocationOutcome} (what
 * {@link io.credbroker.broker.lease.LeaseService#revoke} did), {@code
 * RevocationRetryQueue.PendingRevocation} (a row of {@code revocation_retry} a worker retries),
 * {@link io.credbroker.broker.lease.QueuedRevocation} (the same row as operators list it) and
 * {@link io.credbroker.broker.lease.CredentialRevokedEvent} (the in-process signal that ends the
 * stream holding it). The package {@code revocation} says who asked and tells the other replicas:
 * its types are the answers to an operator's calls ({@code CredentialRevocation}, {@code
 * PodRevocation}, {@code BulkRevocation}, each listing {@code RevokedCredential}s) and the {@code
 * NOTIFY} payload between replicas ({@code RevocationMessage}). The split follows the layering:
 * {@code revocation} calls {@code lease}, never the other way.
 *
 * <p>Every write to {@code credential} goes through {@link
 * io.credbroker.broker.lease.CredentialStore} (the schedule's conditional writes, the issue, the
 * deletion of ended credentials); what is only read, by operators, other packages and the gauges,
 * goes through {@link io.credbroker.broker.lease.CredentialQueries}. Both select and map rows the
 * same way ({@code CredentialRows}).
 *
 * <h2>The credential's life</h2>
 *
 * <p>The column {@code state} is {@code ACTIVE} until the credential ends, then {@code RELEASED},
 * {@code REVOKED} or {@code EXPIRED} ({@link
 * io.credbroker.broker.lease.RevocationTrigger#endState}). While it is {@code ACTIVE}, where it is
 * in its life is read from the schedule's columns (the gauge {@code credbroker.credentials.live}
 * counts the same phases):
 *
 * <table>
 *   <caption>Phases of an active credential</caption>
 *   <tr><th>phase</th><th>columns</th></tr>
 *   <tr><td>attached</td><td>{@code kind = 'STREAM'}, {@code stream_id} set, {@code
 *       detached_time} and {@code revoke_after} null</td></tr>
 *   <tr><td>detached (in its reconnect grace)</td><td>{@code detached_time} set, {@code
 *       revoke_after} null</td></tr>
 *   <tr><td>ending (replaced by a rotation, its pod deleted, its binding gone)</td><td>{@code
 *       revoke_after} and {@code revoke_trigger} set, {@code renewal_due_time} null</td></tr>
 *   <tr><td>one-shot</td><td>{@code kind = 'ONE_SHOT'}: never renewed, revoked when it runs
 *       out</td></tr>
 * </table>
 *
 * <p>What each column drives:
 *
 * <ul>
 *   <li>{@code owner_replica}: the replica that tends it; only the owner's conditional writes
 *       ({@code owner_replica = me AND state = 'ACTIVE'}) change its schedule. Set at issue, by a
 *       resume ({@link io.credbroker.broker.lease.CredentialStore#attach}) and by a takeover of a
 *       dead replica's credentials ({@link io.credbroker.broker.lease.DeadReplicaClaims}, which the
 *       replica's heartbeat runs).
 *   <li>{@code next_action_time}: the schedule itself. The owner's poller loads the rows due within
 *       two poll intervals; each decision writes the next one (the earliest of the renewal due,
 *       {@code revoke_after}, the end of the reconnect grace and the expiry). Null once ended.
 *   <li>{@code renewal_due_time}: when the owner renews the lease next (after a failed renewal:
 *       when it tries again). Null when nobody renews it: one-shot, capped by Vault's max TTL,
 *       replaced, ending.
 *   <li>{@code revoke_after} (with {@code revoke_trigger}): when the owner revokes it, and for
 *       what. A credential with one cannot be resumed.
 *   <li>{@code expiry_granted_to_owner}: whether {@code expire_time} is what Vault granted to the
 *       owner's own issue or recorded renewal since a resume last brought the credential there (a
 *       resume clears it; a takeover clears {@code stream_id}). Only then, with its stream
 *       attached, does a passed {@code expire_time} tell that the lease is gone in Vault: the owner
 *       replaces the credential without the renewal Vault would refuse ({@link
 *       io.credbroker.broker.lease.LeaseEntry#knownExpired}), and its scheduler serves such
 *       renewals after those that can still succeed.
 *   <li>{@code detached_time}: when the stream that held it ended without a release; the owner
 *       revokes it ({@code ABANDONED}) once the reconnect grace after it is over, unless a stream
 *       resumes it first. While the cluster turns clients away for load (any replica's {@code
 *       replica.refused_time}, see {@code ClusterRefusals}) the grace also counts from the last
 *       refusal, up to {@code credbroker.lease.reconnect-grace-limit} after the detach: time in
 *       which the pod could not get in is not time it had to come back.
 * </ul>
 *
 * <table>
 *   <caption>Transitions</caption>
 *   <tr><th>from</th><th>event</th><th>to</th><th>written by ({@code CredentialStore} unless named)</th></tr>
 *   <tr><td>(none)</td><td>issue</td><td>attached or one-shot</td><td>{@code insert}</td></tr>
 *   <tr><td>attached, detached</td><td>renewal due</td><td>same</td><td>{@code recordRenewal},
 *       or {@code recordRenewalFailure} (Vault unreachable: backoff)</td></tr>
 *   <tr><td>attached</td><td>capped, max TTL or token death near, renewal refused, lease known to
 *       have run out</td><td>ending
 *       ({@code EXPIRED} at its expiry), a new credential attached</td><td>{@code
 *       supersede}</td></tr>
 *   <tr><td>ending (replaced)</td><td>the stream ended during the rotation</td><td>detached</td>
 *       <td>{@code restoreSuperseded}</td></tr>
 *   <tr><td>ending (replaced)</td><td>the client acknowledges the new one</td><td>ending ({@code
 *       ROTATION}, after the drain grace)</td><td>{@code scheduleReplacedRevocation}</td></tr>
 *   <tr><td>attached</td><td>stream ends without a release</td><td>detached</td><td>{@code
 *       detachStream}</td></tr>
 *   <tr><td>detached</td><td>resume on any replica</td><td>attached</td><td>{@code
 *       attach}</td></tr>
 *   <tr><td>any, of a dead replica</td><td>takeover</td><td>detached (streams), owner
 *       changed</td><td>{@link io.credbroker.broker.lease.DeadReplicaClaims#claim}, run by the
 *       replica's heartbeat</td></tr>
 *   <tr><td>any</td><td>pod deleted</td><td>ending ({@code POD_DELETED}, after the drain
 *       grace)</td><td>{@code endRenewalsOfPod}</td></tr>
 *   <tr><td>any</td><td>binding removed</td><td>ending ({@code UNBOUND}, after the drain
 *       grace)</td><td>{@code endRenewalsUnbound}</td></tr>
 *   <tr><td>any</td><td>{@code revoke_after} reached, reconnect grace over, run out, release,
 *       operator revocation</td><td>{@code RELEASED}, {@code REVOKED} or {@code EXPIRED}, and a
 *       {@code revocation_retry} row</td><td>{@code endAndQueue}</td></tr>
 * </table>
 *
 * <h2>While the state database is unreachable</h2>
 *
 * <p>From the moment the replica fences itself ({@code ReplicaFencingEvent}: it could not write its
 * heartbeat for {@code credbroker.cluster.self-fence-after}) until it writes one again, nothing
 * above happens on it: the schedule cannot be loaded, and no transition can be written. Only
 * renewals go on: {@link io.credbroker.broker.lease.FencedRenewals} renews in Vault, at their
 * renewal times, the leases noted in memory ({@link io.credbroker.broker.lease.OwnedLeases}: the
 * credentials this replica renewed when it lost the database, about 230 bytes each), and drops a
 * lease Vault refuses. It never revokes, rotates or writes, so it cannot undo what a replica that
 * claimed a credential meanwhile decided; a renewal only extends a lease that exists. Back, the
 * first {@code tend} of each credential records what Vault granted ({@code recordRenewal}) before
 * it decides anything on the row's expiry, and a row whose expiry passed while it is still renewed
 * (claimed from a replica that renewed it while fenced) is renewed in Vault, not revoked, unless
 * Vault refuses.
 *
 * <p>A {@code revocation_retry} row is written in the statement that ends the credential and
 * deleted only when Vault confirms the revocation: by {@link
 * io.credbroker.broker.lease.LeaseService#revoke}, or later by any replica's {@link
 * io.credbroker.broker.lease.RevocationRetryWorker}. Confirmations are deleted in batches ({@link
 * io.credbroker.broker.lease.RevocationRetryQueue#confirmed}): a confirmed row stays at most until
 * the next retry pass, a claim lease away from any replica's attempt, and one left by a crash is
 * revoked once more, which Vault takes as done.
 *
 * <h2>Threads, and the order they stop in</h2>
 *
 * <table>
 *   <caption>Threads of the lease core</caption>
 *   <tr><th>thread</th><th>class</th><th>does</th><th>stops</th></tr>
 *   <tr><td>{@code lease-reconcile}</td><td>{@link io.credbroker.broker.lease.LeaseReconciler}</td>
 *       <td>revokes leases no record knows</td><td>lifecycle phase {@code DEFAULT_PHASE}, with
 *       the gRPC server</td></tr>
 *   <tr><td>{@code lease-poller}</td><td>{@link io.credbroker.broker.lease.LeaseKeeper}</td>
 *       <td>loads due credentials, starts retry passes, refreshes the gauges</td><td>phase {@code
 *       DEFAULT_PHASE - 1024}: after the servers, so leases stay renewed while streams
 *       drain</td></tr>
 *   <tr><td>{@code lease-dispatcher}</td><td>{@code LeaseKeeper}</td><td>hands due credentials to
 *       the workers</td><td>same phase (interrupted)</td></tr>
 *   <tr><td>{@code lease-worker-N}</td><td>{@code LeaseKeeper}</td><td>{@link
 *       io.credbroker.broker.lease.LeaseDecisions#tend} and retry passes</td><td>same phase (5 s
 *       for work in progress)</td></tr>
 *   <tr><td>{@code lease-fenced-renewal}</td><td>{@code LeaseKeeper}</td><td>while the replica
 *       is fenced: {@link io.credbroker.broker.lease.FencedRenewals}, every poll interval; idle
 *       otherwise (its own thread, as the poller and workers may be blocked on a state database that
 *       does not answer)</td><td>same phase (interrupted)</td></tr>
 *   <tr><td>{@code stream-detach} (0 or 1)</td><td>{@link
 *       io.credbroker.broker.lease.LeaseService}</td><td>writes detachments of ended
 *       streams</td><td>when the context closes, after every lifecycle stopped: {@code close()}
 *       writes what is still queued</td></tr>
 *   <tr><td>{@code unbound-credential-sweep}</td><td>{@code LeaseConfiguration}</td><td>one pass
 *       once the broker is ready</td><td>ends by itself (daemon)</td></tr>
 * </table>
 *
 * <p>Every one is a daemon made by {@link io.credbroker.broker.DaemonThreads}, named as above. The
 * replica's heartbeat ({@code ReplicaHeartbeat}, phase {@code DEFAULT_PHASE - 2048}) stops last, so
 * that no other replica claims this one's credentials while it still renews them; the replica is
 * recorded as stopped when the context closes.
 */
@NullMarked
package io.credbroker.broker.lease;

import org.jspecify.annotations.NullMarked;
