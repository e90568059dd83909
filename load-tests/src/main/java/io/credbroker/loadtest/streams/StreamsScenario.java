package io.credbroker.loadtest.streams;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.loadtest.report.LatencySummary;
import io.credbroker.loadtest.stack.ClassHistogram;
import io.credbroker.loadtest.stack.Cleanup;
import io.credbroker.loadtest.stack.HeapSample;
import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.PodToken;
import io.credbroker.loadtest.stack.PrometheusText;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoublePredicate;
import org.HdrHistogram.Histogram;

/**
 * Measures what a live {@code WatchCredential} stream costs the broker: heap (live bytes after a
 * full collection), threads and scheduler entries, with S streams open against none. The broker is
 * measured four times: before the run's connections exist, with the connections idle, with every
 * stream open, and after every stream was cancelled.
 *
 * <p>One instance per run; {@link #run} blocks until the run and its cleanup are done. Opening is
 * bounded by a count, an in-flight limit and a time limit.
 */
public final class StreamsScenario {

  private static final Duration TOKEN_TTL = Duration.ofHours(2);

  /**
   * How long connections and stream counts may take to settle. 2,000 TLS handshakes (one connection
   * per pod) took over a minute on the shared 2-core build machine under load.
   */
  private static final Duration SETTLE_TIMEOUT = Duration.ofMinutes(5);

  private static final Duration WATCH_SETTLE = Duration.ofSeconds(5);
  private static final String WATCHED_PODS = "credbroker_kubernetes_pod_watch_pods";

  private final LoadStack stack;
  private final StreamsOptions options;
  private final PrintStream progress;
  private final Queue<Cleanup.BrokerCredential> credentials = new ConcurrentLinkedQueue<>();

  public StreamsScenario(LoadStack stack, StreamsOptions options, PrintStream progress) {
    this.stack = stack;
    this.options = options;
    this.progress = progress;
  }

  public StreamsReport run() {
    long podStart = System.nanoTime();
    List<PodToken> warmPods = stack.createPods("warm", options.warmup(), TOKEN_TTL);
    long podNanos = System.nanoTime() - podStart;

    if (!warmPods.isEmpty()) {
      progress.printf("streams: warm-up, %d streams opened and closed%n", warmPods.size());
      ManagedChannel warmChannel = stack.broker().newChannel();
      try {
        Opening warm = open(List.of(warmChannel), warmPods);
        warm.cancelAll();
        awaitActiveStreams(n -> n == 0);
      } finally {
        warmChannel.shutdownNow();
      }
    }

    progress.println("streams: measuring the broker before the pods exist");
    HeapSample beforePods = stack.broker().heap();
    double watchedBefore = watchedPods();
    progress.printf("streams: creating %d pods and their tokens%n", options.streams());
    podStart = System.nanoTime();
    List<PodToken> pods = stack.createPods("stream", options.streams(), TOKEN_TTL);
    double podSeconds = seconds(podNanos + System.nanoTime() - podStart);
    awaitWatchedPods(watchedBefore + pods.size());

    int connections = Math.min(options.connections(), options.streams());
    progress.println("streams: measuring the broker before connecting");
    HeapSample baseline = stack.broker().heap();
    List<ManagedChannel> channels = new ArrayList<>();
    try {
      for (int i = 0; i < connections; i++) {
        channels.add(stack.broker().newChannel());
      }
      connect(channels);
      HeapSample connected = stack.broker().heap();

      progress.printf(
          "streams: opening %d streams over %d connections%n", options.streams(), connections);
      Opening opening = open(channels, pods);
      long active = awaitActiveStreams(n -> n >= opening.opened.get());
      if (!options.hold().isZero()) {
        progress.printf("streams: holding them for %s%n", options.hold());
        sleep(options.hold());
      }
      progress.println("streams: measuring the broker with every stream open");
      HeapSample withStreams = stack.broker().heap();
      Map<String, Long> laterEvents = new TreeMap<>();
      opening.laterEvents.forEach((k, v) -> laterEvents.put(k, v.get()));

      progress.println("streams: closing every stream");
      opening.cancelAll();
      awaitActiveStreams(n -> n == 0);
      HeapSample afterClose = stack.broker().heap();
      channels.forEach(ManagedChannel::shutdownNow);

      progress.printf("streams: releasing %d credentials%n", credentials.size());
      Cleanup.Report cleanup =
          Cleanup.revokeAll(
              stack, List.copyOf(credentials), List.of(), options.maxDuration(), false);
      return report(
          connections,
          podSeconds,
          opening,
          active,
          beforePods,
          baseline,
          connected,
          withStreams,
          afterClose,
          laterEvents,
          cleanup);
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
    }
  }

