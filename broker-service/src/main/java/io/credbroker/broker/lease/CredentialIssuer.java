package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.BearerToken;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.auth.TokenAuthenticator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The issue flow as one call: authenticate the caller's token, check the request, find the binding
 * that allows it, and issue the credential.
 *
 * <p>Authentication comes first, so that a caller without a valid token learns nothing, not even
 * whether a database role exists. Every outcome is counted in {@code credbroker.credentials.issued}
 * by database role (only configured roles, so that callers cannot inflate the metric's cardinality)
 * and outcome.
 *
 * <p>Thread-safe; blocking.
 */
public class CredentialIssuer {

  private static final Pattern DATABASE_ROLE = Pattern.compile("[A-Za-z0-9_.-]{1,63}");
  private static final String UNKNOWN_ROLE_TAG = "unknown";

  private final TokenAuthenticator authenticator;
  private final Bindings bindings;
  private final LeaseService leases;
  private final MeterRegistry meterRegistry;

  public CredentialIssuer(
      TokenAuthenticator authenticator,
      Bindings bindings,
      LeaseService leases,
      MeterRegistry meterRegistry) {
    this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
    this.bindings = Objects.requireNonNull(bindings, "bindings");
    this.leases = Objects.requireNonNull(leases, "leases");
    this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
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
    try {
      PodIdentity identity = authenticator.authenticate(token);
      validate(databaseRole, requestedTtl);
      Binding binding = bindings.authorize(identity, databaseRole);
      IssuedCredential issued = leases.issue(identity, binding, kind, requestedTtl);
      count(databaseRole, "issued");
      return issued;
    } catch (BrokerException e) {
      count(databaseRole, e.reason().name().toLowerCase(Locale.ROOT));
      throw e;
    }
  }

  /**
   * Answers a request to resume a credential. This broker does not adopt credentials across streams
   * yet, so every credential counts as not resumable; the protocol tells clients to answer that by
   * asking for a new credential. The caller is authenticated first, like every request.
   *
   * @throws BrokerException always: {@code CREDENTIAL_NOT_RESUMABLE} for an authenticated caller
   */
  public void refuseResume(@Nullable BearerToken token, String databaseRole) {
    authenticator.authenticate(token);
    validate(databaseRole, null);
    throw new BrokerException(
        Reason.CREDENTIAL_NOT_RESUMABLE,
        "the credential cannot be resumed; ask for a new one without resume_credential_id");
  }

  private static void validate(String databaseRole, @Nullable Duration requestedTtl) {
    if (databaseRole.isEmpty()) {
      throw new BrokerException(Reason.INVALID_REQUEST, "database_role is required");
    }
    if (!DATABASE_ROLE.matcher(databaseRole).matches()) {
      throw new BrokerException(
          Reason.INVALID_REQUEST,
          "database_role must be 1 to 63 letters, digits, '_', '.' or '-'");
    }
    if (requestedTtl != null && (requestedTtl.isNegative() || requestedTtl.toSeconds() < 1)) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "requested_ttl must be at least one second when set");
    }
  }

  private void count(String databaseRole, String outcome) {
    String role = bindings.find(databaseRole).isPresent() ? databaseRole : UNKNOWN_ROLE_TAG;
    Counter.builder("credbroker.credentials.issued")
        .description("Credential requests by database role and outcome")
        .tag("role", role)
        .tag("outcome", outcome)
        .register(meterRegistry)
        .increment();
  }
}
