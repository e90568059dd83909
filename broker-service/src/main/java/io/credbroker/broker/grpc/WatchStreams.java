package io.credbroker.broker.grpc;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.CredentialExpiring;
import io.credbroker.api.v1.CredentialRenewed;
import io.credbroker.api.v1.CredentialRevoked;
import io.credbroker.api.v1.CredentialRotated;
import io.credbroker.api.v1.Heartbeat;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.lease.CredentialStreams;
import io.credbroker.broker.lease.IssuedCredential;
import io.credbroker.broker.lease.RevocationTrigger;
import io.credbroker.broker.lease.RotationReason;
import io.grpc.StatusException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code WatchCredential} streams open on this replica, and the one ticker that sends their
 * heartbeats.
 *
 * <p>Also the lease lifecycle's view of the streams ({@link CredentialStreams}): renewals,
 * rotations and warnings become events on the stream holding the credential; a revocation ends that
 * stream.
 *
 * <p>A stream costs one map entry: there is no thread or timer per stream. Every {@code
 * heartbeatInterval} the ticker walks all streams and offers each a heartbeat; every second it ends
 * those whose token no longer authorises them (UNAUTHENTICATED, {@code TOKEN_EXPIRED}): a stream is
 * authorised by one review of the token it was opened with, and lasts no longer than that token nor
 * than {@code credbroker.grpc.max-stream-authorisation} (it ends at a point of the last part of
 * either that {@link io.credbroker.broker.auth.TokenLifetime#streamEnd} picks). Their credentials
 * enter their reconnect grace, and clients resume them with the token the kubelet has put in its
 * place. On shutdown every stream is ended with UNAVAILABLE (so clients reconnect to another
 * replica at once) before the gRPC server waits for calls to finish.
 *
 * <p>A revocation that arrives before its credential's stream registers is not lost (an operator's
 * notice, or this replica's lease lifecycle revoking a credential that a resume here has attached
 * to a stream not registered yet): every revocation is remembered for {@value
 * #REVOCATION_MEMORY_MINUTES} minutes, and a stream that registers with a credential revoked
 * meanwhile is ended at once, as if the notice had come after. {@link #revoked} remembers before it
 * looks for the stream and {@link #register} adds the stream before it looks for a revocation, so
 * whichever runs second sees the other.
 *
 * <p>A renewal is not lost that way either: one of a credential no stream here holds, made while a
 * call here is opening a stream, is remembered for a minute, and a stream that registers with an
 * older expiry than it is sent that renewal at once (a resume read the credential before its lease
 * was renewed, and the next renewal event would only come after that older expiry had passed).
 *
 * <p>Every stream that leaves the map through {@link #unregister} is reported to the {@code
 * streamEnded} callback (by stream id, possibly more than once), which gives back its pod's stream
 * slot.
 *
 * <p>Thread-safe. Lifecycle: the ticker starts with the instance and stops in {@link #close()}.
 */
final class WatchStreams implements AutoCloseable, CredentialStreams {

  private static final Logger log = LoggerFactory.getLogger(WatchStreams.class);
  private static final Duration RETRY_AFTER_SHUTDOWN = Duration.ofMillis(100);

  /** How often streams are checked for an expired token: how late past its expiry one may end. */
  private static final Duration TOKEN_EXPIRY_CHECK = Duration.ofSeconds(1);

  private static final BrokerException TOKEN_EXPIRED =
      new BrokerException(
          BrokerException.Reason.TOKEN_EXPIRED,
          "the service-account token this stream was opened with has expired or is about to (the"
              + " kubelet has replaced it), or was reviewed as long ago as the broker allows a"
              + " stream to last on one review; reconnect with the current token (read the token"
              + " file again) and resume the credential",
          RETRY_AFTER_SHUTDOWN,
          null);

  /** Far longer than issuing or resuming a credential takes between its insert and its stream. */
  private static final int REVOCATION_MEMORY_MINUTES = 5;

  /** What the stream of a revoked credential is told: the event's reason, the status message. */
  private record Revocation(String reason, String message) {}

  /** One per trigger, shared by every credential remembered for it. */
  private static final Map<RevocationTrigger, Revocation> BY_THE_LEASE_LIFECYCLE =
      Arrays.stream(RevocationTrigger.values())
          .collect(
              Collectors.toUnmodifiableMap(
                  Function.identity(),
                  trigger ->
                      new Revocation(
                          BrokerException.Reason.CREDENTIAL_REVOKED.name(),
                          "the credential was revoked ("
                              + trigger.tag()
                              + "); ask for a new one")));

  private final Map<UUID, WatchStream> streams = new ConcurrentHashMap<>();

  /**
   * The ids of streams whose call is issuing or resuming their credential: from {@link
   * #beginOpening} until the call has registered the stream or failed ({@link #endOpening}). One
   * entry per call in progress, so bounded by the calls the server admits at once.
   */
  private final Set<UUID> openingStreams = ConcurrentHashMap.newKeySet();

  /**
   * The expiries of renewals that found no stream while a call was opening one: the credential may
   * be the one that call is resuming. Bounded in size and age; only the milliseconds between a
   * resume's read and its registration matter.
   */
  private final Cache<UUID, Instant> renewedWhileOpening =
      Caffeine.newBuilder().maximumSize(10_000).expireAfterWrite(Duration.ofMinutes(1)).build();

  private final ScheduledExecutorService ticker;
  private final Clock clock;
  private final Consumer<UUID> streamEnded;
  private final Consumer<UUID> streamDetached;

  /**
   * Whether Kubernetes answered a TokenReview since it last failed one (streams are then ended for
   * their token; otherwise one every {@link #PROBE_INTERVAL}).
   */
  private final BooleanSupplier reviewsAnswered;

  /** Whether the ticker last left streams open because Kubernetes did not answer (logged once). */
  private boolean heldForKubernetes;

  /** When the ticker last ended a stream as a probe while Kubernetes did not answer. */
  private @Nullable Instant lastProbe;

  /**
   * While Kubernetes has not answered since it failed a TokenReview, how often one stream whose
   * authorisation has run out is ended anyway, so that its resume finds out whether it answers.
   */
  static final Duration PROBE_INTERVAL = Duration.ofSeconds(30);

  /**
   * Recent revocations by credential id, with what their stream is told; bounded in size and age.
   */
  private final Cache<UUID, Revocation> revokedRecently =
      Caffeine.newBuilder()
          .maximumSize(100_000)
          .expireAfterWrite(Duration.ofMinutes(REVOCATION_MEMORY_MINUTES))
          .build();

  WatchStreams(Duration heartbeatInterval, Clock clock, MeterRegistry meterRegistry) {
    this(heartbeatInterval, clock, meterRegistry, streamId -> {}, streamId -> {});
  }

  WatchStreams(
      Duration heartbeatInterval,
      Clock clock,
      MeterRegistry meterRegistry,
      Consumer<UUID> streamEnded,
      Consumer<UUID> streamDetached) {
    this(heartbeatInterval, clock, meterRegistry, streamEnded, streamDetached, () -> true);
  }

  /**
   * @param streamEnded told the id of every stream that ends (possibly more than once)
   * @param streamDetached told the id of every stream this class ends while its credentials stay
   *     resumable (its token expired), after {@code streamEnded}: their reconnect grace starts
   * @param reviewsAnswered whether Kubernetes answered a TokenReview since it last failed one;
   *     while it has not, streams are not ended for their token's authorisation, but one every
   *     {@link #PROBE_INTERVAL}
   */
  WatchStreams(
      Duration heartbeatInterval,
      Clock clock,
      MeterRegistry meterRegistry,
      Consumer<UUID> streamEnded,
      Consumer<UUID> streamDetached,
      BooleanSupplier reviewsAnswered) {
    this.reviewsAnswered = Objects.requireNonNull(reviewsAnswered, "reviewsAnswered");
    this.streamEnded = Objects.requireNonNull(streamEnded, "streamEnded");
    this.streamDetached = Objects.requireNonNull(streamDetached, "streamDetached");
    Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
    if (heartbeatInterval.isNegative() || heartbeatInterval.isZero()) {
      throw new IllegalArgumentException("heartbeatInterval must be positive");
    }
    this.clock = Objects.requireNonNull(clock, "clock");
    this.ticker =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("watch-stream-heartbeat"));
    long millis = heartbeatInterval.toMillis();
    ticker.scheduleWithFixedDelay(this::heartbeatAll, millis, millis, TimeUnit.MILLISECONDS);
    long check = TOKEN_EXPIRY_CHECK.toMillis();
    ticker.scheduleWithFixedDelay(
        this::endStreamsWithExpiredTokens, check, check, TimeUnit.MILLISECONDS);
    Gauge.builder("credbroker.streams.active", streams, Map::size)
        .description("WatchCredential streams open on this replica")
        .register(meterRegistry);
  }

  /**
   * Adds a stream whose first event was sent; ends it at once when its credential was revoked
   * before it got here, and sends it a renewal made meanwhile that its first event did not carry.
   *
   * <p>A stream that held the credential before (its client resumed it on a new stream here while
   * this replica had not noticed the old one was gone: a half-open connection) ends with
   * UNAVAILABLE: it gets nothing more, and it would otherwise keep its pod's stream slot, without
   * heartbeats, until the transport noticed.
   */
  void register(WatchStream stream, Instant sentExpireTime) {
    UUID credentialId = stream.credentialId();
    WatchStream displaced = streams.put(credentialId, stream);
    if (displaced != null && displaced != stream) {
      displaced.close(
          GrpcErrorMapper.toStatusException(
              new BrokerException(
                  BrokerException.Reason.SHUTTING_DOWN,
                  "the credential was resumed on another stream; this one gets nothing more",
                  RETRY_AFTER_SHUTDOWN,
                  null)));
      streamEnded.accept(displaced.streamId());
    }
    Instant renewedTo = renewedWhileOpening.getIfPresent(credentialId);
    if (renewedTo != null && renewedTo.isAfter(sentExpireTime)) {
      stream.send(renewal(credentialId, renewedTo));
    }
    endIfRevokedRecently(credentialId);
  }

  /** Ends the stream holding {@code credentialId} as its remembered revocation says, if any. */
  private void endIfRevokedRecently(UUID credentialId) {
    Revocation revocation = revokedRecently.getIfPresent(credentialId);
    if (revocation != null) {
      revoked(credentialId, revocation);
    }
  }

  /**
   * Notes that a call has begun to issue or resume the credential of stream {@code streamId}. The
   * call must then {@link #endOpening} it, after it registered the stream or failed.
   */
  void beginOpening(UUID streamId) {
    openingStreams.add(streamId);
  }

  /** The call that began opening stream {@code streamId} has registered it, or failed. */
  void endOpening(UUID streamId) {
    openingStreams.remove(streamId);
  }

  void unregister(WatchStream stream) {
    streams.remove(stream.credentialId(), stream);
    streamEnded.accept(stream.streamId());
  }

  int size() {
    return streams.size();
  }

  @Override
  public boolean holds(UUID credentialId) {
    return streams.containsKey(credentialId);
  }

  @Override
  public boolean opening(UUID streamId) {
    return openingStreams.contains(streamId);
  }

  @Override
  public Set<UUID> held() {
    return Set.copyOf(streams.keySet());
  }

  @Override
  public void renewed(UUID credentialId, Instant expireTime) {
    if (!openingStreams.isEmpty()) {
      // Remembered first: a stream that registers from now on finds it (see register). A call that
      // read the credential before this renewal was recorded began opening before that, and is
      // still opening unless its stream is registered, where the look below finds it.
      renewedWhileOpening.put(credentialId, expireTime);
    }
    WatchStream stream = streams.get(credentialId);
    if (stream != null) {
      stream.send(renewal(credentialId, expireTime));
    }
  }

  private CredentialEvent renewal(UUID credentialId, Instant expireTime) {
    return ProtoCredentials.event(clock)
        .setRenewed(
            CredentialRenewed.newBuilder()
                .setCredentialId(credentialId.toString())
                .setExpireTime(ProtoCredentials.timestamp(expireTime)))
        .build();
  }

  @Override
  public boolean rotated(
      UUID replacedId,
      IssuedCredential replacement,
      Duration previousValidFor,
      RotationReason reason) {
    WatchStream stream = streams.get(replacedId);
    if (stream == null) {
      return false;
    }
    UUID replacementId = replacement.record().id();
    // Known under the new id before the event goes out, so that an acknowledgement or a renewal of
    // the replacement finds the stream.
    stream.holdCredential(replacementId);
    streams.put(replacementId, stream);
    streams.remove(replacedId, stream);
    stream.send(
        ProtoCredentials.event(clock)
            .setRotated(
                CredentialRotated.newBuilder()
                    .setCredential(ProtoCredentials.credential(replacement))
                    .setReplaces(replacedId.toString())
                    .setPreviousValidFor(ProtoCredentials.duration(previousValidFor))
                    .setReason(
                        switch (reason) {
                          case MAX_TTL ->
                              io.credbroker.api.v1.RotationReason.ROTATION_REASON_MAX_TTL;
                          case RENEWAL_REFUSED ->
                              io.credbroker.api.v1.RotationReason.ROTATION_REASON_RENEWAL_REFUSED;
                          case TOKEN_EXPIRY ->
                              io.credbroker.api.v1.RotationReason.ROTATION_REASON_TOKEN_EXPIRY;
                        }))
            .build());
    if (stream.isClosed()) {
      // Cancelled meanwhile; its cancel handler may have unregistered it under the old id.
      streams.remove(replacementId, stream);
      return false;
    }
    // Revoked before this stream held it (its pod, by an operator whose notice reached this
    // replica between the replacement's issue and now): the stream is told at once, as one that
    // registers after its credential's revocation is, instead of staying open on a dropped role.
    endIfRevokedRecently(replacementId);
    return true;
  }

  @Override
  public void expiring(UUID credentialId, Instant expireTime) {
    WatchStream stream = streams.get(credentialId);
    if (stream != null) {
      stream.send(
          ProtoCredentials.event(clock)
              .setExpiring(
                  CredentialExpiring.newBuilder()
                      .setCredentialId(credentialId.toString())
                      .setExpireTime(ProtoCredentials.timestamp(expireTime)))
              .build());
    }
  }

  /**
   * Tells the stream holding the credential (if any on this replica) that it was revoked, and ends
   * it: with PERMISSION_DENIED when {@code reason} is a refusal of the pod ({@code POD_REVOKED}:
   * stop), otherwise with FAILED_PRECONDITION {@code CREDENTIAL_REVOKED} (only this credential is
   * gone: ask for a new one).
   */
  void revoked(UUID credentialId, String reason) {
    revoked(credentialId, new Revocation(reason, "the credential was revoked by an operator"));
  }

  /**
   * Tells the stream holding the credential, now or once it registers, that this replica's lease
   * lifecycle revoked it, and ends it with FAILED_PRECONDITION {@code CREDENTIAL_REVOKED}.
   */
  @Override
  public void revoked(UUID credentialId, RevocationTrigger trigger) {
    revoked(credentialId, BY_THE_LEASE_LIFECYCLE.get(trigger));
  }

  @Override
  public void revokedByOperator(UUID credentialId, boolean podRevoked) {
    revoked(
        credentialId,
        (podRevoked
                ? BrokerException.Reason.POD_REVOKED
                : BrokerException.Reason.CREDENTIAL_REVOKED)
            .name());
  }

  private void revoked(UUID credentialId, Revocation revocation) {
    // Remembered first: a stream that registers from now on finds it (see register).
    revokedRecently.put(credentialId, revocation);
    WatchStream stream = streams.get(credentialId);
    if (stream == null) {
      return;
    }
    BrokerException.Reason mapped = revocationReason(revocation.reason());
    stream.closeWith(
        ProtoCredentials.event(clock)
            .setRevoked(
                CredentialRevoked.newBuilder()
                    .setCredentialId(credentialId.toString())
                    .setReason(revocation.reason()))
            .build(),
        GrpcErrorMapper.toStatusException(new BrokerException(mapped, revocation.message())));
    unregister(stream);
  }

  @Override
  public void end(UUID credentialId, BrokerException why) {
    WatchStream stream = streams.get(credentialId);
    if (stream != null) {
      end(stream, GrpcErrorMapper.toStatusException(why));
    }
  }

  /** Ends the stream holding a released credential (if any on this replica) with OK. */
  void released(UUID credentialId) {
    WatchStream stream = streams.get(credentialId);
    if (stream != null) {
      stream.complete();
      unregister(stream);
    }
  }

  private static BrokerException.Reason revocationReason(String reason) {
    for (BrokerException.Reason candidate : BrokerException.Reason.values()) {
      if (candidate.name().equals(reason)
          && candidate.category() == BrokerException.Category.PERMISSION_DENIED) {
        return candidate;
      }
    }
    return BrokerException.Reason.CREDENTIAL_REVOKED;
  }

  /** Ends every open stream with UNAVAILABLE so that clients move to another replica. */
  void closeAll() {
    closeAll(
        new BrokerException(
            BrokerException.Reason.SHUTTING_DOWN,
            "this broker replica is shutting down; reconnect",
            RETRY_AFTER_SHUTDOWN,
            null));
  }

  /**
   * Ends every open stream with {@code why} (an UNAVAILABLE reason, so that clients move to another
   * replica).
   *
   * @return the ids of the streams ended
   */
  List<UUID> closeAll(BrokerException why) {
    var status = GrpcErrorMapper.toStatusException(why);
    List<UUID> ended = new ArrayList<>();
    for (WatchStream stream : streams.values()) {
      end(stream, status);
      ended.add(stream.streamId());
    }
    return ended;
  }

  @Override
  public void close() {
    ticker.shutdownNow();
  }

  /**
   * Ends the streams whose token has expired, with UNAUTHENTICATED ({@code TOKEN_EXPIRED}) and a
   * short retry delay; their credentials stay resumable for the reconnect grace.
   */
  void endStreamsWithExpiredTokens() {
    try {
      Instant now = clock.instant();
      boolean probing = !reviewsAnswered.getAsBoolean();
      if (probing) {
        // Kubernetes has not answered a TokenReview since it failed one: a stream ended now could
        // not be let back in (its client's resume needs a review), and its credential would be
        // revoked after the grace under a pod that is fine. The streams stay open, but one, as a
        // probe, every PROBE_INTERVAL: its resume's review tells whether Kubernetes answers again
        // (reviews may be rare, with every verdict cached).
        if (!heldForKubernetes) {
          heldForKubernetes = true;
          log.warn(
              "Kubernetes does not answer TokenReviews: streams whose token's authorisation has"
                  + " run out stay open until it does (one ends every {} to find out)",
              PROBE_INTERVAL);
        }
        if (lastProbe != null && now.isBefore(lastProbe.plus(PROBE_INTERVAL))) {
          return;
        }
      } else {
        heldForKubernetes = false;
      }
      for (WatchStream stream : streams.values()) {
        if (stream.authorisationEnded(now)) {
          end(stream, GrpcErrorMapper.toStatusException(TOKEN_EXPIRED));
          streamDetached.accept(stream.streamId());
          if (probing) {
            lastProbe = now;
            break;
          }
        }
      }
    } catch (RuntimeException e) {
      log.warn("Ending the streams whose token expired failed; trying again shortly", e);
    }
  }

  /** Ends {@code stream} with {@code status} and takes it out of the map. */
  private void end(WatchStream stream, StatusException status) {
    stream.close(status);
    unregister(stream);
  }

  private void heartbeatAll() {
    try {
      CredentialEvent heartbeat =
          ProtoCredentials.event(clock).setHeartbeat(Heartbeat.getDefaultInstance()).build();
      for (WatchStream stream : streams.values()) {
        try {
          stream.heartbeat(heartbeat);
        } catch (RuntimeException e) {
          // A stream whose transport just failed must not stop the heartbeats of all the others.
          log.debug("Heartbeat to stream of credential {} failed", stream.credentialId(), e);
        }
      }
    } catch (RuntimeException e) {
      log.warn("Heartbeat round failed", e);
    }
  }
}
