package io.credbroker.broker.lease;

import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.lease.CredentialQueries.IdentityRole;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the broker does when a binding no longer allows an identity (its configuration changed, and
 * bindings change only when replicas restart with the new one): once this replica is up, every live
 * credential in the cluster that its bindings do not allow stops being renewed, cannot be resumed,
 * and is looked at by its owner at once, whatever that owner's configuration: the owner ends its
 * stream with PERMISSION_DENIED ({@code NOT_BOUND}) and revokes it after the drain grace (see
 * {@link LeaseKeeper}), so that the pod's last connections can finish.
 *
 * <p>Credentials that replicas with the old configuration issue afterwards (during a rolling
 * update) are ended by whichever replica with the new configuration tends them, once it owns them.
 *
 * <p>Thread-safe; {@link #sweep} blocks on the state database.
 */
public final class UnboundCredentials {

  private static final Logger log = LoggerFactory.getLogger(UnboundCredentials.class);

  private final CredentialQueries credentials;
  private final CredentialStore store;
  private final Bindings bindings;
  private final Clock clock;
  private final Duration drainGrace;
  private final LeaseMetrics metrics;

  public UnboundCredentials(
      CredentialQueries credentials,
      CredentialStore store,
      Bindings bindings,
      Clock clock,
      Duration drainGrace,
      LeaseMetrics metrics) {
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.store = Objects.requireNonNull(store, "store");
    this.bindings = Objects.requireNonNull(bindings, "bindings");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.drainGrace = Objects.requireNonNull(drainGrace, "drainGrace");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /**
   * Ends the renewals of the live credentials, cluster-wide, that this replica's bindings do not
   * allow. A failure is logged: each owner still ends those it tends with the new configuration.
   *
   * @return how many credentials it ended
   */
  public int sweep() {
    try {
      Instant now = clock.instant();
      Instant revokeAt = now.plus(drainGrace);
      int total = 0;
      for (IdentityRole live : credentials.liveIdentityRoles()) {
        PodIdentity identity = new PodIdentity(live.namespace(), live.serviceAccount(), null, null);
        if (bindings.allows(identity, live.databaseRole())) {
          continue;
        }
        int ended = store.endRenewalsUnbound(live, revokeAt, now);
        if (ended > 0) {
          metrics.unbound(live.databaseRole(), ended);
          log.info(
              "Service account {}/{} is no longer bound to database role {}: {} live credential(s)"
                  + " revoked at {}, their streams end",
              live.namespace(),
              live.serviceAccount(),
              live.databaseRole(),
              ended,
              revokeAt);
        }
        total += ended;
      }
      return total;
    } catch (RuntimeException e) {
      log.warn("Looking for credentials the bindings no longer allow failed", e);
      return 0;
    }
  }
}
