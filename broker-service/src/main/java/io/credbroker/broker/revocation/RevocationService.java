package io.credbroker.broker.revocation;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.CredentialQuery;
import io.credbroker.broker.lease.LeaseService;
import io.credbroker.broker.lease.ListSlice;
import io.credbroker.broker.lease.RevocationOutcome;
import io.credbroker.broker.lease.RevocationTrigger;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Revokes a pod or one credential on behalf of an operator, on whichever replica the call arrives.
 *
 * <p>A pod revocation first blocks every UID the broker has seen for that pod name (committed
 * together with the {@code block} notifications, under the advisory lock that pairs with the {@code
 * credential} insert trigger, so no credential can be issued to a blocked UID afterwards), then
 * revokes each still active credential of those UIDs through the lease lifecycle (Vault runs the
 * role's revocation statements: no more logins, sessions terminated, role dropped), then tells the
 * replica holding each credential's stream, and finally writes the audit record. A replacement pod
 * has a new UID and is not affected.
 *
 * <p>Both operations are idempotent: a repeated call revokes nothing new and answers with the same
 * state, except that it asks Vault again for the revocations that still wait for it (Vault was
 * away), so that an operator can make sure the roles are gone as soon as Vault is back. The answer
 * is read back from the state store, so every replica gives the same one.
 *
 * <p>Thread-safe; blocking. The state database and Vault are called on the caller's thread, except
 * that the credentials of a revoked pod are revoked in Vault on a few short-lived threads at once,
 * and the call returns when all of them have ended.
 */
public class RevocationService {

  /** The audit action, and the reason the stream of a credential of a revoked pod ends with. */
  public static final String POD_REVOKED = "POD_REVOKED";

  /** The audit action, and the reason the stream of a single revoked credential ends with. */
  public static final String CREDENTIAL_REVOKED = "CREDENTIAL_REVOKED";

  /** The audit action of lifting a pod's blocks. */
  public static final String POD_UNBLOCKED = "POD_UNBLOCKED";

  /** A bulk revocation that matches more pods than this is refused: the selector is too wide. */
  public static final int MAX_BULK_PODS = 1000;

  /** A bulk revocation that matches more live credentials than this is refused. */
  static final int MAX_BULK_CREDENTIALS = 10_000;

  private static final Logger log = LoggerFactory.getLogger(RevocationService.class);

  /** At most this many of one pod's credentials are revoked in Vault at the same time. */
  private static final int PARALLEL_REVOCATIONS = 8;

  private final RevocationStore store;
  private final LeaseService leases;
  private final RevocationNotifications notifications;
  private final TransactionTemplate transactions;
  private final ReplicaId replicaId;
  private final MeterRegistry meterRegistry;
  private final PodLookup pods;

  public RevocationService(
      RevocationStore store,
      LeaseService leases,
      RevocationNotifications notifications,
      TransactionTemplate transactions,
      ReplicaId replicaId,
      MeterRegistry meterRegistry) {
    this(store, leases, notifications, transactions, replicaId, meterRegistry, PodLookup.none());
  }

  /**
   * @param pods finds the live pod of a name in Kubernetes, so that a pod is blocked (by its UID)
   *     before it has obtained anything
   */
  public RevocationService(
      RevocationStore store,
      LeaseService leases,
      RevocationNotifications notifications,
      TransactionTemplate transactions,
      ReplicaId replicaId,
      MeterRegistry meterRegistry,
      PodLookup pods) {
    this.pods = Objects.requireNonNull(pods, "pods");
    this.store = Objects.requireNonNull(store, "store");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.notifications = Objects.requireNonNull(notifications, "notifications");
    this.transactions = Objects.requireNonNull(transactions, "transactions");
    this.replicaId = Objects.requireNonNull(replicaId, "replicaId");
    this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
  }

  /**
   * Blocks the pod's UIDs and revokes every live credential of them.
   *
   * <p>The UIDs are those the broker has issued to under this name and the UID of the pod of this
   * name that exists now in Kubernetes, so that a pod is blocked before it ever asks (an attacker's
   * copy of its token then obtains nothing). A name is never blocked as such: a later pod of the
   * same name (a StatefulSet's replacement) is another pod and is admitted. A name that neither the
   * broker nor Kubernetes knows is answered 404 rather than recorded, since no token can be bound
   * to a pod that does not exist. When Kubernetes cannot be asked, the UIDs the broker knows are
   * blocked anyway and the outage is logged; with none known the call fails as unavailable (retry).
   *
   * @param actor the operator's Kubernetes user name, for the audit trail
   * @throws BrokerException {@code POD_NOT_FOUND} when neither the broker nor Kubernetes knows a
   *     pod of this name; {@code KUBERNETES_UNAVAILABLE} when the broker knows none and Kubernetes
   *     cannot be asked
   */
  public PodRevocation revokePod(String namespace, String podName, String reason, String actor) {
    List<String> podUids = block(namespace, podName, reason, actor);
    revokeCredentialsOf(namespace, podName, podUids, reason, actor);
    return podRevocation(namespace, podName);
  }

  /**
   * Blocks the pod's UIDs (see {@link #revokePod}) on every replica, and returns them.
   *
   * @throws BrokerException as {@link #revokePod}
   */
  private List<String> block(String namespace, String podName, String reason, String actor) {
    String liveUid;
    BrokerException lookupFailure = null;
    try {
      liveUid = pods.uidOf(namespace, podName).orElse(null);
    } catch (BrokerException e) {
      liveUid = null;
      lookupFailure = e;
      log.warn(
          "Revoking pod {}/{}: Kubernetes cannot be asked for its UID ({}); blocking the UIDs the"
              + " broker knows",
          namespace,
          podName,
          e.reason());
    }
    String live = liveUid;
    BrokerException failure = lookupFailure;
    List<String> podUids =
        Objects.requireNonNull(
            transactions.execute(
                status -> {
                  java.util.SortedSet<String> known =
                      new java.util.TreeSet<>(store.podUidsOf(namespace, podName));
                  if (live != null) {
                    known.add(live);
                  }
                  List<String> uids = List.copyOf(known);
                  if (uids.isEmpty()) {
                    if (failure != null) {
                      throw failure;
                    }
                    throw new BrokerException(
                        Reason.POD_NOT_FOUND,
                        "neither the broker nor Kubernetes knows pod " + namespace + "/" + podName);
                  }
                  // Sorted, so two concurrent revocations lock in the same order.
                  for (String uid : uids) {
                    if (store.block(uid, namespace, podName, reason, actor)) {
                      notifications.publish(new RevocationMessage.PodBlocked(uid));
                    }
                  }
                  return uids;
                }));
    return podUids;
  }

  /** Revokes every live credential of the pod's UIDs, blocked already, and audits it. */
  private void revokeCredentialsOf(
      String namespace, String podName, List<String> podUids, String reason, String actor) {
    List<RevocationOutcome> outcomes = Collections.synchronizedList(new ArrayList<>());
    List<RevocationOutcome> revoked;
    boolean finished = false;
    int retried = 0;
    try {
      revokeAll(store.activeCredentialsOf(podUids), outcomes);
      retried = retryQueued(store.queuedCredentialsOf(podUids));
      finished = true;
    } finally {
      synchronized (outcomes) {
        revoked = new ArrayList<>(outcomes);
      }
      // Also after a failure half-way: what was revoked must be on record.
      audit(finished, actor, POD_REVOKED, namespace, podName, podUids, revoked, reason);
    }
    log.info(
        "{} revoked pod {}/{} (UIDs {}): {} credential(s) revoked now [{}]; {} revocation(s) that"
            + " waited for Vault confirmed now",
        actor,
        namespace,
        podName,
        podUids,
        revoked.size(),
        describe(revoked),
        retried);
  }

  /**
   * Revokes one credential (the pod is not blocked and may obtain a new one).
   *
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} for an unknown id
   */
  public CredentialRevocation revokeCredential(UUID credentialId, String reason, String actor) {
    CredentialSummary credential = find(credentialId);
    List<RevocationOutcome> revoked = new ArrayList<>();
    boolean finished = false;
    try {
      if (credential.active()) {
        revoked.add(revoke(credentialId, CREDENTIAL_REVOKED, "credential"));
      } else {
        retryQueued(List.of(credentialId));
      }
      finished = true;
    } finally {
      audit(
          finished,
          actor,
          CREDENTIAL_REVOKED,
          credential.namespace(),
          credential.podName(),
          credential.podUid() == null ? List.of() : List.of(credential.podUid()),
          revoked,
          reason);
    }
    log.info(
        "{} revoked credential {} ({}): {}",
        actor,
        credentialId,
        credential.username(),
        revoked.isEmpty() ? "it had already ended" : "revoked now");
    CredentialSummary now = find(credentialId);
    return new CredentialRevocation(now, store.queued(Set.of(credentialId)).isEmpty());
  }

  /**
   * Lifts every block of pods of this name, so that those UIDs may obtain credentials again; the
   * credentials revoked stay revoked. Every replica drops the UIDs from its block cache (at the
   * latest after the cache's lifetime), and the lifting is audited.
   *
   * @param actor the operator's Kubernetes user name, for the audit trail
   * @throws BrokerException {@code POD_NOT_BLOCKED} when no pod of this name is blocked
   */
  public PodUnblock unblockPod(String namespace, String podName, String reason, String actor) {
    List<PodBlock> lifted =
        Objects.requireNonNull(
            transactions.execute(
                status -> {
                  List<PodBlock> removed = store.unblock(namespace, podName);
                  if (removed.isEmpty()) {
                    throw new BrokerException(
                        Reason.POD_NOT_BLOCKED,
                        "pod " + namespace + "/" + podName + " is not blocked");
                  }
                  for (PodBlock block : removed) {
                    // Delivered on commit, like the block itself.
                    notifications.publish(new RevocationMessage.PodUnblocked(block.podUid()));
                  }
                  List<String> uids = removed.stream().map(PodBlock::podUid).toList();
                  store.appendAudit(
                      actor,
                      POD_UNBLOCKED,
                      namespace,
                      podName,
                      uids,
                      List.of(),
                      List.of(),
                      reason,
                      replicaId.value());
                  return removed;
                }));
    log.info(
        "{} lifted the block of pod {}/{} (UIDs {})",
        actor,
        namespace,
        podName,
        lifted.stream().map(PodBlock::podUid).toList());
    return new PodUnblock(namespace, podName, lifted);
  }

  /**
   * What a bulk revocation of {@code selector} would end, or ends when {@code dryRun} is false:
   * each pod holding a matching live credential is revoked as {@link #revokePod} does (one audit
   * record each), each matching credential of a token bound to no pod as {@link #revokeCredential}
   * does. Every pod is blocked first, then their credentials are revoked pod after pod; when one
   * fails the call fails, and what was blocked or revoked before stays so and audited (a repeated
   * call revokes the rest; until then, the owners of the credentials left revoke them at their next
   * look, as their pods are blocked).
   *
   * @param reason required unless {@code dryRun}
   * @throws BrokerException {@code INVALID_REQUEST} when more than {@link #MAX_BULK_PODS} pods or
   *     {@link #MAX_BULK_CREDENTIALS} credentials match
   */
  public BulkRevocation revokeMatching(
      RevocationSelector selector, boolean dryRun, @Nullable String reason, String actor) {
    List<CredentialSummary> matching =
        store.search(
            new CredentialQuery(
                selector.namespace(),
                selector.serviceAccount(),
                null,
                selector.databaseRole(),
                null,
                true,
                ListSlice.first(MAX_BULK_CREDENTIALS + 1)));
    if (matching.size() > MAX_BULK_CREDENTIALS) {
      throw new BrokerException(
          Reason.INVALID_REQUEST,
          "more than " + MAX_BULK_CREDENTIALS + " live credentials match; narrow the selection");
    }
    java.util.Map<List<String>, List<CredentialSummary>> byPod = new java.util.LinkedHashMap<>();
    List<CredentialSummary> podless = new ArrayList<>();
    for (CredentialSummary credential : matching) {
      if (credential.podName() == null) {
        podless.add(credential);
      } else {
        byPod
            .computeIfAbsent(
                List.of(credential.namespace(), credential.podName()), key -> new ArrayList<>())
            .add(credential);
      }
    }
    if (byPod.size() > MAX_BULK_PODS) {
      throw new BrokerException(
          Reason.INVALID_REQUEST,
          byPod.size()
              + " pods match, more than "
              + MAX_BULK_PODS
              + " at once; narrow the selection");
    }
    List<BulkRevocation.PodTarget> pods =
        byPod.entrySet().stream()
            .map(
                e ->
                    new BulkRevocation.PodTarget(
                        e.getKey().get(0), e.getKey().get(1), e.getValue()))
            .sorted(
                Comparator.comparing(BulkRevocation.PodTarget::namespace)
                    .thenComparing(BulkRevocation.PodTarget::podName))
            .toList();
    BulkRevocation answer = new BulkRevocation(dryRun, selector, pods, podless);
    if (dryRun) {
      return answer;
    }
    String why = Objects.requireNonNull(reason, "reason");
    log.info(
        "{} revokes {} pod(s) and {} pod-less credential(s) matching {}",
        actor,
        pods.size(),
        podless.size(),
        selector);
    // Every pod is blocked before any is revoked: revoking one pod's credentials waits for Vault,
    // which runs them one at a time per database connection, and a pod late in the list would
    // otherwise go on obtaining credentials for as long as the ones before it took.
    Map<BulkRevocation.PodTarget, List<String>> blocked = new LinkedHashMap<>();
    for (BulkRevocation.PodTarget pod : pods) {
      blocked.put(pod, block(pod.namespace(), pod.podName(), why, actor));
    }
    blocked.forEach(
        (pod, podUids) -> revokeCredentialsOf(pod.namespace(), pod.podName(), podUids, why, actor));
    for (CredentialSummary credential : podless) {
      revokeCredential(credential.id(), why, actor);
    }
    return answer;
  }

  /** The blocks and operator-revoked credentials of pods of this name, as a revocation answers. */
  public PodRevocation podRevocation(String namespace, String podName) {
    Set<UUID> audited = store.auditedCredentialsOf(namespace, podName);
    Set<UUID> queued = store.queued(audited);
    List<RevokedCredential> credentials =
        store.credentials(audited).stream()
            .map(
                c ->
                    new RevokedCredential(
                        c.id(),
                        c.username(),
                        c.databaseRole(),
                        c.podUid(),
                        !queued.contains(c.id())))
            .sorted(Comparator.comparing(RevokedCredential::username))
            .toList();
    return new PodRevocation(namespace, podName, store.blocksOf(namespace, podName), credentials);
  }

  /**
   * Everything the broker knows about pods of this name.
   *
   * @throws BrokerException {@code POD_NOT_FOUND} when it knows nothing
   */
  public PodStatus podStatus(String namespace, String podName, int credentialLimit) {
    List<CredentialSummary> credentials =
        store.search(new CredentialQuery(namespace, podName, null, null, false, credentialLimit));
    List<PodBlock> blocks = store.blocksOf(namespace, podName);
    if (credentials.isEmpty() && blocks.isEmpty()) {
      throw new BrokerException(
          Reason.POD_NOT_FOUND, "the broker has no record of pod " + namespace + "/" + podName);
    }
    return new PodStatus(namespace, podName, blocks, credentials);
  }

  /**
   * @throws BrokerException {@code CREDENTIAL_NOT_FOUND} for an unknown id
   */
  public CredentialSummary find(UUID credentialId) {
    return findCredential(credentialId)
        .orElseThrow(
            () ->
                new BrokerException(
                    Reason.CREDENTIAL_NOT_FOUND, "no credential has the id " + credentialId));
  }

  /** The credential {@code credentialId}, if the broker knows it. */
  public Optional<CredentialSummary> findCredential(UUID credentialId) {
    return store.findCredential(credentialId);
  }

  /**
   * Revokes a revoked pod's credentials at the same time rather than one after the other, so that a
   * revocation Vault is slow to finish (a lock the drop waits for, a busy connection) does not
   * leave the pod's other roles able to log in meanwhile. Each outcome is added to {@code revoked}
   * as soon as it is known; the first failure is thrown once every revocation has ended.
   */
  private void revokeAll(List<UUID> ids, List<RevocationOutcome> revoked) {
    if (ids.isEmpty()) {
      return; // revoked before: nothing left to do
    }
    if (ids.size() == 1) {
      revoked.add(revoke(ids.get(0), POD_REVOKED, "pod"));
      return;
    }
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(ids.size(), PARALLEL_REVOCATIONS),
            DaemonThreads.named("credbroker-pod-revocation"));
    try {
      List<Future<?>> running = new ArrayList<>();
      for (UUID id : ids) {
        running.add(pool.submit(() -> revoked.add(revoke(id, POD_REVOKED, "pod"))));
      }
      RuntimeException failure = null;
      for (Future<?> future : running) {
        try {
          future.get();
        } catch (ExecutionException e) {
          RuntimeException cause =
              e.getCause() instanceof RuntimeException runtime
                  ? runtime
                  : new IllegalStateException(e.getCause());
          if (failure == null) {
            failure = cause;
          } else {
            failure.addSuppressed(cause);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new BrokerException(
              Reason.INTERNAL, "interrupted while revoking the pod's credentials", e);
        }
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      // Revocations still running after an interrupt finish on their own; none is cancelled
      // half-way.
      pool.shutdown();
    }
  }

  /**
   * Asks Vault again, now, for the revocations of these ended credentials that still wait in the
   * queue (Vault was away when they ended): a repeated revocation is how an operator makes sure the
   * roles are gone once Vault is back, rather than waiting for the queue's next attempt. One after
   * the other, as Vault runs them on its connection anyway.
   *
   * @return how many Vault confirmed now
   */
  private int retryQueued(List<UUID> ids) {
    int confirmed = 0;
    for (UUID id : ids) {
      if (leases.retryQueuedRevocation(id)) {
        confirmed++;
      }
    }
    return confirmed;
  }

  private RevocationOutcome revoke(UUID id, String streamReason, String scope) {
    RevocationOutcome outcome = leases.revoke(id, RevocationTrigger.ADMIN);
    // After Vault, so that a client told "revoked" finds its role really gone; also when Vault
    // could not be reached, because the credential is ended either way.
    notifications.publish(new RevocationMessage.CredentialRevoked(id, streamReason));
    Counter.builder("credbroker.admin.revocations")
        .description("Credentials revoked by operators")
        .tag("scope", scope)
        .tag("vault", outcome.revokedInVault() ? "confirmed" : "queued")
        .register(meterRegistry)
        .increment();
    return outcome;
  }

  /**
   * Appends a revocation's audit record: what {@code actor} revoked ({@code action}) and why. When
   * the revocation itself failed ({@code finished} is false) and the state database refuses the
   * record too, the revocation's failure is the one the caller gets (its reason says to retry): the
   * record's failure is logged with what was revoked, instead of hiding it behind a generic error.
   */
  private void audit(
      boolean finished,
      String actor,
      String action,
      String namespace,
      @Nullable String podName,
      List<String> podUids,
      List<RevocationOutcome> revoked,
      String reason) {
    try {
      store.appendAudit(
          actor,
          action,
          namespace,
          podName,
          podUids,
          revoked.stream().map(RevocationOutcome::credentialId).toList(),
          revoked.stream().map(RevocationOutcome::username).toList(),
          reason,
          replicaId.value());
    } catch (RuntimeException e) {
      if (finished) {
        throw e;
      }
      log.warn(
          "A revocation failed half-way and its audit record could not be written either ({});"
              + " revoked before the failure: [{}]",
          e.getClass().getSimpleName(),
          describe(revoked));
    }
  }

  private static String describe(List<RevocationOutcome> revoked) {
    return revoked.stream()
        .map(
            o ->
                o.credentialId()
                    + " ("
                    + o.username()
                    + (o.revokedInVault() ? "" : ", queued")
                    + ")")
        .collect(Collectors.joining(", "));
  }
}
