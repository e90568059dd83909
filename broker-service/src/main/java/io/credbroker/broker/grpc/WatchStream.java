package io.credbroker.broker.grpc;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.credbroker.api.v1.CredentialEvent;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * One open {@code WatchCredential} stream: serialises the events sent to it and respects the
 * client's flow control.
 *
 * <p>Events that matter are queued and written only while the transport {@linkplain
 * ServerCallStreamObserver#isReady() is ready}; the rest are written from the {@code onReady}
 * callback, so a slow client never makes the broker buffer unboundedly in gRPC's transport.
 * Heartbeats are dropped rather than queued when the client is not keeping up: one it never
 * receives changes nothing.
 *
 * <p>Thread-safe: every method locks this object, because events come from the call's thread, the
 * shared heartbeat ticker and (later) renewal and revocation threads.
 */
final class WatchStream {

  private final UUID streamId;
  private final ServerCallStreamObserver<CredentialEvent> observer;

  /**
   * Until when the token the stream was opened with authorises it (at the latest that token's
   * expiry), or {@code null}: for as long as the stream lasts.
   */
  private final @Nullable Instant authorisedUntil;

  /** Changes when a rotation hands the stream a new credential. */
  private volatile UUID credentialId;

  @GuardedBy("this")
  private final ArrayDeque<CredentialEvent> pending = new ArrayDeque<>();

  @GuardedBy("this")
  private boolean closed;

  @GuardedBy("this")
  private boolean started;

  /**
   * @param authorisedUntil until when the token the stream was opened with authorises it, at the
   *     latest that token's expiry ({@code null}: a token that never expires)
   */
  WatchStream(
      UUID streamId,
      UUID credentialId,
      ServerCallStreamObserver<CredentialEvent> observer,
      @Nullable Instant authorisedUntil) {
    this.streamId = Objects.requireNonNull(streamId, "streamId");
    this.credentialId = Objects.requireNonNull(credentialId, "credentialId");
    this.observer = Objects.requireNonNull(observer, "observer");
    this.authorisedUntil = authorisedUntil;
  }

  /** Whether the token the stream was opened with no longer authorises it at {@code now}. */
  boolean authorisationEnded(Instant now) {
    return authorisedUntil != null && !now.isBefore(authorisedUntil);
  }

  /** The id the state store knows this stream by (what its credentials are attached to). */
  UUID streamId() {
    return streamId;
  }

  /** The credential the stream currently holds. */
  UUID credentialId() {
    return credentialId;
  }

  void holdCredential(UUID replacement) {
    this.credentialId = Objects.requireNonNull(replacement, "replacement");
  }

  synchronized boolean isClosed() {
    return closed;
  }

  /**
   * Queues an event and writes as much of the queue as the client accepts now. The very first event
   * is written at once: before the first {@code onReady} the transport may not report ready yet,
   * and one message is always within what gRPC buffers.
   */
  synchronized void send(CredentialEvent event) {
    if (closed) {
      return;
    }
    if (!started) {
      started = true;
      observer.onNext(event);
      return;
    }
    pending.addLast(event);
    drain();
  }

  /**
   * Writes a heartbeat if nothing else is waiting and the client is keeping up; drops it otherwise.
   */
  synchronized void heartbeat(CredentialEvent heartbeat) {
    if (!closed && pending.isEmpty() && observer.isReady()) {
      observer.onNext(heartbeat);
    }
  }

  /** Called when the transport becomes ready again. */
  synchronized void drain() {
    while (!closed && !pending.isEmpty() && observer.isReady()) {
      observer.onNext(pending.pollFirst());
    }
  }

  /** Ends the stream with a status; later events are ignored. */
  synchronized void close(StatusException status) {
    if (closed) {
      return;
    }
    closed = true;
    pending.clear();
    if (!observer.isCancelled()) {
      observer.onError(status);
    }
  }

  /**
   * Writes {@code last} (ignoring flow control: it is one small message) and ends the stream with
   * {@code status}.
   */
  synchronized void closeWith(CredentialEvent last, StatusException status) {
    if (closed) {
      return;
    }
    drain();
    if (!observer.isCancelled()) {
      observer.onNext(last);
    }
    close(status);
  }

  /** Ends the stream with OK (its credential was released). */
  synchronized void complete() {
    if (closed) {
      return;
    }
    closed = true;
    pending.clear();
    if (!observer.isCancelled()) {
      observer.onCompleted();
    }
  }

  /** Marks the stream as gone after the client cancelled it; nothing is written any more. */
  synchronized void cancelled() {
    closed = true;
    pending.clear();
  }
}
