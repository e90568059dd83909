package io.credbroker.loadtest.storms;

import io.credbroker.client.ClientEventListener;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.CredentialBrokerException;
import io.credbroker.client.CredentialListener;
import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.PodToken;
import io.grpc.Channel;
import io.grpc.Status;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Pods that hold their credential as an application does: one {@link CredentialBrokerClient} each
 * (its own token file, the SDK's default backoff, resume and idle timeout), one {@code watch} of
 * the database role. Counts every status the clients saw and how each credential arrived, and keeps
 * per pod when it started and what it holds.
 *
 * <p>Lifecycle: {@link #create} writes the pods and token files; {@link #start} opens a pod's
 * subscription; {@link #close} closes every client, which releases its credential. Thread-safe: the
 * SDK calls the listeners on its own threads.
 */
final class StormPods implements AutoCloseable {

  private static final Duration TOKEN_TTL = Duration.ofHours(2);
  private static final int CLOSE_THREADS = 8;

  /** What one pod holds, written by the SDK's threads. */
  static final class PodState {
    final PodToken pod;
    final Path tokenFile;
    volatile long startNanos;
    volatile long firstCredentialNanos;
    volatile long lastCredentialNanos;
    volatile @Nullable String credentialId;
    volatile ClientEventListener.@Nullable CredentialSource lastSource;
    volatile @Nullable String stoppedWith;
    final AtomicInteger credentials = new AtomicInteger();
    final AtomicInteger renewals = new AtomicInteger();
    volatile @Nullable CredentialBrokerClient client;

    /** When {@link #stop} began and ended for it (its client closed, its pod deleted); 0 before. */
    volatile long stopStartNanos;

    volatile long stoppedNanos;

    PodState(PodToken pod, Path tokenFile) {
      this.pod = pod;
      this.tokenFile = tokenFile;
    }

    boolean holds() {
      return credentialId != null && stoppedWith == null;
    }
  }

  private final List<PodState> pods;
  private final ExecutorService callbacks =
      Executors.newFixedThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "storm-callbacks");
            t.setDaemon(true);
            return t;
          });
  private final Map<String, AtomicInteger> statuses = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> sources = new ConcurrentHashMap<>();
  private final AtomicInteger connectAttempts = new AtomicInteger();
  private final AtomicInteger resumeAttempts = new AtomicInteger();
  private final AtomicLong maxReconnectDelayMillis = new AtomicLong();
  private final AtomicLong renewalEvents = new AtomicLong();

  private StormPods(List<PodState> pods) {
    this.pods = List.copyOf(pods);
  }

  /**
   * Creates {@code count} running pods {@code <prefix>-<i>} in the Kubernetes stand-in and writes
   * each one's projected token to {@code <tokenDir>/<pod>}, readable by its owner only.
   */
  static StormPods create(LoadStack stack, String prefix, int count, Path tokenDir) {
    try {
      Files.createDirectories(tokenDir);
      List<PodState> states = new ArrayList<>(count);
      for (PodToken pod : stack.createPods(prefix, count, TOKEN_TTL)) {
        Path file = tokenDir.resolve(pod.podName());
        Files.deleteIfExists(file);
        Files.createFile(
            file,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, pod.token());
        states.add(new PodState(pod, file));
      }
      return new StormPods(states);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the pods' tokens under " + tokenDir, e);
    }
  }

  int size() {
    return pods.size();
  }

  PodState pod(int i) {
    return pods.get(i);
  }

  List<PodState> pods() {
    return pods;
  }

  /** Opens pod {@code i}'s subscription over {@code channel}; returns at once. */
  void start(int i, Channel channel) {
    PodState pod = pods.get(i);
    CredentialBrokerClient client =
        CredentialBrokerClient.builder()
            .channel(channel)
            .tokenFile(pod.tokenFile)
            .callbackExecutor(callbacks)
            .eventListener(new Events(pod))
            .build();
    pod.client = client;
    pod.startNanos = System.nanoTime();
    client.watch(
        LoadStack.DATABASE,
        new CredentialListener() {
          @Override
          public void onCredential(Credential credential) {}

          @Override
          public void onStopped(CredentialBrokerException error) {
            pod.stoppedWith = error.code() + (error.reason() == null ? "" : " " + error.reason());
          }
        });
  }

  /**
   * Shuts pod {@code i} down as a rolling update does: its client closes (which releases its
   * credential through the broker), then its pod object is deleted. Blocks until both are done.
   */
  void stop(int i, LoadStack stack) {
    PodState pod = pods.get(i);
    pod.stopStartNanos = System.nanoTime();
    CredentialBrokerClient client = pod.client;
    if (client != null) {
      client.close();
    }
    stack.deletePod(pod.pod);
    pod.stoppedNanos = System.nanoTime();
  }

  /**
   * Opens every pod's subscription, pod {@code i} over {@code channelOf(i)}, with at most {@code
   * inFlight} pods waiting for their first credential at once (a paced start, unlike a rollout);
   * returns whether every pod holds a credential within {@code timeout}.
   */
  boolean openAll(
      java.util.function.IntFunction<Channel> channelOf,
      int inFlight,
      Duration timeout,
      java.util.function.IntConsumer progress) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < pods.size(); i++) {
      while (i
              - (int)
                  pods.stream().filter(p -> p.credentialId != null || p.stoppedWith != null).count()
          >= inFlight) {
        if (System.nanoTime() > deadline) {
          return false;
        }
        pause();
      }
      start(i, channelOf.apply(i));
    }
    return awaitAll(
        StormPods.PodState::holds,
        Duration.ofNanos(Math.max(0, deadline - System.nanoTime())),
        progress);
  }

  /**
   * Waits until {@code condition} holds for every pod, or {@code timeout} passed; returns whether
   * it held. {@code progress} is called about every 5 s with the count of pods that satisfy it.
   */
  boolean awaitAll(
      Predicate<PodState> condition, Duration timeout, java.util.function.IntConsumer progress) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long nextReport = System.nanoTime();
    while (true) {
      int ok = (int) pods.stream().filter(condition).count();
      if (ok == pods.size()) {
        return true;
      }
      if (System.nanoTime() - nextReport >= 0) {
        progress.accept(ok);
        nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      pause();
    }
  }

  private static void pause() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Every stream error the clients saw, as {@code CODE} or {@code CODE REASON}, with counts. */
  Map<String, Integer> statuses() {
    return counts(statuses);
  }

  /** How credentials arrived ({@code ISSUED}, {@code RESUMED}, {@code ROTATED}), with counts. */
  Map<String, Integer> sources() {
    return counts(sources);
  }

  int connectAttempts() {
    return connectAttempts.get();
  }

  int resumeAttempts() {
    return resumeAttempts.get();
  }

  long maxReconnectDelayMillis() {
    return maxReconnectDelayMillis.get();
  }

  long renewalEvents() {
    return renewalEvents.get();
  }

  /** Pods whose subscription gave up, by the status it gave up with. */
  Map<String, Integer> stopped() {
    Map<String, Integer> out = new TreeMap<>();
    for (PodState p : pods) {
      String s = p.stoppedWith;
      if (s != null) {
        out.merge(s, 1, Integer::sum);
      }
    }
    return out;
  }

  /** Closes every client (each releases its credential through the broker), in parallel. */
  @Override
  public void close() {
    ExecutorService pool = Executors.newFixedThreadPool(CLOSE_THREADS);
    try {
      List<Future<?>> work = new ArrayList<>();
      for (PodState p : pods) {
        CredentialBrokerClient c = p.client;
        if (c != null) {
          work.add(pool.submit(c::close));
        }
      }
      for (Future<?> f : work) {
        f.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      // close() never throws; nothing to add to the report.
    } finally {
      pool.shutdownNow();
      callbacks.shutdownNow();
    }
  }

  private static Map<String, Integer> counts(Map<String, AtomicInteger> live) {
    Map<String, Integer> out = new TreeMap<>();
    live.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  /** One pod's SDK events; called on the SDK's threads, never blocks. */
  private final class Events implements ClientEventListener {
    private final PodState pod;

    Events(PodState pod) {
      this.pod = pod;
    }

    @Override
    public void connectStarted(
        String databaseRole, int attempt, @Nullable String resumeCredentialId) {
      connectAttempts.incrementAndGet();
      if (resumeCredentialId != null) {
        resumeAttempts.incrementAndGet();
      }
    }

    @Override
    public void streamFailed(String databaseRole, Status.Code code, @Nullable String reason) {
      statuses
          .computeIfAbsent(code + (reason == null ? "" : " " + reason), k -> new AtomicInteger())
          .incrementAndGet();
    }

    @Override
    public void reconnectScheduled(String databaseRole, int attempt, Duration delay) {
      maxReconnectDelayMillis.accumulateAndGet(delay.toMillis(), Math::max);
    }

    @Override
    public void credentialReceived(
        String databaseRole, String credentialId, CredentialSource source) {
      long now = System.nanoTime();
      if (pod.credentials.getAndIncrement() == 0) {
        pod.firstCredentialNanos = now;
      }
      pod.lastCredentialNanos = now;
      pod.lastSource = source;
      pod.credentialId = credentialId;
      sources.computeIfAbsent(source.name(), k -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void credentialRenewed(
        String databaseRole, String credentialId, @Nullable Instant expireTime) {
      pod.renewals.incrementAndGet();
      renewalEvents.incrementAndGet();
    }
  }
}
