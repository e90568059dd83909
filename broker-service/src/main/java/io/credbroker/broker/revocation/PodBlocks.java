package io.credbroker.broker.revocation;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.lease.PodAdmission;
import java.time.Duration;
import java.util.Objects;
import org.springframework.dao.DataAccessException;

/**
 * Answers "is this pod blocked?" for the issue and resume flows, from a per-replica cache in front
 * of the {@code pod_block} table.
 *
 * <p>A cached answer is dropped as soon as a {@code block} or {@code unblock} notification for the
 * UID arrives (from any replica, this one included), and after {@code cacheTtl} at the latest in
 * case a notification was lost (or came from a newer replica in a format this one skips). When the
 * state database cannot be asked, the pod is refused with {@code STATE_STORE_UNAVAILABLE} rather
 * than admitted (fail closed).
 *
 * <p>Thread-safe; one instance per process.
 */
public final class PodBlocks implements PodAdmission {

  private static final long MAX_CACHED_PODS = 100_000;
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final LoadingCache<String, Boolean> cache;

  public PodBlocks(RevocationStore store, Duration cacheTtl, Ticker ticker) {
    Objects.requireNonNull(store, "store");
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(MAX_CACHED_PODS)
            .expireAfterWrite(Objects.requireNonNull(cacheTtl, "cacheTtl"))
            .ticker(ticker)
            .build(store::isBlocked);
  }

  /**
   * @throws BrokerException {@code STATE_STORE_UNAVAILABLE} when the state database cannot answer
   */
  @Override
  public boolean isBlocked(String podUid) {
    try {
      return cache.get(podUid);
    } catch (DataAccessException e) {
      throw new BrokerException(
          Reason.STATE_STORE_UNAVAILABLE,
          "the broker's state store is unavailable; try again later",
          RETRY_AFTER,
          e);
    }
  }

  /** Forgets what is cached about one pod UID (a block notification arrived). */
  void invalidate(String podUid) {
    cache.invalidate(podUid);
  }

  /** Forgets everything (notifications may have been missed while disconnected). */
  void invalidateAll() {
    cache.invalidateAll();
  }
}
