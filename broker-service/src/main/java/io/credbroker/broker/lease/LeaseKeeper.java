package io.credbroker.broker.lease;

import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore.Due;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The scheduler that keeps this replica's credentials alive and ends them on time: it runs {@link
 * LeaseDecisions#tend} for each credential when it is due (renew at about 2/3 of the lifetime,
 * rotate before Vault's max TTL or the creating token's death, revoke what was replaced, abandoned
 * or ran out, end what lost its pod or binding). Its workers also run the {@link
 * RevocationRetryWorker} (the persisted revocation retry queue, for the whole cluster), and its
 * poller refreshes the {@link LeaseGauges}.
 *
 * <p>Cost per credential: about 230 bytes in memory ({@link OwnedLeases}: what it takes to renew
 * the lease while the state database is unreachable, see {@link #fenced}), and nothing else until
 * it is due soon. The state store is the schedule ({@code next_action_time}); every {@code
 * pollInterval} one thread loads this replica's credentials due within two intervals into a {@link
 * DelayQueue} ordered by due time, one dispatcher thread takes them when due and hands them to a
 * small fixed pool of workers, earliest due first, except that a renewal whose lease is known to
 * have run out waits behind the others (see {@link #dispatch}). A credential is in the queue at
 * most once. Every decision is taken on a fresh read of its row, and every write is conditional on
 * this replica still owning the live credential, so a resume or failover elsewhere wins cleanly.
 *
 * <p>Thread-safe. Lifecycle: started and stopped by Spring ({@link SmartLifecycle}); stopping waits
 * briefly for work in progress.
 */
public final class LeaseKeeper implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);
  private static final int GAUGE_EVERY_POLLS = 5;

  private final CredentialStore store;
  private final String replica;
  private final Clock clock;
  private final BrokerProperties.Lease settings;
  private final LeaseDecisions decisions;
  private final LeaseGauges gauges;
  private final RevocationRetryWorker retryWorker;
  private final OwnedLeases owned;
  private final FencedRenewals fencedRenewals;

  private final DelayQueue<Scheduled> queue = new DelayQueue<>();

  private final Set<UUID> queued = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean retryRunning = new AtomicBoolean();
  private final AtomicInteger polls = new AtomicInteger();
  private final Semaphore permits;

  private volatile boolean running;

  /** Whether this replica fenced itself: see {@link #fenced(boolean)}. */
  private volatile boolean fenced;

  private @Nullable ScheduledExecutorService poller;
  private @Nullable ExecutorService workers;
  private @Nullable Thread dispatcher;
  private @Nullable ScheduledExecutorService fencedRenewer;

  public LeaseKeeper(
      CredentialStore store,
      CredentialQueries credentials,
      LeaseService leases,
      VaultDatabaseCredentials vault,
      RevocationRetryQueue retryQueue,
      Bindings bindings,
      CredentialStreams streams,
      ReplicaId replicaId,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics) {
    this(
        store,
        credentials,
        leases,
        vault,
        retryQueue,
        bindings,
        streams,
        replicaId,
        clock,
        settings,
        metrics,
        DepartedPods.none(),
        PodAdmission.admitAll(),
        new OwnedLeases(),
        new ClusterRefusals(clock));
  }

  /**
   * @param departedPods the pods known to be gone, whose credentials are ended rather than renewed
   * @param admission the pods operators blocked, whose credentials are revoked at their next look
   *     (a revocation that failed half-way left them)
   * @param owned the leases noted for renewals while fenced, shared with {@link LeaseService}
   * @param refusals when the cluster last refused a call for load: a detached credential's grace
   *     also counts from then ({@link LeaseDecisions})
   */
  LeaseKeeper(
      CredentialStore store,
      CredentialQueries credentials,
      LeaseService leases,
      VaultDatabaseCredentials vault,
      RevocationRetryQueue retryQueue,
      Bindings bindings,
      CredentialStreams streams,
      ReplicaId replicaId,
      Clock clock,
      BrokerProperties.Lease settings,
      LeaseMetrics metrics,
      DepartedPods departedPods,
      PodAdmission admission,
      OwnedLeases owned,
      ClusterRefusals refusals) {
    this.store = Objects.requireNonNull(store, "store");
    this.replica = replicaId.value();
    this.clock = Objects.requireNonNull(clock, "clock");
    this.settings = Objects.requireNonNull(settings, "settings");
    if (!positive(settings.pollInterval()) || !positive(settings.reconnectGrace())) {
      throw new IllegalArgumentException(
          "credbroker.lease.poll-interval and reconnect-grace must be positive");
    }
    // The dispatcher hands out at most this many tasks before workers finish some, so a burst of
    // due
    // credentials waits in the delay queue (ordered) rather than in an unbounded executor queue.
    this.permits = new Semaphore(settings.workers() * 2);
    this.decisions =
        new LeaseDecisions(
            store,
            leases,
            vault,
            bindings,
            streams,
            replica,
            clock,
            settings,
            metrics,
            departedPods,
            admission,
            owned,
            refusals);
    this.owned = owned;
    this.fencedRenewals = new FencedRenewals(owned, vault, leases, clock, settings, metrics);
    this.retryWorker = new RevocationRetryWorker(retryQueue, vault, clock, settings, metrics);
    this.gauges = new LeaseGauges(credentials, retryQueue, replica, clock, metrics.registry());
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    running = true;
    workers =
        Executors.newFixedThreadPool(settings.workers(), DaemonThreads.numbered("lease-worker-"));
    poller = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("lease-poller"));
    long interval = settings.pollInterval().toMillis();
    poller.scheduleWithFixedDelay(this::poll, 0, interval, TimeUnit.MILLISECONDS);
    // A thread of its own: the poller and the workers may be blocked for the whole outage on a
    // state database that does not answer (a partition: nothing comes back, nothing times out).
    fencedRenewer =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("lease-fenced-renewal"));
    fencedRenewer.scheduleWithFixedDelay(
        this::renewWhileFenced, interval, interval, TimeUnit.MILLISECONDS);
    Thread thread = DaemonThreads.named("lease-dispatcher").newThread(this::dispatch);
    dispatcher = thread;
    thread.start();
  }

  @Override
  public synchronized void stop() {
    running = false;
    if (poller != null) {
      poller.shutdownNow();
    }
    if (fencedRenewer != null) {
      fencedRenewer.shutdownNow();
    }
    if (dispatcher != null) {
      dispatcher.interrupt();
    }
    if (workers != null) {
      workers.shutdown();
      try {
        if (!workers.awaitTermination(5, TimeUnit.SECONDS)) {
          workers.shutdownNow();
        }
      } catch (InterruptedException e) {
        workers.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    retryWorker.deleteConfirmed();
    queue.clear();
    queued.clear();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  /**
   * A lower phase than the servers': started before them and stopped after them, so leases stay
   * renewed while streams drain at shutdown.
   */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 1024;
  }

  /**
   * Whether this replica fenced itself ({@code ReplicaFencingEvent}: it could not write its
   * heartbeat for self-fence-after, so its state database is taken as unreachable) or serves again.
   * While fenced the scheduler touches no state database: it renews in Vault, at their renewal
   * times, the leases it noted in memory ({@link FencedRenewals}), and nothing else. Once it serves
   * again the state database's schedule takes over, and the first look at each credential records
   * what Vault granted meanwhile.
   */
  public void fenced(boolean fenced) {
    if (this.fenced == fenced) {
      return;
    }
    this.fenced = fenced;
    if (fenced) {
      log.warn(
          "State database unreachable: renewing the {} leases noted in memory in Vault; no"
              + " revocation, rotation or write until it is back",
          owned.size());
    } else {
      log.info("State database reachable again: its schedule takes over the renewals");
    }
  }

  /** Loads the credentials due soon; occasionally works the retry queue and refreshes gauges. */
  private void poll() {
    try {
      if (fenced) {
        // Nothing to load, work or count: the renewals go on from memory (renewWhileFenced).
        return;
      }
      Instant now = clock.instant();
      Instant horizon = now.plus(settings.pollInterval().multipliedBy(2));
      for (Due due : store.dueBy(replica, now, horizon, settings.batchSize())) {
        enqueue(due.id(), due.at(), due.expiry());
      }
      if (retryRunning.compareAndSet(false, true)) {
        submit(
            () -> {
              try {
                retryWorker.workRetryQueue();
              } finally {
                retryRunning.set(false);
              }
            });
      }
      if (polls.getAndIncrement() % GAUGE_EVERY_POLLS == 0) {
        refreshGauges();
        endStreamsGoneFromHere();
        owned.sweep(clock.instant());
      }
    } catch (RuntimeException e) {
      log.warn("Loading due leases failed; trying again at the next poll", e);
    }
  }

  /**
   * Ends the streams here whose credentials another replica keeps now or that ended elsewhere, as
   * the poller does every few polls.
   */
  void endStreamsGoneFromHere() {
    decisions.endStreamsGoneFromHere();
  }

  /** Refreshes the gauges now, as the poller does every few polls. */
  void refreshGauges() {
    gauges.refresh();
  }

  /** While fenced: renews the leases noted in memory whose renewal is due ({@link #fenced}). */
  void renewWhileFenced() {
    try {
      fencedRenewals.renewDue(() -> fenced && !Thread.currentThread().isInterrupted());
    } catch (RuntimeException e) {
      log.warn("Renewing leases while fenced failed; trying again shortly", e);
    }
  }

  private void enqueue(UUID id, Instant at, @Nullable Instant expiry) {
    if (running && queued.add(id)) {
      queue.offer(new Scheduled(id, at, expiry, clock));
    }
  }

  /**
   * Hands due credentials to the workers, one whenever a worker can take it, choosing it only then:
   * the earliest due of those whose lease is not known to have run out, and only when there is
   * none, the earliest due of those whose lease is.
   *
   * <p>Why. Vault serialises its work on a database connection, so it completes a fixed number of
   * renewals a second; when more are due than that (more credentials than {@code ceiling x 0.66 x
   * TTL} on one connection) the queue grows and the renewals run later and later. Earliest due
   * first alone then fails as deadline scheduling fails under overload (a domino effect): the
   * renewals at the head are the ones whose leases ran out while they waited, each costs Vault as
   * much as one that could still succeed and is refused, the rotation it leads to costs Vault a
   * creation, and meanwhile the next leases run out too, until no renewal succeeds at all. Served
   * after the others, a lease that has run out costs nothing while renewals that can still succeed
   * wait: as many leases as Vault can renew stay alive, and the rotations use what Vault has left.
   * A lease already gone loses nothing by waiting (its pod holds a credential that no longer works
   * either way; {@link LeaseDecisions} replaces it without the doomed renewal). Under lasting
   * overload the rotations may wait long: the gauges {@code credbroker.lease.renewals.overdue} and
   * {@code credbroker.lease.renewal.lag} report that before leases expire. Which lease is known to
   * have run out is read with the row ({@link CredentialStore.Due#expiry}); a credential queued
   * again by a worker is taken as not known to have (the next poll may tell otherwise, once it is
   * out of the queue).
   */
  private void dispatch() {
    // Due now, taken from the delay queue, earliest due first: those whose lease is not known to
    // have run out, and those whose lease is.
    PriorityQueue<Scheduled> ready = new PriorityQueue<>();
    PriorityQueue<Scheduled> ranOut = new PriorityQueue<>();
    while (running) {
      try {
        permits.acquire();
        Scheduled next;
        try {
          next = nextDue(queue, ready, ranOut, clock);
        } catch (InterruptedException e) {
          permits.release();
          throw e;
        }
        try {
          submit(
              () -> {
                Instant again = null;
                try {
                  again = tend(next.id());
                } catch (RuntimeException e) {
                  log.warn("Looking after credential {} failed; trying again later", next.id(), e);
                } finally {
                  queued.remove(next.id());
                  permits.release();
                }
                if (again != null
                    && again.isBefore(clock.instant().plus(settings.pollInterval()))) {
                  enqueue(next.id(), again, null);
                }
              });
        } catch (RuntimeException e) {
          permits.release();
          queued.remove(next.id());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * The credential to tend next (see {@link #dispatch}), waiting until one is due.
   *
   * @param queue the credentials not yet due, and those that fell due since the last call
   * @param ready those due, whose lease is not known to have run out (as last seen)
   * @param ranOut those due, whose lease is known to have run out
   */
  static Scheduled nextDue(
      DelayQueue<Scheduled> queue,
      PriorityQueue<Scheduled> ready,
      PriorityQueue<Scheduled> ranOut,
      Clock clock)
      throws InterruptedException {
    if (ready.isEmpty() && ranOut.isEmpty()) {
      ready.add(queue.take());
    }
    queue.drainTo(ready);
    Instant now = clock.instant();
    for (Scheduled head = ready.poll(); head != null; head = ready.poll()) {
      if (!head.ranOutBy(now)) {
        return head;
      }
      // Once run out, always run out: it stays behind.
      ranOut.add(head);
    }
    return Objects.requireNonNull(ranOut.poll(), "a due credential");
  }

  private void submit(Runnable task) {
    ExecutorService pool = workers;
    if (pool != null && !pool.isShutdown()) {
      pool.execute(task);
    } else {
      throw new IllegalStateException("lease workers stopped");
    }
  }

  /**
   * Does what is due for one credential, on a fresh read of its row ({@link LeaseDecisions#tend}).
   *
   * @return when to look at it next, or {@code null} when it has ended or is no longer this
   *     replica's
   */
  @Nullable Instant tend(UUID id) {
    return decisions.tend(id);
  }

  /**
   * A credential waiting in the delay queue until {@code at}, by the broker's clock (the one {@code
   * at} was computed on: corrected to the state database's, it can differ from the host's).
   *
   * @param expiry when its lease is known to run out ({@link CredentialStore.Due#expiry}), or
   *     {@code null}
   */
  record Scheduled(UUID id, Instant at, @Nullable Instant expiry, Clock clock) implements Delayed {

    boolean ranOutBy(Instant now) {
      return expiry != null && !now.isBefore(expiry);
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(Duration.between(clock.instant(), at));
    }

    @Override
    public int compareTo(Delayed other) {
      return other instanceof Scheduled s
          ? at.compareTo(s.at)
          : Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
    }
  }

  private static boolean positive(Duration duration) {
    return !duration.isNegative() && !duration.isZero();
  }
}