  private StreamsReport report(
      int connections,
      double podSeconds,
      Opening opening,
      long active,
      HeapSample beforePods,
      HeapSample baseline,
      HeapSample connected,
      HeapSample withStreams,
      HeapSample afterClose,
      Map<String, Long> laterEvents,
      Cleanup.Report cleanup) {
    int opened = opening.opened.get();
    long perClusterPod = (baseline.liveBytes() - beforePods.liveBytes()) / options.streams();
    long perConnection = (connected.liveBytes() - baseline.liveBytes()) / connections;
    long perStream = opened == 0 ? 0 : (withStreams.liveBytes() - connected.liveBytes()) / opened;
    long perPodStream = opened == 0 ? 0 : (withStreams.liveBytes() - baseline.liveBytes()) / opened;
    long projected = baseline.liveBytes() + (long) options.targetStreams() * perPodStream;
    long maxHeap = stack.settings().brokerHeapBytes();
    double threadsPerStream =
        opened == 0
            ? 0
            : Math.round((withStreams.liveThreads() - connected.liveThreads()) * 10_000.0 / opened)
                / 10_000.0;
    return new StreamsReport(
        options,
        connections,
        opened,
        opening.failed.get(),
        new TreeMap<>(opening.failures),
        podSeconds,
        seconds(opening.lastFirstEvent.get() - opening.start),
        LatencySummary.of(opening.firstEvent),
        active,
        sample(beforePods),
        sample(baseline),
        sample(connected),
        sample(withStreams),
        sample(afterClose),
        perClusterPod,
        perConnection,
        perStream,
        perPodStream,
        opened > 0 && perStream <= options.budgetBytesPerStream(),
        projected,
        maxHeap,
        projected <= maxHeap,
        threadsPerStream,
        schedulerEntries(withStreams.histogram()) - schedulerEntries(connected.histogram()),
        withStreams.histogram().largestGrowthSince(connected.histogram(), 15),
        connected.histogram().largestGrowthSince(baseline.histogram(), 15),
        laterEvents,
        cleanup);
  }

  private StreamsReport.Sample sample(HeapSample s) {
    return new StreamsReport.Sample(
        s.liveBytes(),
        s.heapUsedBytes(),
        s.liveThreads(),
        schedulerEntries(s.histogram()),
        s.threadGroups());
  }

  /**
   * Pending timer tasks of the JDK's and Netty's schedulers: what "a scheduler entry per stream"
   * would show.
   */
  static long schedulerEntries(ClassHistogram h) {
    return h.classes().entrySet().stream()
        .filter(
            e ->
                e.getKey().endsWith("ScheduledFutureTask")
                    || e.getKey().endsWith("HashedWheelTimeout"))
        .mapToLong(e -> e.getValue().instances())
        .sum();
  }

  /** The pods the broker's watch holds, or NaN when the broker does not report them. */
  private double watchedPods() {
    PrometheusText metrics = stack.broker().scrape();
    return metrics.has(WATCHED_PODS) ? metrics.sum(WATCHED_PODS) : Double.NaN;
  }

  /**
   * Waits until the broker's watch holds {@code expected} pods. A broker that does not report them
   * (an older jar) gets {@link #WATCH_SETTLE} instead: its watch sees a new pod within
   * milliseconds.
   */
  private void awaitWatchedPods(double expected) {
    if (Double.isNaN(expected)) {
      sleep(WATCH_SETTLE);
      return;
    }
    awaitGauge(WATCHED_PODS, n -> n >= expected, "pods in its watch");
  }

