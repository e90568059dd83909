package io.credbroker.broker.cluster;

import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.config.BrokerProperties;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.InitializingBean;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.SmartLifecycle;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * This replica's membership in the cluster, and the takeover of dead replicas' credentials.
 *
 * <p>The replica registers itself before anything can issue a credential, then every {@code
 * heartbeatInterval} writes its heartbeat (database time, so clocks do not matter; each heartbeat
 * also corrects the broker's {@link StateDatabaseClock} to the database's) and claims the live
 * credentials of replicas whose heartbeat is older than {@code staleAfter} or which stopped
 * cleanly, in one statement that the owner of the {@code credential} table writes ({@link
 * CredentialTakeover}) around this class's query of the dead replicas. Claiming uses {@code FOR
 * UPDATE SKIP LOCKED}, so replicas claiming at once split the work instead of waiting on each
 * other; a claimed credential belongs to this replica, counts as detached from now (its stream died
 * with its replica), and is looked at by this replica's scheduler at once: it is renewed through
 * the reconnect grace and revoked if nobody resumes it.
 *
 * <p>Each heartbeat also publishes when this replica last refused a call for load and reads the
 * latest such refusal of any replica ({@link ClusterRefusals}, column {@code refused_time}): the
 * lease scheduler does not count time in which the cluster turned clients away as a pod's chance to
 * resume its credential.
 *
 * <p>It talks to the state database through a connection of its own (see {@code
 * ClusterConfiguration#heartbeatDatabase}), never through the pool that serves requests, so that a
 * replica busy enough to exhaust that pool still beats and is not presumed dead.
 *
 * <p>If this replica finds that it was itself presumed dead (its row was claimed from or removed),
 * it publishes {@link OwnershipLostEvent} and registers afresh.
 *
 * <p>Self-fencing. A replica that cannot write its heartbeat (its state database unreachable, a
 * network cut) is about to be presumed dead, while its clients may still reach it. A watch on a
 * thread of its own publishes {@link ReplicaFencingEvent}: {@code FENCED} once the heartbeat went
 * unwritten for {@code selfFenceAfter} (half of {@code staleAfter} by default), so that the replica
 * ends its streams and refuses new calls with UNAVAILABLE and its clients resume elsewhere before
 * the others claim their credentials; {@code PRESUMED_DEAD} after {@code staleAfter}, when the
 * others own them (its gRPC port closes); {@code SERVING} again once a heartbeat is written.
 * Counted from the start of the last heartbeat written, which the database stamped no earlier, so
 * the replica always fences before the others can presume it dead. Gauge {@code
 * credbroker.cluster.fenced}.
 *
 * <p>Counted: {@code credbroker.cluster.takeovers}, the credentials this replica claimed, by {@code
 * cause} ({@code stopped}: the owner shut down cleanly, as in a rolling update; {@code silent}: its
 * heartbeat went stale, so it crashed, hung or lost the database), and {@code
 * credbroker.cluster.ownership.lost}, the times this replica found itself presumed dead. Both exist
 * from the start, at zero.
 *
 * <p>Thread-safe. Lifecycle: registered on creation, beats from {@link #start()} (at once, then
 * every interval) to {@link #stop()}, marked stopped on {@link #destroy()} (after the other
 * lifecycles stopped) so that its credentials are claimed at once.
 */
public final class ReplicaHeartbeat implements InitializingBean, SmartLifecycle, DisposableBean {

  private static final Logger log = LoggerFactory.getLogger(ReplicaHeartbeat.class);

  /**
   * The replicas other than this one ({@code :me}) that stopped cleanly or whose heartbeat is older
   * than {@code :stale} seconds: the {@link CredentialTakeover.DeadReplicas} query.
   */
  private static final String DEAD_REPLICAS =
      "SELECT id, stopped_time IS NOT NULL AS stopped FROM replica"
          + " WHERE id <> :me AND (stopped_time IS NOT NULL"
          + " OR heartbeat_time < now() - make_interval(secs => CAST(:stale AS double"
          + " precision)))";

  private final JdbcClient jdbc;
  private final CredentialTakeover takeover;
  private final ReplicaId replica;
  private final BrokerProperties.Cluster settings;
  private final ApplicationEventPublisher events;
  private final StateDatabaseClock clock;
  private final ClusterRefusals refusals;
  private final Counter takenOverFromStopped;
  private final Counter takenOverFromSilent;
  private final Counter ownershipLost;
  private final AtomicLong lastBeatStarted = new AtomicLong(System.nanoTime());
  private final AtomicReference<Fencing> fencing = new AtomicReference<>(Fencing.SERVING);
  private volatile boolean running;
  private @Nullable ScheduledExecutorService ticker;
  private @Nullable ScheduledExecutorService watchdog;

  /**
   * @param refusals this replica's refusals of calls for load, published with each heartbeat, and
   *     the cluster's latest, read back with it
   */
  public ReplicaHeartbeat(
      JdbcClient jdbc,
      CredentialTakeover takeover,
      ReplicaId replica,
      BrokerProperties.Cluster settings,
      ApplicationEventPublisher events,
      StateDatabaseClock clock,
      ClusterRefusals refusals,
      MeterRegistry meterRegistry) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
    this.refusals = Objects.requireNonNull(refusals, "refusals");
    this.takeover = Objects.requireNonNull(takeover, "takeover");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.replica = Objects.requireNonNull(replica, "replica");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.events = Objects.requireNonNull(events, "events");
    this.takenOverFromStopped = takeovers(meterRegistry, "stopped");
    this.takenOverFromSilent = takeovers(meterRegistry, "silent");
    this.ownershipLost =
        Counter.builder("credbroker.cluster.ownership.lost")
            .description(
                "Times this replica found that the others had presumed it dead and taken its"
                    + " credentials")
            .register(meterRegistry);
    Gauge.builder("credbroker.cluster.fenced", fencing, f -> f.get().ordinal())
        .description(
            "Whether this replica fenced itself because it could not write its heartbeat: 0 serving,"
                + " 1 fenced (streams ended, new calls refused), 2 presumed dead (gRPC port closed)")
        .register(meterRegistry);
  }

  @Override
  public void afterPropertiesSet() {
    register();
  }

  private void register() {
    long started = System.nanoTime();
    Instant sent = clock.hostInstant();
    Instant databaseTime =
        jdbc.sql(
                "INSERT INTO replica (id) VALUES (:id) ON CONFLICT (id) DO UPDATE SET"
                    + " heartbeat_time = now(), stopped_time = NULL, claimed_time = NULL"
                    + " RETURNING clock_timestamp()")
            .param("id", replica.value())
            .query((rs, row) -> rs.getTimestamp(1).toInstant())
            .single();
    clock.observe(sent, databaseTime, clock.hostInstant());
    beatWritten(started);
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    running = true;
    // Registration wrote the last heartbeat when this bean was created, which on a slow start can
    // be more than self-fence-after ago: beat before the watch first looks, or the replica fences
    // itself (refusing its first calls) until the first tick.
    try {
      beat();
    } catch (RuntimeException e) {
      log.warn("Heartbeat of replica {} failed", replica, e);
    }
    ScheduledExecutorService executor =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("replica-heartbeat"));
    long interval = settings.heartbeatInterval().toMillis();
    executor.scheduleWithFixedDelay(this::tick, interval, interval, TimeUnit.MILLISECONDS);
    ticker = executor;
    ScheduledExecutorService watch =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("replica-self-fence"));
    // Its own thread: a heartbeat blocked on an unreachable database must not stop the watch.
    long period = Math.max(10, Math.min(interval, settings.selfFence().toMillis()) / 4);
    watch.scheduleWithFixedDelay(this::watchOwnHeartbeat, period, period, TimeUnit.MILLISECONDS);
    watchdog = watch;
  }

  @Override
  public synchronized void stop() {
    running = false;
    if (ticker != null) {
      ticker.shutdownNow();
    }
    if (watchdog != null) {
      watchdog.shutdownNow();
    }
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  /**
   * The lowest phase of the broker's lifecycles: it beats until everything else stopped, so that
   * the others do not claim this replica's credentials while it still drains and renews them.
   */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 2048;
  }

  @Override
  public void destroy() {
    try {
      jdbc.sql("UPDATE replica SET stopped_time = now() WHERE id = :id")
          .param("id", replica.value())
          .update();
    } catch (RuntimeException e) {
      // The others then claim this replica's credentials once its heartbeat is stale.
      log.warn("Could not record that replica {} stopped", replica, e);
    }
  }

  private void tick() {
    try {
      beat();
      int claimed = claimFromDeadReplicas();
      if (claimed > 0) {
        log.info("Claimed {} live credentials of replicas that stopped or went silent", claimed);
      }
    } catch (RuntimeException e) {
      log.warn("Heartbeat of replica {} failed", replica, e);
    }
  }

  /**
   * Writes the heartbeat, with this replica's last refusal of a call for load; reads the latest
   * refusal of all replicas ({@link ClusterRefusals}); notices when the others took this replica's
   * credentials.
   */
  void beat() {
    long started = System.nanoTime();
    Instant sent = clock.hostInstant();
    Instant ownRefusal = refusals.ownLast();
    List<Beat> written =
        jdbc.sql(
                "UPDATE replica SET heartbeat_time = now(),"
                    + " refused_time = GREATEST(refused_time, CAST(:refused AS timestamptz))"
                    + " WHERE id = :id"
                    + " RETURNING claimed_time IS NOT NULL OR stopped_time IS NOT NULL,"
                    + " clock_timestamp(), (SELECT max(refused_time) FROM replica)")
            .param("id", replica.value())
            .param(
                "refused",
                ownRefusal == null ? null : OffsetDateTime.ofInstant(ownRefusal, ZoneOffset.UTC))
            .query(
                (rs, row) ->
                    new Beat(
                        rs.getBoolean(1),
                        rs.getTimestamp(2).toInstant(),
                        rs.getTimestamp(3) == null ? null : rs.getTimestamp(3).toInstant()))
            .list();
    if (!written.isEmpty()) {
      refusals.observed(written.get(0).lastRefusal());
    }
    if (!written.isEmpty()) {
      clock.observe(sent, written.get(0).databaseTime(), clock.hostInstant());
    }
    if (written.isEmpty() || written.get(0).presumedDead()) {
      log.warn(
          "Replica {} was presumed dead by the others; giving up its streams and registering again",
          replica);
      ownershipLost.increment();
      register();
      events.publishEvent(new OwnershipLostEvent(replica));
    } else {
      beatWritten(started);
    }
  }

  /**
   * A heartbeat started at {@code started} (System.nanoTime) was written: the others count this
   * replica alive from a database time no earlier than that, so the self-fence counts from there.
   */
  private void beatWritten(long started) {
    lastBeatStarted.accumulateAndGet(started, (a, b) -> a - b < 0 ? b : a);
    watchOwnHeartbeat();
  }

  /**
   * Fences this replica while its heartbeat goes unwritten for {@code selfFenceAfter} (and more for
   * {@code staleAfter}), lifts the fence once a heartbeat is written again; publishes {@link
   * ReplicaFencingEvent} on every change.
   */
  void watchOwnHeartbeat() {
    // Decided and published under one lock, so that listeners see the changes in their order.
    synchronized (fencing) {
      long unwritten = System.nanoTime() - lastBeatStarted.get();
      Fencing next =
          unwritten >= settings.staleAfter().toNanos()
              ? Fencing.PRESUMED_DEAD
              : unwritten >= settings.selfFence().toNanos() ? Fencing.FENCED : Fencing.SERVING;
      if (fencing.getAndSet(next) == next) {
        return;
      }
      if (next == Fencing.SERVING) {
        log.info("Replica {} wrote its heartbeat again; serving again", replica);
      } else {
        log.warn(
            "Replica {} has not written its heartbeat for {}: {}",
            replica,
            next == Fencing.FENCED ? settings.selfFence() : settings.staleAfter(),
            next == Fencing.FENCED
                ? "ending its streams and refusing new calls (UNAVAILABLE) until it can"
                : "the others presume it dead; closing its gRPC port until it can write it again");
      }
      events.publishEvent(new ReplicaFencingEvent(replica, next));
    }
  }

  /**
   * Whether this replica is fenced (its heartbeat unwritten for {@code selfFenceAfter} or longer):
   * it must not start serving a credential then.
   */
  public boolean fenced() {
    return fencing.get() != Fencing.SERVING;
  }

  /** Where this replica stands with its own heartbeat. */
  public enum Fencing {
    /** Its heartbeat is written: it serves. */
    SERVING,
    /** Its heartbeat went unwritten for {@code selfFenceAfter}: it ends streams, refuses calls. */
    FENCED,
    /** Its heartbeat went unwritten for {@code staleAfter}: the others take its credentials. */
    PRESUMED_DEAD
  }

  /**
   * Takes over the live credentials of replicas that stopped or whose heartbeat is stale, up to one
   * batch per call.
   *
   * @return how many credentials this replica claimed
   */
  int claimFromDeadReplicas() {
    List<CredentialTakeover.TakenOver> claimed =
        takeover.claim(
            jdbc,
            new CredentialTakeover.DeadReplicas(
                DEAD_REPLICAS,
                Map.of("me", replica.value(), "stale", settings.staleAfter().toMillis() / 1000.0)),
            replica,
            settings.claimBatchSize());
    if (!claimed.isEmpty()) {
      Set<String> previousOwners = new LinkedHashSet<>();
      claimed.forEach(c -> previousOwners.add(c.previousOwner()));
      jdbc.sql(
              "UPDATE replica SET claimed_time = now() WHERE id IN (:ids)"
                  + " AND stopped_time IS NULL")
          .param("ids", List.copyOf(previousOwners))
          .update();
      long fromStopped =
          claimed.stream().filter(CredentialTakeover.TakenOver::ownerStopped).count();
      takenOverFromStopped.increment(fromStopped);
      takenOverFromSilent.increment(claimed.size() - fromStopped);
    }
    return claimed.size();
  }

  /**
   * A heartbeat written: whether the others had presumed this replica dead, the database's time,
   * and the latest refusal of a call for load any replica had published before it.
   */
  private record Beat(boolean presumedDead, Instant databaseTime, @Nullable Instant lastRefusal) {}

  private static Counter takeovers(MeterRegistry registry, String cause) {
    return Counter.builder("credbroker.cluster.takeovers")
        .description(
            "Credentials this replica took over from replicas that stopped (cause=stopped) or went"
                + " silent (cause=silent)")
        .tag("cause", cause)
        .register(registry);
  }
}
