package io.credbroker.loadtest.storms;

import io.credbroker.loadtest.stack.BrokerProcess;
import io.credbroker.loadtest.stack.LoadStack;
import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A rollout: {@code pods} pods start within {@code window}, spread evenly over it and over the
 * replicas (as a Service spreads connections), each opening its credential stream through the SDK.
 * Measures the time until every pod holds a credential against the time Vault itself needs for as
 * many creations at the ceiling measured directly in the same run, and counts every status the pods
 * saw: overload must come back as RESOURCE_EXHAUSTED with RetryInfo, which the SDK backs off on,
 * never as a deadline error.
 *
 * <p>With {@code replace}, it is a rolling update: as many pods already hold a credential, and as
 * each new pod starts one of them shuts down (its client releases its credential, then its pod
 * object is deleted), so Vault revokes as many roles as it creates while the new pods wait. Then it
 * also measures Vault's revocations directly and the time until every old pod's role is gone.
 *
 * <p>One instance per run; {@link #run} blocks until the run and its cleanup are done.
 */
public final class RolloutScenario extends StormScenario {

  /**
   * What the rollout does.
   *
   * @param pods how many pods start
   * @param window the time over which they start
   * @param connectionsPerReplica TCP connections to each replica the pods share
   * @param ceilingSamples direct Vault creations that measure the ceiling
   * @param maxDuration how long the pods may take to hold a credential
   * @param awaitUntracked how long to wait, once every pod holds, for the roles beyond one per pod
   *     to go: creations that timed out in the broker while Vault still made them, which only the
   *     broker's lease reconciler finds again; zero does not wait
   * @param replace whether as many running pods shut down while the new ones start (a rolling
   *     update)
   */
  public record Options(
      int pods,
      Duration window,
      int connectionsPerReplica,
      int ceilingSamples,
      Duration maxDuration,
      Duration awaitUntracked,
      boolean replace) {
    public Options {
      if (awaitUntracked.isNegative()) {
        throw new IllegalArgumentException("the wait for untracked roles must not be negative");
      }
      if (pods < 1 || pods > 50_000) {
        throw new IllegalArgumentException("pods must be between 1 and 50000, was " + pods);
      }
      if (window.isNegative()) {
        throw new IllegalArgumentException("the start window must not be negative");
      }
      if (connectionsPerReplica < 1 || ceilingSamples < 1) {
        throw new IllegalArgumentException("connections and ceiling samples must be positive");
      }
    }
  }

  private final Options options;

  public RolloutScenario(LoadStack stack, Options options, PrintStream progress) {
    super(stack, progress);
    this.options = options;
  }

  @Override
  public StormReport run() {
    List<BrokerProcess> replicas = stack.brokers();
    progress.printf(
        "rollout: measuring Vault's ceiling with %d direct creations%n", options.ceilingSamples());
    VaultCeiling.Creations ceiling =
        VaultCeiling.creations(stack.vault(), options.ceilingSamples());
    VaultCeiling.Revocations revocations = VaultCeiling.revoke(stack.vault(), ceiling.leaseIds());

    progress.printf("rollout: creating %d pods and their tokens%n", options.pods());
    Path tokens = stack.settings().workDir().resolve("tokens");
    List<ManagedChannel> channels = new ArrayList<>();
    ScheduledExecutorService starter = Executors.newSingleThreadScheduledExecutor();
    // A thread per running pod that is shutting down, as every pod shuts down on its own: a pool
    // of a fixed size would queue the shutdowns and measure the pool, not the broker.
    ExecutorService stopper = Executors.newCachedThreadPool();
    // Pod names of their own, so that a rollout and a rolling update can run on one stack.
    try (StormPods pods =
            StormPods.create(
                stack, options.replace() ? "updated" : "rollout", options.pods(), tokens);
        StormPods old =
            options.replace() ? StormPods.create(stack, "running", options.pods(), tokens) : null) {
      channels.addAll(connectionsToEachReplica(options.connectionsPerReplica()));
      if (old != null) {
        progress.printf("rollout: %d running pods get their credentials first%n", old.size());
        if (!old.openAll(
            i -> channels.get(i % channels.size()),
            OLD_PODS_IN_FLIGHT,
            options.maxDuration(),
            n -> progress.printf("rollout: %d running pods hold a credential%n", n))) {
          throw new IllegalStateException(
              "the running pods did not all get a credential within " + options.maxDuration());
        }
      }
      long rolesBefore = stack.dynamicRoles();
      ReplicaMetrics before = ReplicaMetrics.of(replicas);
      progress.printf(
          "rollout: starting %d pods within %s over %d replicas%s%n",
          options.pods(),
          options.window(),
          replicas.size(),
          old == null ? "" : ", each replacing a running pod");
      long t0 = System.nanoTime();
      long step = options.window().toNanos() / options.pods();
      for (int i = 0; i < options.pods(); i++) {
        int pod = i;
        // Pod i talks to replica i mod R, over one of that replica's connections; it replaces
        // running pod i, which shuts down as it starts.
        starter.schedule(
            () -> {
              pods.start(pod, channels.get(pod % channels.size()));
              if (old != null) {
                stopper.execute(() -> old.stop(pod, stack));
              }
            },
            step * i,
            TimeUnit.NANOSECONDS);
      }
      boolean all =
          pods.awaitAll(
              p -> p.credentialId != null || p.stoppedWith != null,
              options.window().plus(options.maxDuration()),
              n ->
                  progress.printf("rollout: %d of %d pods hold a credential%n", n, options.pods()));
      long allNanos = lastFirstCredential(pods) - t0;
      int holding = (int) pods.pods().stream().filter(StormPods.PodState::holds).count();
      // The roles there were before the storm, less the running pods' (one each) when they go.
      long rolesLeftBehind = old == null ? rolesBefore : rolesBefore - old.size();
      if (old != null) {
        // The running pods' roles gone, whether by their release or later (their pods deleted).
        rolesAbove(rolesLeftBehind + holding, options.maxDuration(), ROLE_POLL);
      }
      // After the running pods' roles went, so that their revocations are counted.
      ReplicaMetrics after = ReplicaMetrics.of(replicas);
      long rolesAfter = stack.dynamicRoles();
      List<Long> perPod = new ArrayList<>();
      for (StormPods.PodState p : pods.pods()) {
        if (p.credentialId != null) {
          perPod.add(p.firstCredentialNanos - p.startNanos);
        }
      }
      double vaultAlone = options.pods() / ceiling.perSecond();
      StormReport.Builder r =
          new StormReport.Builder("rollout")
              .put("pods", options.pods())
              .put("replicas", replicas.size())
              .put("start_window_s", options.window().toMillis() / 1000.0)
              .put("vault_ceiling_creations_per_s", ceiling.perSecond())
              .put("vault_ceiling_samples", options.ceilingSamples())
              .put("vault_ceiling_revoke_failed", revocations.failed())
              .put("all_completed", all)
              .put("pods_holding", holding)
              .put("pods_stopped", pods.stopped())
              .put("time_until_all_hold_s", StormReport.seconds(allNanos))
              .put("vault_alone_s", StormReport.round3(vaultAlone))
              .ratio("time_until_all_hold_vs_vault_alone_ratio", allNanos / 1e9, vaultAlone)
              .ratio(
                  "broker_creations_per_s_vs_vault_ceiling_ratio",
                  holding / (allNanos / 1e9),
                  ceiling.perSecond())
              .put("per_pod_time_to_credential_s", StormReport.spread(perPod))
              .put("stream_statuses", pods.statuses())
              .put(
                  "deadline_exceeded",
                  pods.statuses().entrySet().stream()
                      .filter(e -> e.getKey().startsWith("DEADLINE_EXCEEDED"))
                      .mapToInt(java.util.Map.Entry::getValue)
                      .sum())
              .put("credential_sources", pods.sources())
              .put("connect_attempts", pods.connectAttempts())
              .put("max_reconnect_delay_ms", pods.maxReconnectDelayMillis())
              .put("broker_counters", after.since(before))
              .put("dynamic_roles_created", rolesAfter - rolesLeftBehind)
              .put("dynamic_roles_beyond_one_per_pod", rolesAfter - rolesLeftBehind - holding);
      if (old != null) {
        // Vault alone: as many creations and revocations, one after the other, at the rates it
        // reached directly in this run.
        double vaultAloneBoth = vaultAlone + old.size() / revocations.perSecond();
        long releasedNanos = lastStopped(old) - t0;
        r.put("replaced_pods", old.size())
            .put("vault_ceiling_revocations_per_s", revocations.perSecond())
            .put("vault_alone_with_revocations_s", StormReport.round3(vaultAloneBoth))
            .ratio(
                "time_until_all_hold_vs_vault_alone_with_revocations_ratio",
                allNanos / 1e9,
                vaultAloneBoth)
            .put("time_until_old_pods_released_s", StormReport.seconds(releasedNanos))
            .ratio(
                "time_until_old_pods_released_vs_vault_alone_with_revocations_ratio",
                releasedNanos / 1e9,
                vaultAloneBoth)
            .put("per_old_pod_release_s", StormReport.spread(releaseTimes(old)))
            .put("old_roles_all_gone", rolesAfter <= rolesLeftBehind + holding)
            .put("old_pods_stream_statuses", old.statuses());
      }
      long untracked = rolesAfter - rolesLeftBehind - holding;
      if (untracked > 0 && !options.awaitUntracked().isZero()) {
        awaitUntracked(rolesLeftBehind + holding, untracked, r);
      }
      r.put("cleanup", releaseAll(pods, options.maxDuration()));
      return r.build();
    } finally {
      starter.shutdownNow();
      stopper.shutdownNow();
      channels.forEach(ManagedChannel::shutdownNow);
    }
  }

  /** Running pods waiting for their first credential at once, before a rolling update. */
  private static final int OLD_PODS_IN_FLIGHT = 64;

  /**
   * Waits, at most {@code timeout}, polling every {@code poll}, until there are at most {@code
   * roles} dynamic roles; returns how many there are above it at the end (0 when it got there).
   */
  private long rolesAbove(long roles, Duration timeout, Duration poll) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long above = stack.dynamicRoles() - roles;
    while (above > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(poll.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      above = stack.dynamicRoles() - roles;
    }
    return Math.max(above, 0);
  }

  /** When the last of the running pods was shut down (its release returned, its pod deleted). */
  private long lastStopped(StormPods old) {
    // Stops still running once the new pods hold are waited for.
    old.awaitAll(p -> p.stoppedNanos != 0, options.maxDuration(), n -> {});
    long last = Long.MIN_VALUE;
    for (StormPods.PodState p : old.pods()) {
      last = Math.max(last, p.stoppedNanos);
    }
    return last;
  }

  /** How long each running pod took to shut down, its release included. */
  private static List<Long> releaseTimes(StormPods old) {
    List<Long> times = new ArrayList<>();
    for (StormPods.PodState p : old.pods()) {
      if (p.stoppedNanos != 0) {
        times.add(p.stoppedNanos - p.stopStartNanos);
      }
    }
    return times;
  }

  private static final Duration ROLE_POLL = Duration.ofMillis(200);

  /**
   * Waits for the dynamic roles to come down to {@code tracked}, and reports how many roles beyond
   * it are left and when the last went.
   */
  private void awaitUntracked(long tracked, long untracked, StormReport.Builder r) {
    progress.printf(
        "rollout: waiting up to %s for %d untracked roles to be revoked%n",
        options.awaitUntracked(), untracked);
    long start = System.nanoTime();
    long left = rolesAbove(tracked, options.awaitUntracked(), POLL);
    r.put("untracked_roles_left_after_wait", left);
    r.put("untracked_roles_wait_s", StormReport.seconds(System.nanoTime() - start));
  }

  private static final Duration POLL = Duration.ofSeconds(5);

  /** When the last pod received its first credential (the start time when none did). */
  static long lastFirstCredential(StormPods pods) {
    long last = Long.MIN_VALUE;
    for (StormPods.PodState p : pods.pods()) {
      if (p.credentialId != null) {
        last = Math.max(last, p.firstCredentialNanos);
      }
    }
    return last == Long.MIN_VALUE ? System.nanoTime() : last;
  }
}