  /**
   * Makes every channel open its connection, so that connections are measured apart from streams.
   */
  private void connect(List<ManagedChannel> channels) {
    long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    for (ManagedChannel c : channels) {
      c.getState(true);
    }
    for (ManagedChannel c : channels) {
      while (c.getState(true) != ConnectivityState.READY) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "could not connect to the broker within " + SETTLE_TIMEOUT);
        }
        sleep(Duration.ofMillis(10));
      }
    }
  }

  /**
   * Waits until the broker's active-stream gauge satisfies {@code condition}; returns the last
   * value.
   */
  private long awaitActiveStreams(DoublePredicate condition) {
    return (long) awaitGauge("credbroker_streams_active", condition, "active streams");
  }

  /**
   * Waits until the broker's gauge {@code name} satisfies {@code condition}, at most {@link
   * #SETTLE_TIMEOUT} (then says so); returns the last value.
   */
  private double awaitGauge(String name, DoublePredicate condition, String what) {
    long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    double value;
    while (!condition.test(value = stack.broker().scrape().sum(name))) {
      if (System.nanoTime() > deadline) {
        progress.printf(
            "streams: the broker still reports %.0f %s after %s%n", value, what, SETTLE_TIMEOUT);
        return value;
      }
      sleep(Duration.ofMillis(200));
    }
    return value;
  }

  /** Opens one stream per pod, round-robin over the channels, and waits for every first event. */
  private Opening open(List<ManagedChannel> channels, List<PodToken> pods) {
    Opening opening = new Opening(pods.size());
    long deadline = opening.start + options.maxDuration().toNanos();
    Semaphore inFlight = new Semaphore(options.openConcurrency());
    for (int i = 0; i < pods.size(); i++) {
      try {
        long left = deadline - System.nanoTime();
        if (left <= 0 || !inFlight.tryAcquire(left, TimeUnit.NANOSECONDS)) {
          progress.printf(
              "streams: time limit %s reached after %d streams%n", options.maxDuration(), i);
          opening.abandon(pods.size() - i);
          break;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
      PodToken pod = pods.get(i);
      CredentialBrokerGrpc.newStub(channels.get(i % channels.size()))
          .withInterceptors(pod.bearer())
          .watchCredential(
              WatchCredentialRequest.newBuilder().setDatabaseRole(LoadStack.DATABASE).build(),
              new Watch(pod, opening, inFlight));
    }
    try {
      long left = Math.max(0, deadline - System.nanoTime()) + SETTLE_TIMEOUT.toNanos();
      if (!opening.done.await(left, TimeUnit.NANOSECONDS)) {
        progress.printf(
            "streams: %d streams still had no first event at the time limit%n",
            opening.done.getCount());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    return opening;
  }

  /** The streams of one {@link #open} call and what they received. Shared by gRPC's threads. */
  private static final class Opening {
    final long start = System.nanoTime();
    final CountDownLatch done;
    final Histogram firstEvent = LatencySummary.newHistogram();
    final AtomicInteger opened = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    final AtomicLong lastFirstEvent = new AtomicLong(start);
    final Map<String, Integer> failures = new ConcurrentHashMap<>();
    final Map<String, AtomicLong> laterEvents = new ConcurrentHashMap<>();
    final Queue<ClientCallStreamObserver<WatchCredentialRequest>> calls =
        new ConcurrentLinkedQueue<>();

    Opening(int streams) {
      done = new CountDownLatch(streams);
    }

    void abandon(int notOpened) {
      failures.merge("not opened (time limit)", notOpened, Integer::sum);
      failed.addAndGet(notOpened);
      for (int i = 0; i < notOpened; i++) {
        done.countDown();
      }
    }

    void cancelAll() {
      for (ClientCallStreamObserver<WatchCredentialRequest> call : calls) {
        call.cancel("load test done", null);
      }
    }
  }

  /** One stream's observer; callbacks come from gRPC's executor. */
  private final class Watch
      implements ClientResponseObserver<WatchCredentialRequest, CredentialEvent> {
    private final PodToken pod;
    private final Opening opening;
    private final Semaphore inFlight;
    private final long start = System.nanoTime();
    private volatile boolean first = true;

    Watch(PodToken pod, Opening opening, Semaphore inFlight) {
      this.pod = pod;
      this.opening = opening;
      this.inFlight = inFlight;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchCredentialRequest> requestStream) {
      opening.calls.add(requestStream);
    }

    @Override
    public void onNext(CredentialEvent event) {
      if (first) {
        first = false;
        long now = System.nanoTime();
        synchronized (opening.firstEvent) {
          opening.firstEvent.recordValue((now - start) / 1000);
        }
        opening.lastFirstEvent.accumulateAndGet(now, Math::max);
        if (event.hasIssued()) {
          // Only the id is kept; the password is dropped with the event.
          credentials.add(
              new Cleanup.BrokerCredential(
                  pod, event.getIssued().getCredential().getCredentialId()));
          opening.opened.incrementAndGet();
        } else {
          opening.failed.incrementAndGet();
          opening.failures.merge("first event " + event.getEventCase(), 1, Integer::sum);
        }
        inFlight.release();
        opening.done.countDown();
      } else {
        opening
            .laterEvents
            .computeIfAbsent(event.getEventCase().name().toLowerCase(), k -> new AtomicLong())
            .incrementAndGet();
      }
    }

    @Override
    public void onError(Throwable t) {
      Status status = Status.fromThrowable(t);
      if (first) {
        first = false;
        opening.failed.incrementAndGet();
        opening.failures.merge("stream " + status.getCode(), 1, Integer::sum);
        inFlight.release();
        opening.done.countDown();
      } else if (status.getCode() != Status.Code.CANCELLED) {
        opening
            .laterEvents
            .computeIfAbsent("ended " + status.getCode(), k -> new AtomicLong())
            .incrementAndGet();
      }
    }

    @Override
    public void onCompleted() {
      if (first) {
        first = false;
        opening.failed.incrementAndGet();
        opening.failures.merge("stream completed without an event", 1, Integer::sum);
        inFlight.release();
        opening.done.countDown();
      }
    }
  }

  private static double seconds(long nanos) {
    return Math.round(nanos / 1e7) / 100.0;
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
