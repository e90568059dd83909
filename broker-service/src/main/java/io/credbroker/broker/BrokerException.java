package io.credbroker.broker;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The one exception that domain code throws to tell a caller why a request failed.
 *
 * <p>The {@link Reason} decides what the caller sees (status code, machine-readable reason, whether
 * a retry makes sense); the transport mappers switch on it and nothing else. The message is written
 * for the caller and must never contain a token, password, or text copied from Vault, Kubernetes or
 * SQL: those belong in the cause, which is only logged.
 *
 * <p>Immutable; safe to share between threads.
 */
public class BrokerException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** Why a request failed, grouped by what the caller should do about it. */
  public enum Reason {
    /** No bearer token in the request. */
    TOKEN_MISSING(Category.UNAUTHENTICATED),
    /** The token is not a JWT at all. */
    TOKEN_MALFORMED(Category.UNAUTHENTICATED),
    /** Kubernetes refused the token: expired, forged, wrong audience, or its pod is gone. */
    TOKEN_REJECTED(Category.UNAUTHENTICATED),
    /** The token is valid but bound to no pod, and the broker requires pod-bound tokens. */
    TOKEN_NOT_POD_BOUND(Category.UNAUTHENTICATED),
    /**
     * The token a stream was opened with has expired, or is in its last part of life, when the
     * kubelet has replaced it: the stream ends, as it lasts no longer than that token. The client
     * resumes its credential with the token the kubelet has put in its place.
     */
    TOKEN_EXPIRED(Category.UNAUTHENTICATED),
    /**
     * The pod the token belongs to was deleted (or recreated with a new UID): its streams end and
     * it gets no credential any more, whatever its token's remaining lifetime.
     */
    POD_DELETED(Category.UNAUTHENTICATED),
    /** The pod's service account is not bound to the requested database role. */
    NOT_BOUND(Category.PERMISSION_DENIED),
    /** An operator revoked the pod (by UID): it gets no credential any more, on any replica. */
    POD_REVOKED(Category.PERMISSION_DENIED),
    /** Kubernetes RBAC does not allow the admin caller this action on broker credentials. */
    ACCESS_DENIED(Category.PERMISSION_DENIED),
    /** No binding names the requested database role. */
    UNKNOWN_DATABASE_ROLE(Category.NOT_FOUND),
    /** The broker has never issued a credential to the named pod. */
    POD_NOT_FOUND(Category.NOT_FOUND),
    /** An operator asked to lift the block of a pod that is not blocked. */
    POD_NOT_BLOCKED(Category.NOT_FOUND),
    /** No credential has the given id. */
    CREDENTIAL_NOT_FOUND(Category.NOT_FOUND),
    /**
     * The credential named for resumption cannot be adopted; the client should ask for a new one.
     */
    CREDENTIAL_NOT_RESUMABLE(Category.FAILED_PRECONDITION),
    /**
     * An operator (or the broker) revoked this credential while a stream held it. The pod is not
     * blocked: like a credential that cannot be resumed, the client asks for a new one (a revoked
     * pod is POD_REVOKED).
     */
    CREDENTIAL_REVOKED(Category.FAILED_PRECONDITION),
    /** The credential named in the request belongs to another pod (another pod UID). */
    CREDENTIAL_OF_ANOTHER_POD(Category.PERMISSION_DENIED),
    /** The credential being acknowledged did not come from a rotation. */
    NOT_A_ROTATION(Category.FAILED_PRECONDITION),
    /** The request itself is malformed. */
    INVALID_REQUEST(Category.INVALID_ARGUMENT),
    /** The broker refuses more concurrent work of this kind right now. */
    OVERLOADED(Category.RESOURCE_EXHAUSTED),
    /** The pod already holds as many streams for this database role as a pod may. */
    TOO_MANY_STREAMS(Category.RESOURCE_EXHAUSTED),
    /** The pod asked for credentials faster than its issuance rate allows. */
    ISSUANCE_RATE_EXCEEDED(Category.RESOURCE_EXHAUSTED),
    /** Too many unknown tokens are being checked with Kubernetes right now; this one was not. */
    TOKEN_REVIEWS_THROTTLED(Category.RESOURCE_EXHAUSTED),
    /** Vault cannot be reached, timed out, or failed on its side. */
    VAULT_UNAVAILABLE(Category.UNAVAILABLE),
    /** The Kubernetes API cannot be reached, so no token can be checked (fail closed). */
    KUBERNETES_UNAVAILABLE(Category.UNAVAILABLE),
    /** The broker's own state database cannot be reached. */
    STATE_STORE_UNAVAILABLE(Category.UNAVAILABLE),
    /** The broker is shutting down; another replica can serve the request. */
    SHUTTING_DOWN(Category.UNAVAILABLE),
    /** Vault refused a request the broker built from its configuration: an operator must fix it. */
    VAULT_REJECTED(Category.INTERNAL),
    /** A defect in the broker. */
    INTERNAL(Category.INTERNAL);

    private final Category category;

    Reason(Category category) {
      this.category = category;
    }

    public Category category() {
      return category;
    }
  }

  /** Transport-neutral classes of failure; the mappers turn each into one status code. */
  public enum Category {
    UNAUTHENTICATED,
    PERMISSION_DENIED,
    NOT_FOUND,
    INVALID_ARGUMENT,
    FAILED_PRECONDITION,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    INTERNAL
  }

  private final Reason reason;
  private final @Nullable Duration retryAfter;

  public BrokerException(Reason reason, String message) {
    this(reason, message, null, null);
  }

  public BrokerException(Reason reason, String message, @Nullable Throwable cause) {
    this(reason, message, null, cause);
  }

  /**
   * @param retryAfter how long a caller should wait before retrying, or {@code null} when a retry
   *     of the same request cannot succeed
   */
  public BrokerException(
      Reason reason, String message, @Nullable Duration retryAfter, @Nullable Throwable cause) {
    super(Objects.requireNonNull(message, "message"), cause);
    this.reason = Objects.requireNonNull(reason, "reason");
    if (retryAfter != null && retryAfter.isNegative()) {
      throw new IllegalArgumentException("retryAfter must not be negative");
    }
    this.retryAfter = retryAfter;
  }

  public Reason reason() {
    return reason;
  }

  /**
   * How long to wait before retrying, or {@code null} when retrying the same request is pointless.
   */
  public @Nullable Duration retryAfter() {
    return retryAfter;
  }
}
