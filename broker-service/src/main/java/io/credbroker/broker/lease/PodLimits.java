package io.credbroker.broker.lease;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.config.BrokerProperties;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * What one pod may cost this replica: how many streams it holds open per database role, how short a
 * lease it may ask for, and how fast it may obtain new credentials.
 *
 * <p>A pod is its UID; for a token without one, its namespace and name, or its namespace and
 * service account. Every key comes from a TokenReview, never from what a caller merely sent, and
 * both maps are bounded: open streams by the streams themselves (an entry goes with its last
 * stream), issuance buckets by {@code trackedPods} and by expiry once a bucket would be full again.
 *
 * <p>Thread-safe. Stream slots are taken with {@link #openStream} and given back with {@link
 * #streamEnded}, which is idempotent, so every path that ends a stream may call it.
 */
public final class PodLimits {

  /** A pod that holds too many streams may free one by closing its stale stream. */
  private static final Duration STREAM_RETRY_AFTER = Duration.ofSeconds(5);

  private final int streamsPerPodRole;
  private final Duration minRequestedTtl;
  private final int burst;
  private final long nanosPerToken;
  private final Ticker ticker;

  /** Open streams by pod and database role. */
  private final Map<String, Integer> openStreams = new ConcurrentHashMap<>();

  /** The key each open stream counts under, so that its end gives the right slot back once. */
  private final Map<UUID, String> streamKeys = new ConcurrentHashMap<>();

  private final Cache<String, Bucket> buckets;

  public PodLimits(BrokerProperties.Limits limits, Ticker ticker) {
    Objects.requireNonNull(limits, "limits");
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    this.streamsPerPodRole = limits.streamsPerPodRole();
    this.minRequestedTtl = Objects.requireNonNull(limits.minRequestedTtl(), "minRequestedTtl");
    this.burst = limits.issuanceBurst();
    this.nanosPerToken = TimeUnit.MINUTES.toNanos(1) / limits.issuancesPerMinute();
    this.buckets =
        Caffeine.newBuilder()
            .maximumSize(limits.trackedPods())
            // Once it would be full again, a bucket is the same as none.
            .expireAfterAccess(Duration.ofNanos(nanosPerToken * burst))
            .ticker(ticker)
            .build();
  }

  /** No limits at all: for brokers wired without them (tests of other features). */
  public static PodLimits unlimited() {
    return new PodLimits(
        new BrokerProperties.Limits(
            Integer.MAX_VALUE, Duration.ZERO, Integer.MAX_VALUE, 60_000_000, 1, 1, 1),
        Ticker.systemTicker());
  }

  /**
   * The lease lifetime to ask Vault for: the client's request, raised to the minimum.
   *
   * @param requested what the client asked for, or {@code null} for the Vault role's default
   */
  public @Nullable Duration effectiveTtl(@Nullable Duration requested) {
    if (requested == null || requested.compareTo(minRequestedTtl) >= 0) {
      return requested;
    }
    return minRequestedTtl;
  }

  /**
   * Takes a stream slot of {@code pod} for {@code databaseRole}, held by {@code streamId} until
   * {@link #streamEnded}.
   *
   * @throws BrokerException {@code TOO_MANY_STREAMS} when the pod holds the most it may
   */
  public void openStream(PodIdentity pod, String databaseRole, UUID streamId) {
    String key = podKey(pod) + '|' + databaseRole;
    boolean[] admitted = new boolean[1];
    openStreams.compute(
        key,
        (k, open) -> {
          int count = open == null ? 0 : open;
          if (count >= streamsPerPodRole) {
            return open;
          }
          admitted[0] = true;
          return count + 1;
        });
    if (!admitted[0]) {
      throw new BrokerException(
          Reason.TOO_MANY_STREAMS,
          "this pod already holds "
              + streamsPerPodRole
              + " streams for this database role on this replica; close one first",
          STREAM_RETRY_AFTER,
          null);
    }
    streamKeys.put(streamId, key);
  }

  /** Gives back the slot the stream held, if any; idempotent. */
  public void streamEnded(UUID streamId) {
    String key = streamKeys.remove(streamId);
    if (key != null) {
      openStreams.computeIfPresent(key, (k, open) -> open <= 1 ? null : open - 1);
    }
  }

  /** How many streams hold slots right now; for tests and diagnostics. */
  public int openStreams() {
    return streamKeys.size();
  }

  /**
   * Takes one issuance from {@code pod}'s bucket.
   *
   * @throws BrokerException {@code ISSUANCE_RATE_EXCEEDED}, with when the next one is possible,
   *     when the bucket is empty
   */
  public void issuance(PodIdentity pod) {
    Bucket bucket = buckets.get(podKey(pod), k -> new Bucket(burst, ticker.read()));
    long waitNanos = bucket.take(ticker.read());
    if (waitNanos > 0) {
      throw new BrokerException(
          Reason.ISSUANCE_RATE_EXCEEDED,
          "this pod asked for new credentials too often; keep the credential it has, or retry later",
          Duration.ofNanos(waitNanos),
          null);
    }
  }

  /**
   * Gives back the issuance {@link #issuance} took from {@code pod}'s bucket for a request that
   * created nothing: the broker turned it away before asking Vault, so it cost Vault nothing. A
   * bucket dropped meanwhile is full again anyway.
   */
  public void issuanceNotUsed(PodIdentity pod) {
    Bucket bucket = buckets.getIfPresent(podKey(pod));
    if (bucket != null) {
      bucket.giveBack(ticker.read());
    }
  }

  private static String podKey(PodIdentity pod) {
    if (pod.podUid() != null) {
      return pod.podUid();
    }
    if (pod.podName() != null) {
      return pod.namespace() + '/' + pod.podName();
    }
    return pod.namespace() + "/serviceaccount/" + pod.serviceAccount();
  }

  /** A token bucket: {@code burst} tokens, one more every {@link #nanosPerToken}. */
  private final class Bucket {

    @GuardedBy("this")
    private double tokens;

    @GuardedBy("this")
    private long updated;

    Bucket(int tokens, long now) {
      this.tokens = tokens;
      this.updated = now;
    }

    /** Takes a token; returns 0, or how long until one is there (nothing taken then). */
    synchronized long take(long now) {
      refill(now);
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return Math.max(1, (long) ((1 - tokens) * nanosPerToken));
    }

    /** Puts back a token {@link #take} took, never beyond the burst. */
    synchronized void giveBack(long now) {
      refill(now);
      tokens = Math.min(burst, tokens + 1);
    }

    @GuardedBy("this")
    private void refill(long now) {
      tokens = Math.min(burst, tokens + (double) (now - updated) / nanosPerToken);
      updated = now;
    }
  }
}
