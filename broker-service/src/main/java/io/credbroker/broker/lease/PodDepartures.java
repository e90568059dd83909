package io.credbroker.broker.lease;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.PodIdentity;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the broker does when a pod it serves is gone: its UID is remembered, so that it obtains no
 * new credential and no rotation even while its token is still cached as valid; every live
 * credential of that UID stops being renewed, cannot be resumed and is revoked by its owner after
 * the drain grace (so that the pod's last connections, if it is still shutting down, can finish);
 * and the streams of those credentials on this replica end at once with UNAUTHENTICATED ({@code
 * POD_DELETED}).
 *
 * <p>Matched by UID only: a pod recreated with the same name has a new UID and is not affected. The
 * UID is remembered for {@code memory} (longer than a token review is cached; after that Kubernetes
 * itself rejects a token bound to a deleted pod).
 *
 * <p>Thread-safe; {@link #departed} blocks on the state database.
 */
public final class PodDepartures implements DepartedPods {

  private static final Logger log = LoggerFactory.getLogger(PodDepartures.class);
  private static final long MAX_REMEMBERED = 100_000;

  /** How the broker learnt that the pod is gone, as a metric tag. */
  public enum Cause {
    /** A DELETED watch event. */
    DELETED,
    /** The pod was missing (or had another UID) when the pods were listed or looked up again. */
    ABSENT;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final CredentialStore store;
  private final CredentialStreams streams;
  private final Clock clock;
  private final Duration drainGrace;
  private final MeterRegistry meterRegistry;
  private final Cache<String, Boolean> departed;

  public PodDepartures(
      CredentialStore store,
      CredentialStreams streams,
      Clock clock,
      Duration drainGrace,
      Duration memory,
      MeterRegistry meterRegistry) {
    this.store = Objects.requireNonNull(store, "store");
    this.streams = Objects.requireNonNull(streams, "streams");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.drainGrace = Objects.requireNonNull(drainGrace, "drainGrace");
    this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
    this.departed =
        Caffeine.newBuilder()
            .maximumSize(MAX_REMEMBERED)
            .expireAfterWrite(Objects.requireNonNull(memory, "memory"))
            .build();
  }

  @Override
  public boolean isDeparted(String podUid) {
    return departed.getIfPresent(podUid) != null;
  }

  /**
   * The pod is gone: remembers its UID, ends the renewals of its credentials (revoked after the
   * drain grace) and ends their streams on this replica.
   *
   * @param pod the pod, with name and UID
   * @return how many live credentials it had
   */
  public int departed(PodIdentity pod, Cause cause) {
    String podUid = Objects.requireNonNull(pod.podUid(), "pod UID");
    boolean known = departed.asMap().putIfAbsent(podUid, Boolean.TRUE) != null;
    Instant revokeAt = clock.instant().plus(drainGrace);
    List<UUID> credentials = store.endRenewalsOfPod(podUid, revokeAt);
    BrokerException why = podDeleted(pod);
    for (UUID id : credentials) {
      streams.end(id, why);
    }
    if (!credentials.isEmpty() || !known) {
      Counter.builder("credbroker.pods.departed")
          .description("Pods found deleted while the broker served them or remembered them")
          .tag("cause", cause.tag())
          .tag("served", credentials.isEmpty() ? "false" : "true")
          .register(meterRegistry)
          .increment();
    }
    if (!credentials.isEmpty()) {
      log.info(
          "Pod {}/{} (UID {}) is gone ({}): {} credential(s) revoked at {}, their streams ended",
          pod.namespace(),
          pod.podName(),
          podUid,
          cause.tag(),
          credentials.size(),
          revokeAt);
    }
    return credentials.size();
  }

  /** What a deleted pod's streams and requests end with. */
  static BrokerException podDeleted(PodIdentity pod) {
    return new BrokerException(
        Reason.POD_DELETED,
        "pod "
            + pod.namespace()
            + "/"
            + pod.podName()
            + " was deleted; its credentials are revoked and its token is no longer accepted");
  }
}
