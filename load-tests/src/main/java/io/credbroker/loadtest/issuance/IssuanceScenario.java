package io.credbroker.loadtest.issuance;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.IssueCredentialResponse;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.loadtest.report.LatencySummary;
import io.credbroker.loadtest.stack.Cleanup;
import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.PodToken;
import io.credbroker.loadtest.stack.PrometheusText;
import io.credbroker.loadtest.stack.ThreadCpu;
import io.credbroker.loadtest.stack.VaultClient;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * Measures what the broker adds to an issuance: {@code IssueCredential} through the broker against
 * a direct read of {@code <mount>/creds/<role>} from the same Vault, interleaved call by call in
 * one run so that both see the same machine load. Each client thread alternates which of the two
 * goes first. Every call is bounded by a deadline and every level by a count and a time limit.
 *
 * <p>One instance per run; {@link #run} blocks until the run and its cleanup are done.
 */
public final class IssuanceScenario {

  private static final Duration CALL_DEADLINE = Duration.ofSeconds(30);

  /** Tokens must outlive the run; the broker never caches a verdict past the token's expiry. */
  private static final Duration TOKEN_TTL = Duration.ofHours(2);

  /** How long the broker's CPU use is sampled with no calls, to tell its background work apart. */
  private static final Duration IDLE_SAMPLE = Duration.ofSeconds(3);

  private final LoadStack stack;
  private final IssuanceOptions options;
  private final PrintStream progress;
  private final Queue<Cleanup.BrokerCredential> brokerCredentials = new ConcurrentLinkedQueue<>();
  private final Queue<String> directLeases = new ConcurrentLinkedQueue<>();

  public IssuanceScenario(LoadStack stack, IssuanceOptions options, PrintStream progress) {
    this.stack = stack;
    this.options = options;
    this.progress = progress;
  }

  public IssuanceReport run() {
    progress.printf("issuance: creating %d pods and their tokens%n", options.pods());
    List<PodToken> pods = stack.createPods("issue", options.pods(), TOKEN_TTL);
    ManagedChannel channel = stack.broker().newChannel();
    try {
      PrometheusText before = stack.broker().scrape();
      long start = System.nanoTime();
      // Every pod once first, so each token's one review happens outside the measured calls.
      int warmup = Math.max(options.warmup(), pods.size());
      progress.printf("issuance: warm-up, %d pairs of calls%n", warmup);
      LevelRun warm = runLevel(channel, pods, 1, warmup);
      if (warm.brokerOk.get() == 0 || warm.vaultOk.get() == 0) {
        throw new IllegalStateException(
            "every warm-up call failed: "
                + warm.failures
                + "; see the broker's log "
                + stack.broker().logFile());
      }
      warmAtConcurrency(channel, pods);
      double idleCpuMsPerSecond = idleCpuMsPerSecond();
      List<IssuanceReport.Level> levels = new ArrayList<>();
      for (int concurrency : options.concurrency()) {
        progress.printf(
            "issuance: %d requests at concurrency %d%n", options.requests(), concurrency);
        PrometheusText levelStart = stack.broker().scrape();
        Duration cpuStart = stack.broker().cpuTime();
        ThreadCpu threadsStart = stack.broker().threadCpu();
        LevelRun run = runLevel(channel, pods, concurrency, options.requests());
        IssuanceReport.BrokerCpu cpu =
            brokerCpu(cpuStart, threadsStart, run.brokerOk.get(), run.seconds, idleCpuMsPerSecond);
        levels.add(
            run.toReport(
                options.budgetP50Ms(), brokerSide(levelStart, stack.broker().scrape()), cpu));
      }
      double elapsed = (System.nanoTime() - start) / 1e9;
      PrometheusText after = stack.broker().scrape();
      IssuanceReport.TokenReviews reviews = tokenReviews(before, after, pods.size(), elapsed);
      int releaseConcurrency = options.concurrency().get(options.concurrency().size() - 1);
      progress.printf(
          "issuance: releasing %d broker credentials at concurrency %d%n",
          brokerCredentials.size(), releaseConcurrency);
      IssuanceReport.Releases releases =
          releaseAll(channel, releaseConcurrency, idleCpuMsPerSecond);
      progress.printf(
          "issuance: revoking %d direct leases and %d broker credentials left%n",
          directLeases.size(), brokerCredentials.size());
      Cleanup.Report cleanup =
          Cleanup.revokeAll(
              stack,
              List.copyOf(brokerCredentials),
              List.copyOf(directLeases),
              options.maxDuration(),
              false);
      return new IssuanceReport(options, List.copyOf(levels), releases, reviews, cleanup);
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * Warms the broker at the highest measured concurrency, releases included, until its JIT
   * compilers use at most {@link IssuanceOptions#warmJitShare} of its CPU in a round: a broker
   * still compiling spends much of its CPU in the JIT, and code compiled at concurrency 1 is not
   * the code that runs at 8. Each round's figures go to the progress output.
   */
  private void warmAtConcurrency(ManagedChannel channel, List<PodToken> pods) {
    int concurrency = options.concurrency().stream().mapToInt(Integer::intValue).max().orElse(1);
    int pairs = Math.max(options.warmup(), 1);
    for (int round = 1; round <= options.warmupRounds(); round++) {
      Duration cpuStart = stack.broker().cpuTime();
      ThreadCpu threadsStart = stack.broker().threadCpu();
      runLevel(channel, pods, concurrency, pairs);
      releaseAll(channel, concurrency, 0);
      double cpuMs = stack.broker().cpuTime().minus(cpuStart).toNanos() / 1e6;
      ThreadCpu threads = stack.broker().threadCpu();
      double jitMs = threads.since(threadsStart, ThreadCpu.Kind.JIT).toMillis();
      double applicationMs = threads.since(threadsStart, ThreadCpu.Kind.APPLICATION).toMillis();
      double share = cpuMs > 0 ? jitMs / cpuMs : 0;
      progress.printf(
          "issuance: warm-up round %d at concurrency %d: %d pairs and their releases, broker CPU"
              + " %.0f ms, JIT %.0f ms (%.0f %%), application %.0f ms%n",
          round, concurrency, pairs, cpuMs, jitMs, share * 100, applicationMs);
      if (share <= options.warmJitShare()) {
        return;
      }
    }
    progress.printf(
        "issuance: the broker's JIT did not settle within %d warm-up rounds%n",
        options.warmupRounds());
  }

  /**
   * The broker's CPU use while nothing calls it (timers, metrics, heartbeats), in ms per second.
   */
  private double idleCpuMsPerSecond() {
    Duration cpuStart = stack.broker().cpuTime();
    long start = System.nanoTime();
    try {
      Thread.sleep(IDLE_SAMPLE.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return round((stack.broker().cpuTime().minus(cpuStart).toNanos() / 1e6) / seconds);
  }

  private IssuanceReport.BrokerCpu brokerCpu(
      Duration cpuStart,
      ThreadCpu threadsStart,
      int operations,
      double seconds,
      double idleMsPerSecond) {
    double cpuMs = stack.broker().cpuTime().minus(cpuStart).toNanos() / 1e6;
    ThreadCpu threads = stack.broker().threadCpu();
    double jitMs = threads.since(threadsStart, ThreadCpu.Kind.JIT).toMillis();
    double gcMs = threads.since(threadsStart, ThreadCpu.Kind.GC_AND_VM).toMillis();
    double applicationMs = threads.since(threadsStart, ThreadCpu.Kind.APPLICATION).toMillis();
    return new IssuanceReport.BrokerCpu(
        round(cpuMs),
        perOperation(cpuMs, operations),
        perOperation(Math.max(0, cpuMs - idleMsPerSecond * seconds), operations),
        round(jitMs),
        round(gcMs),
        round(applicationMs),
        perOperation(applicationMs, operations));
  }

  private static double perOperation(double ms, int operations) {
    return operations > 0 ? Math.round(ms / operations * 1000) / 1000.0 : Double.NaN;
  }

  /**
   * Releases every credential the broker issued in this run, through {@code ReleaseCredential} as
   * the pod would, measuring the calls and the broker's CPU time; what fails stays for the cleanup.
   */
  private IssuanceReport.Releases releaseAll(
      ManagedChannel channel, int concurrency, double idleMsPerSecond) {
    List<Cleanup.BrokerCredential> toRelease = new ArrayList<>();
    for (Cleanup.BrokerCredential c; (c = brokerCredentials.poll()) != null; ) {
      toRelease.add(c);
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger released = new AtomicInteger();
    Map<String, Integer> failures = new ConcurrentHashMap<>();
    Histogram latency = LatencySummary.newHistogram();
    Duration cpuStart = stack.broker().cpuTime();
    ThreadCpu threadsStart = stack.broker().threadCpu();
    long start = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    try {
      List<Future<Histogram>> workers = new ArrayList<>();
      for (int t = 0; t < concurrency; t++) {
        workers.add(
            pool.submit(
                () -> {
                  Histogram mine = LatencySummary.newHistogram();
                  for (int i = next.getAndIncrement();
                      i < toRelease.size();
                      i = next.getAndIncrement()) {
                    Cleanup.BrokerCredential c = toRelease.get(i);
                    long t0 = System.nanoTime();
                    try {
                      CredentialBrokerGrpc.newBlockingStub(channel)
                          .withInterceptors(c.pod().bearer())
                          .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
                          .releaseCredential(
                              ReleaseCredentialRequest.newBuilder()
                                  .setCredentialId(c.credentialId())
                                  .build());
                      mine.recordValue((System.nanoTime() - t0) / 1000);
                      released.incrementAndGet();
                    } catch (StatusRuntimeException e) {
                      failures.merge("broker " + e.getStatus().getCode(), 1, Integer::sum);
                      brokerCredentials.add(c);
                    }
                  }
                  return mine;
                }));
      }
      for (Future<Histogram> w : workers) {
        latency.add(w.get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("a release thread failed", e.getCause());
    } finally {
      pool.shutdownNow();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    IssuanceReport.BrokerCpu cpu =
        brokerCpu(cpuStart, threadsStart, released.get(), seconds, idleMsPerSecond);
    return new IssuanceReport.Releases(
        concurrency,
        released.get(),
        toRelease.size() - released.get(),
        LatencySummary.of(latency),
        round(seconds),
        idleMsPerSecond,
        cpu,
        new TreeMap<>(failures));
  }

  private IssuanceReport.TokenReviews tokenReviews(
      PrometheusText before, PrometheusText after, int tokens, double elapsed) {
    String reviewCount = "credbroker_tokenreview_request_seconds_count";
    String cache = "credbroker_tokenreview_cache_total";
    long reviews =
        after.has(reviewCount) ? Math.round(after.sum(reviewCount) - before.sum(reviewCount)) : -1;
    long hits = Math.round(after.sum(cache, "result", "hit") - before.sum(cache, "result", "hit"));
    long misses =
        Math.round(after.sum(cache, "result", "miss") - before.sum(cache, "result", "miss"));
    double window = stack.settings().tokenCacheTtl().toMillis() / 1000.0;
    // A token is reviewed at its first use and again only after its verdict expired.
    long allowed = tokens * ((long) Math.floor(elapsed / window) + 1);
    return new IssuanceReport.TokenReviews(
        tokens,
        reviews,
        hits,
        misses,
        window,
        round(elapsed),
        allowed,
        reviews >= 0 && reviews <= allowed);
  }

  private static IssuanceReport.BrokerSide brokerSide(PrometheusText before, PrometheusText after) {
    String[] issue = {"rpc_method", "IssueCredential", "grpc_status_code", "OK"};
    String[] creds = {"operation", "creds", "outcome", "success"};
    return new IssuanceReport.BrokerSide(
        meanMs(before, after, "grpc_server_seconds", issue),
        meanMs(before, after, "credbroker_vault_request_seconds", creds),
        round(
            PrometheusText.quantileBetween(
                    before, after, "credbroker_vault_request_seconds_bucket", 0.5, creds)
                * 1000),
        meanMs(before, after, "hikaricp_connections_usage_seconds"));
  }

  /** Mean of a timer between two scrapes, in ms; NaN when it observed nothing. */
  private static double meanMs(
      PrometheusText before, PrometheusText after, String timer, String... labels) {
    double count = after.sum(timer + "_count", labels) - before.sum(timer + "_count", labels);
    double sum = after.sum(timer + "_sum", labels) - before.sum(timer + "_sum", labels);
    return count > 0 ? round(sum / count * 1000) : Double.NaN;
  }

  private LevelRun runLevel(
      ManagedChannel channel, List<PodToken> pods, int concurrency, int requests) {
    LevelRun level = new LevelRun(concurrency, requests);
    AtomicInteger next = new AtomicInteger();
    long deadline = System.nanoTime() + options.maxDuration().toNanos();
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    long start = System.nanoTime();
    try {
      List<Future<Histogram[]>> workers = new ArrayList<>();
      for (int t = 0; t < concurrency; t++) {
        workers.add(
            pool.submit(
                () -> {
                  Histogram broker = LatencySummary.newHistogram();
                  Histogram vault = LatencySummary.newHistogram();
                  for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                    if (System.nanoTime() > deadline) {
                      level.timedOut = true;
                      break;
                    }
                    PodToken pod = pods.get(i % pods.size());
                    if (i % 2 == 0) {
                      viaBroker(channel, pod, broker, level);
                      direct(vault, level);
                    } else {
                      direct(vault, level);
                      viaBroker(channel, pod, broker, level);
                    }
                  }
                  return new Histogram[] {broker, vault};
                }));
      }
      for (Future<Histogram[]> w : workers) {
        Histogram[] h = w.get();
        level.broker.add(h[0]);
        level.vault.add(h[1]);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("a load thread failed", e.getCause());
    } finally {
      pool.shutdownNow();
    }
    level.seconds = (System.nanoTime() - start) / 1e9;
    return level;
  }

  private void viaBroker(
      ManagedChannel channel, PodToken pod, Histogram histogram, LevelRun level) {
    long t0 = System.nanoTime();
    try {
      IssueCredentialResponse response =
          CredentialBrokerGrpc.newBlockingStub(channel)
              .withInterceptors(pod.bearer())
              .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
              .issueCredential(
                  IssueCredentialRequest.newBuilder().setDatabaseRole(LoadStack.DATABASE).build());
      histogram.recordValue((System.nanoTime() - t0) / 1000);
      // Only the id is kept; the password is dropped with the response.
      brokerCredentials.add(
          new Cleanup.BrokerCredential(pod, response.getCredential().getCredentialId()));
      level.brokerOk.incrementAndGet();
    } catch (StatusRuntimeException e) {
      level.brokerFailed.incrementAndGet();
      level.failures.merge("broker " + e.getStatus().getCode(), 1, Integer::sum);
    }
  }

  private void direct(Histogram histogram, LevelRun level) {
    VaultClient vault = stack.vault();
    long t0 = System.nanoTime();
    try {
      VaultClient.Lease lease = vault.readCredential(LoadStack.MOUNT, LoadStack.DATABASE);
      histogram.recordValue((System.nanoTime() - t0) / 1000);
      directLeases.add(lease.leaseId());
      level.vaultOk.incrementAndGet();
    } catch (RuntimeException e) {
      level.vaultFailed.incrementAndGet();
      level.failures.merge("vault " + e.getClass().getSimpleName(), 1, Integer::sum);
    }
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  /** Counters of one level while it runs; shared by its threads. */
  private static final class LevelRun {
    final int concurrency;
    final int requests;
    final Histogram broker = LatencySummary.newHistogram();
    final Histogram vault = LatencySummary.newHistogram();
    final AtomicInteger brokerOk = new AtomicInteger();
    final AtomicInteger brokerFailed = new AtomicInteger();
    final AtomicInteger vaultOk = new AtomicInteger();
    final AtomicInteger vaultFailed = new AtomicInteger();
    final Map<String, Integer> failures = new ConcurrentHashMap<>();
    volatile boolean timedOut;
    double seconds;

    LevelRun(int concurrency, int requests) {
      this.concurrency = concurrency;
      this.requests = requests;
    }

    IssuanceReport.Level toReport(
        double budgetP50Ms, IssuanceReport.BrokerSide brokerSide, IssuanceReport.BrokerCpu cpu) {
      LatencySummary b = LatencySummary.of(broker);
      LatencySummary v = LatencySummary.of(vault);
      double difference = round(b.p50Ms() - v.p50Ms());
      double ratio = v.p50Ms() > 0 ? Math.round(b.p50Ms() / v.p50Ms() * 1000) / 1000.0 : 0;
      return new IssuanceReport.Level(
          concurrency,
          requests,
          brokerOk.get(),
          brokerFailed.get(),
          vaultOk.get(),
          vaultFailed.get(),
          b,
          v,
          difference,
          ratio,
          b.count() > 0 && v.count() > 0 && difference <= budgetP50Ms,
          round(seconds),
          round(Math.min(broker.getTotalCount(), vault.getTotalCount()) / seconds),
          !timedOut,
          new TreeMap<>(failures),
          brokerSide,
          cpu);
    }
  }
}
