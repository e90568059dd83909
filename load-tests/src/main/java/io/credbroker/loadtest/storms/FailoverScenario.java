package io.credbroker.loadtest.storms;

import io.credbroker.loadtest.stack.BrokerProcess;
import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.ReplicaChannel;
import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A failover: {@code streams} pods hold their credential stream on one replica, which is then
 * killed with SIGKILL. Every pod's channel lists that replica first and the others after it, so the
 * pods reconnect to the survivors as they would through a Service. Measures the time until every
 * pod received a credential again, whether it is the same credential (resumed) or a new one (a new
 * PostgreSQL role: the goal is none), and the TokenReviews and Vault creations the survivors made
 * for it.
 *
 * <p>One instance per run; {@link #run} blocks until the run and its cleanup are done.
 */
public final class FailoverScenario extends StormScenario {

  /**
   * @param streams pods holding a stream on the replica that is killed
   * @param connections TCP connections the pods share (each lists every replica, victim first)
   * @param openConcurrency pods waiting for their first credential at once while opening
   * @param maxDuration how long opening, and then the resumption, may take
   */
  public record Options(int streams, int connections, int openConcurrency, Duration maxDuration) {
    public Options {
      if (streams < 1 || streams > 50_000) {
        throw new IllegalArgumentException("streams must be between 1 and 50000, was " + streams);
      }
      if (connections < 1 || openConcurrency < 1) {
        throw new IllegalArgumentException("connections and open concurrency must be positive");
      }
    }
  }

  private final Options options;

  public FailoverScenario(LoadStack stack, Options options, PrintStream progress) {
    super(stack, progress);
    this.options = options;
  }

  @Override
  public StormReport run() {
    List<BrokerProcess> replicas = stack.brokers();
    if (replicas.size() < 2) {
      throw new IllegalArgumentException("failover needs at least 2 replicas (--replicas)");
    }
    // The last replica dies; the first stays, for the stack's own probes and cleanup.
    BrokerProcess victim = replicas.get(replicas.size() - 1);
    List<BrokerProcess> survivors = replicas.subList(0, replicas.size() - 1);
    List<Integer> order = new ArrayList<>();
    order.add(victim.grpcPort());
    survivors.forEach(b -> order.add(b.grpcPort()));
    List<ManagedChannel> channels = new ArrayList<>();
    try (StormPods pods =
        StormPods.create(
            stack, "failover", options.streams(), stack.settings().workDir().resolve("tokens"))) {
      for (int c = 0; c < Math.min(options.connections(), options.streams()); c++) {
        channels.add(ReplicaChannel.create(order, stack.devStack().caCertPath()));
      }
      progress.printf(
          "failover: opening %d streams on replica pid %d over %d connections%n",
          options.streams(), victim.pid(), channels.size());
      long openStart = System.nanoTime();
      boolean opened =
          pods.openAll(
              i -> channels.get(i % channels.size()),
              options.openConcurrency(),
              options.maxDuration(),
              n ->
                  progress.printf(
                      "failover: %d of %d streams hold a credential%n", n, pods.size()));
      double openSeconds = StormReport.seconds(System.nanoTime() - openStart);
      double onVictim = victim.scrape().sum("credbroker_streams_active");
      Map<String, Integer> statusesBefore = pods.statuses();
      Map<String, Integer> sourcesBefore = pods.sources();
      Map<StormPods.PodState, String> held = new HashMap<>();
      for (StormPods.PodState p : pods.pods()) {
        if (p.credentialId != null) {
          held.put(p, p.credentialId);
        }
      }
      long rolesBefore = stack.dynamicRoles();
      ReplicaMetrics before = ReplicaMetrics.of(survivors);

      progress.printf("failover: kill -9 of replica pid %d%n", victim.pid());
      long t0 = System.nanoTime();
      victim.kill();
      boolean all =
          pods.awaitAll(
              p -> p.lastCredentialNanos > t0 || p.stoppedWith != null,
              options.maxDuration(),
              n -> progress.printf("failover: %d of %d pods resumed%n", n, pods.size()));
      long allNanos = 0;
      List<Long> perPod = new ArrayList<>();
      int sameCredential = 0;
      int newCredential = 0;
      for (StormPods.PodState p : pods.pods()) {
        if (p.lastCredentialNanos > t0) {
          allNanos = Math.max(allNanos, p.lastCredentialNanos - t0);
          perPod.add(p.lastCredentialNanos - t0);
          if (p.credentialId != null && p.credentialId.equals(held.get(p))) {
            sameCredential++;
          } else {
            newCredential++;
          }
        }
      }
      // Pods whose credential the survivors now renew: their streams came back.
      ReplicaMetrics after = ReplicaMetrics.of(survivors);
      long rolesAfter = stack.dynamicRoles();
      StormReport.Builder r =
          new StormReport.Builder("failover")
              .put("streams", options.streams())
              .put("replicas", replicas.size())
              .put("connections", channels.size())
              .put("all_opened", opened)
              .put("open_s", openSeconds)
              .put("streams_on_killed_replica", Math.round(onVictim))
              .put("statuses_while_opening", statusesBefore)
              .put("sources_while_opening", sourcesBefore)
              .put("all_resumed", all)
              .put("time_until_all_resumed_s", StormReport.seconds(allNanos))
              .put("per_pod_time_to_resume_s", StormReport.spread(perPod))
              .put("same_credential", sameCredential)
              .put("new_credential", newCredential)
              .put("pods_stopped", pods.stopped())
              .put("statuses_after_kill", minus(pods.statuses(), statusesBefore))
              .put("sources_after_kill", minus(pods.sources(), sourcesBefore))
              .put(
                  "token_reviews_on_survivors",
                  Math.round(after.get("token_reviews") - before.get("token_reviews")))
              .ratio(
                  "token_reviews_per_pod_ratio",
                  after.get("token_reviews") - before.get("token_reviews"),
                  options.streams())
              .put("new_dynamic_roles", rolesAfter - rolesBefore)
              .put("survivor_counters", after.since(before));
      r.put("cleanup", releaseAll(pods, options.maxDuration()));
      return r.build();
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
    }
  }

  /** {@code after - before}, per key, leaving out zeros. */
  static Map<String, Integer> minus(Map<String, Integer> after, Map<String, Integer> before) {
    Map<String, Integer> out = new java.util.TreeMap<>();
    after.forEach(
        (k, v) -> {
          int d = v - before.getOrDefault(k, 0);
          if (d != 0) {
            out.put(k, d);
          }
        });
    return out;
  }
}
