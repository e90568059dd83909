package io.credbroker.broker.auth;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The configured bindings, indexed by database role. Deny by default: a role no binding names does
 * not exist, and an identity its binding does not list is refused.
 *
 * <p>Immutable; safe to share between threads.
 */
public final class Bindings {

  private final Map<String, Binding> byDatabaseRole;

  /**
   * @throws IllegalArgumentException when two bindings name the same database role (the operator
   *     must merge them; silently picking one would grant or deny access by accident)
   */
  public Bindings(Collection<Binding> bindings) {
    Map<String, Binding> index = new LinkedHashMap<>();
    for (Binding binding : bindings) {
      if (index.putIfAbsent(binding.databaseRole(), binding) != null) {
        throw new IllegalArgumentException(
            "database role '" + binding.databaseRole() + "' is bound more than once");
      }
    }
    this.byDatabaseRole = Map.copyOf(index);
  }

  /** Every binding, in no particular order. */
  public Collection<Binding> all() {
    return byDatabaseRole.values();
  }

  public Optional<Binding> find(String databaseRole) {
    return Optional.ofNullable(byDatabaseRole.get(databaseRole));
  }

  /** Whether a binding lets {@code identity} obtain {@code databaseRole}. */
  public boolean allows(PodIdentity identity, String databaseRole) {
    Binding binding = byDatabaseRole.get(databaseRole);
    return binding != null && binding.allows(identity);
  }

  /**
   * Finds the binding that lets {@code identity} obtain {@code databaseRole}.
   *
   * @throws BrokerException {@code UNKNOWN_DATABASE_ROLE} when no binding names the role, {@code
   *     NOT_BOUND} when the identity is not allowed
   */
  public Binding authorize(PodIdentity identity, String databaseRole) {
    Binding binding =
        find(databaseRole)
            .orElseThrow(
                () ->
                    new BrokerException(
                        Reason.UNKNOWN_DATABASE_ROLE,
                        "unknown database role '" + databaseRole + "'"));
    if (!binding.allows(identity)) {
      throw notBound(identity, databaseRole);
    }
    return binding;
  }

  /**
   * What a call (or a stream) of an identity that may not obtain {@code databaseRole} ends with.
   */
  public static BrokerException notBound(PodIdentity identity, String databaseRole) {
    return new BrokerException(
        Reason.NOT_BOUND,
        "service account "
            + identity.namespace()
            + "/"
            + identity.serviceAccount()
            + " is not bound to database role '"
            + databaseRole
            + "'");
  }
}
