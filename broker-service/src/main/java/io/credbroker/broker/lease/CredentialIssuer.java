package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.BearerToken;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.auth.TokenAuthenticator;
import io.credbroker.broker.auth.TokenLifetime;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.vault.CreationNotSent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The pod-facing flows as one call each: authenticate the caller's token, check the request, find
 * the binding that allows it, check that the pod is not blocked, then issue (or resume, release,
 * acknowledge) the credential.
 *
 * <p>Authentication comes first, so that a caller without a valid token learns nothing, not even
 * whether a database role exists. Issued credentials are counted in {@code
 * credbroker.credentials.issued} by database role, refused requests in {@code
 * credbroker.credentials.refused} by database role and reason (only configured roles, so that
 * callers cannot inflate the metrics' cardinality): a rate of issuance is then never a rate of
 * refusals. The issued counter of every configured role exists from the start, at zero.
 *
 * <p>Thread-safe; blocking.
 */
public class CredentialIssuer {

  private static final Pattern DATABASE_ROLE =
      Pattern.compile(BrokerProperties.Binding.DATABASE_ROLE);
  private static final String UNKNOWN_ROLE_TAG = "unknown";

  /**
   * Far beyond any Vault role's max TTL (which Vault applies anyway), and within what Vault's Go
   * durations hold: a longer request is lowered to this before it reaches Vault.
   */
  static final Duration LONGEST_REQUESTED_TTL = Duration.ofDays(100L * 365);

  private final TokenAuthenticator authenticator;
  private final Bindings bindings;
  private final LeaseService leases;
  private final MeterRegistry meterRegistry;
  private final PodAdmission admission;
  private final PodLimits limits;
  private final DepartedPods departedPods;

  /** {@code credbroker.credentials.issued} counters by role tag. */
  private final Map<String, Counter> issuedCounters = new ConcurrentHashMap<>();

  /** {@code credbroker.credentials.refused} counters by role tag and reason. */
  private final Map<String, Counter> refusedCounters = new ConcurrentHashMap<>();

  public CredentialIssuer(
      TokenAuthenticator authenticator,
      Bindings bindings,
      LeaseService leases,
      MeterRegistry meterRegistry) {
    this(authenticator, bindings, leases, meterRegistry, PodAdmission.admitAll());
  }

  public CredentialIssuer(
      TokenAuthenticator authenticator,
      Bindings bindings,
      LeaseService leases,
      MeterRegistry meterRegistry,
      PodAdmission admission) {
    this(
        authenticator,
        bindings,
        leases,
        meterRegistry,
        admission,
        PodLimits.unlimited(),
        DepartedPods.none());
  }

  public CredentialIssuer(
      TokenAuthenticator authenticator,
      Bindings bindings,
      LeaseService leases,
      MeterRegistry meterRegistry,
      PodAdmission admission,
      PodLimits limits,
      DepartedPods departedPods) {
    this.limits = Objects.requireNonNull(limits, "limits");
    this.admission = Objects.requireNonNull(admission, "admission");
    this.departedPods = Objects.requireNonNull(departedPods, "departedPods");
    this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
    this.bindings = Objects.requireNonNull(bindings, "bindings");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
    bindings.all().forEach(binding -> issuedCounter(binding.databaseRole()));
  }

  /**
   * Issues a credential to the caller.
   *
   * @param token the caller's bearer token, or {@code null} when none was sent
   * @param databaseRole the database role asked for
   * @param requestedTtl the requested lease lifetime, or {@code null} for the default
   * @throws BrokerException with the reason the request was refused
   */
  public IssuedCredential issue(
      @Nullable BearerToken token,
      String databaseRole,
      @Nullable Duration requestedTtl,
      CredentialKind kind) {
    return issue(token, databaseRole, requestedTtl, kind, null);
  }

  /**
   * Issues a credential to the caller, held by the stream {@code streamId} when it is for a stream.
   * A stream takes one of the pod's stream slots for the database role, which the caller gives back
   * with {@link #streamEnded} when the stream ends (here, when issuing fails). A requested TTL
   * below the configured minimum is raised to it.
   *
   * @throws BrokerException with the reason the request was refused
   */
  public IssuedCredential issue(
      @Nullable BearerToken token,
      String databaseRole,
      @Nullable Duration requestedTtl,
      CredentialKind kind,
      @Nullable UUID streamId) {
    try {
      PodIdentity identity = authenticator.authenticate(token);
      validate(databaseRole, requestedTtl);
      Binding binding = bindings.authorize(identity, databaseRole);
      admit(identity);
      boolean holdsSlot = kind == CredentialKind.STREAM && streamId != null;
      if (holdsSlot) {
        limits.openStream(identity, databaseRole, streamId);
      }
      try {
        limits.issuance(identity);
        IssuedCredential issued;
        try {
          issued =
              leases.issue(
                  identity,
                  binding,
                  kind,
                  limits.effectiveTtl(capped(requestedTtl)),
                  streamId,
                  null);
        } catch (CreationNotSent e) {
          // Turned away before Vault was asked (a full bulkhead under a rollout's stampede, an
          // open circuit): the pod got nothing, so its retries may not run into its issuance rate.
          limits.issuanceNotUsed(identity);
          throw e;
        }
        refuseIfDepartedMeanwhile(identity, issued);
        issuedCounter(databaseRole).increment();
        return issued;
      } catch (RuntimeException e) {
        if (holdsSlot) {
          limits.streamEnded(streamId);
        }
        throw e;
      }
    } catch (BrokerException e) {
      refusedCounter(databaseRole, e.reason()).increment();
      throw e;
    }
  }

  /**
   * Resumes a credential the caller's pod held on a stream that broke: the stream {@code streamId}
   * on this replica adopts it, and no new role is created.
   *
   * @param credentialId the {@code resume_credential_id} as sent
   * @return the credential, without password
   * @throws BrokerException with the reason the request was refused (see {@link
   *     LeaseService#resume})
   */
  public IssuedCredential resume(
      @Nullable BearerToken token, String databaseRole, String credentialId, UUID streamId) {
    PodIdentity identity = authenticator.authenticate(token);
    validate(databaseRole, null);
    Binding binding = bindings.authorize(identity, databaseRole);
    admit(identity);
    UUID id = parseId(credentialId, "resume_credential_id");
    limits.openStream(identity, databaseRole, streamId);
    try {
      return leases.resume(identity, binding, id, streamId);
    } catch (RuntimeException e) {
      limits.streamEnded(streamId);
      throw e;
    }
  }

  /**
   * When the caller's token, which {@link #issue} or {@link #resume} accepted, was issued and stops
   * being valid (see {@link TokenAuthenticator#tokenLifetime}); {@code null} when it has no expiry.
   */
  public @Nullable TokenLifetime tokenLifetime(@Nullable BearerToken token) {
    return token == null ? null : authenticator.tokenLifetime(token);
  }

  /** The stream {@code streamId} ended: its pod's stream slot is free again. Idempotent. */
  public void streamEnded(UUID streamId) {
    limits.streamEnded(streamId);
  }

  /**
   * Releases a credential of the caller's pod (revoked at once), and a replacement of it a rotation
   * issued.
   *
   * @return the released credential's id, then those of the replacements this call ended
   */
  public List<UUID> release(@Nullable BearerToken token, String credentialId) {
    PodIdentity identity = authenticator.authenticate(token);
    UUID id = parseId(credentialId, "credential_id");
    // Empty when it had ended already: a stream may still hold it all the same.
    List<UUID> ended = leases.release(identity, id);
    return ended.isEmpty() ? List.of(id) : ended;
  }

  /**
   * Who the caller is, and nothing more.
   *
   * @throws BrokerException {@code TOKEN_*} reasons when the token is refused, {@code
   *     KUBERNETES_UNAVAILABLE} when it cannot be checked
   */
  public PodIdentity authenticate(@Nullable BearerToken token) {
    return authenticator.authenticate(token);
  }

  /** Acknowledges a rotation for the caller's pod. */
  public Acknowledgement acknowledge(@Nullable BearerToken token, String credentialId) {
    PodIdentity identity = authenticator.authenticate(token);
    return leases.acknowledge(identity, parseId(credentialId, "credential_id"));
  }

  private void admit(PodIdentity identity) {
    String podUid = identity.podUid();
    if (podUid == null) {
      return;
    }
    // Before the block check: a deleted pod's token is no longer valid, whatever the review cache
    // still says (UNAUTHENTICATED, as Kubernetes itself would answer it now).
    if (departedPods.isDeparted(podUid)) {
      throw PodDepartures.podDeleted(identity);
    }
    if (admission.isBlocked(podUid)) {
      throw new BrokerException(
          Reason.POD_REVOKED, "this pod's credentials were revoked by an operator");
    }
  }

  /**
   * Ends a credential whose pod this replica learnt was deleted while Vault created it, and refuses
   * the request as {@link #admit} would have. The departure ends the pod's credentials that have a
   * row ({@link PodDepartures#departed} remembers the UID before it does): one inserted after that
   * is ended here instead, and one inserted before this look is ended by the departure. Revoked at
   * once: the pod never had its password, so it has no connections to drain.
   */
  private void refuseIfDepartedMeanwhile(PodIdentity identity, IssuedCredential issued) {
    String podUid = identity.podUid();
    if (podUid == null || !departedPods.isDeparted(podUid)) {
      return;
    }
    leases.revoke(issued.record().id(), RevocationTrigger.POD_DELETED);
    throw PodDepartures.podDeleted(identity);
  }

  private static UUID parseId(String value, String field) {
    if (value.isEmpty()) {
      throw new BrokerException(Reason.INVALID_REQUEST, field + " is required");
    }
    try {
      UUID id = UUID.fromString(value);
      if (!id.toString().equals(value.toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException("not canonical");
      }
      return id;
    } catch (IllegalArgumentException e) {
      throw new BrokerException(Reason.INVALID_REQUEST, field + " is not a credential id");
    }
  }

  private static void validate(String databaseRole, @Nullable Duration requestedTtl) {
    if (databaseRole.isEmpty()) {
      throw new BrokerException(Reason.INVALID_REQUEST, "database_role is required");
    }
    if (!DATABASE_ROLE.matcher(databaseRole).matches()) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "database_role must be 1 to 63 letters, digits, '_', '.' or '-'");
    }
    if (requestedTtl != null && (requestedTtl.isNegative() || requestedTtl.toSeconds() < 1)) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "requested_ttl must be at least one second when set");
    }
  }

  private static @Nullable Duration capped(@Nullable Duration requestedTtl) {
    return requestedTtl != null && requestedTtl.compareTo(LONGEST_REQUESTED_TTL) > 0
        ? LONGEST_REQUESTED_TTL
        : requestedTtl;
  }

  // Looked up once per role (and reason) rather than built and registered on every request; both
  // are bounded: configured roles, fixed reasons.
  private Counter issuedCounter(String databaseRole) {
    return issuedCounters.computeIfAbsent(
        databaseRole,
        role ->
            Counter.builder("credbroker.credentials.issued")
                .description("Credentials issued, by database role")
                .tag("role", role)
                .register(meterRegistry));
  }

  private Counter refusedCounter(String databaseRole, Reason reason) {
    String role = bindings.find(databaseRole).isPresent() ? databaseRole : UNKNOWN_ROLE_TAG;
    return refusedCounters.computeIfAbsent(
        role + '/' + reason,
        key ->
            Counter.builder("credbroker.credentials.refused")
                .description("Credential requests refused, by database role and reason")
                .tag("role", role)
                .tag("reason", reason.name().toLowerCase(Locale.ROOT))
                .register(meterRegistry));
  }
}
