package io.credbroker.broker.lease;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Revokes Vault leases under the broker's roles that no credential record knows, so that no
 * PostgreSQL role lives untracked for longer than {@code grace} plus {@code interval}.
 *
 * <p>How such a lease comes about: Vault issued it, then the state write failed and so did the one
 * cleanup revocation, or the replica died between the two. Nobody renews it, but nobody revokes it
 * either, and it would live until its TTL. Each pass lists the leases of every binding's {@code
 * <mount>/creds/<role>} ({@code LIST sys/leases/lookup/...}), takes out those the state database
 * knows (a credential in any state, or a queued revocation), and revokes the rest once Vault's own
 * {@code issue_time} says they are older than {@code grace}: a credential being issued right now
 * has a lease but no record yet, and must not be revoked under its pod. The grace therefore has to
 * exceed the longest issuance (a creds read, a renewal, a state write, each bounded by its client's
 * timeout) plus any clock difference between Vault and the state database's readers.
 *
 * <p>Every lease under those roles is taken to be the broker's: an operator who reads credentials
 * of the broker's Vault roles by hand will see them revoked after the grace.
 *
 * <p>One replica at a time: a pass runs in a state-database transaction that first takes a
 * transaction-level advisory lock without waiting; a replica that does not get it skips the pass.
 * Thread rule: passes run on one daemon thread of this class, or on the caller's thread through
 * {@link #reconcile()}; the lock makes concurrent passes harmless. Lifecycle: started and stopped
 * by Spring ({@link SmartLifecycle}); the first pass comes one interval (less up to a tenth, at
 * random) after start, so replicas started together spread out.
 */
public final class LeaseReconciler implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(LeaseReconciler.class);

  /**
   * {@code hashtextextended('credbroker.lease.reconcile', 0)} would do too; a constant is plainer.
   */
  static final long LOCK_KEY = 0x6372_6564_7265_6331L;

  private final VaultDatabaseCredentials vault;
  private final CredentialQueries credentials;
  private final Bindings bindings;
  private final JdbcClient jdbc;
  private final TransactionTemplate transactions;
  private final Clock clock;
  private final LeaseMetrics metrics;
  private final BrokerProperties.Reconcile settings;
  private volatile boolean running;
  private @Nullable ScheduledExecutorService ticker;

  /** What one pass found. {@code skipped}: another replica held the lock. */
  public record Pass(boolean skipped, int listed, int unknown, int revoked, int failed) {}

  public LeaseReconciler(
      VaultDatabaseCredentials vault,
      CredentialQueries credentials,
      Bindings bindings,
      JdbcClient jdbc,
      TransactionTemplate transactions,
      Clock clock,
      LeaseMetrics metrics,
      BrokerProperties.Reconcile settings) {
    this.vault = Objects.requireNonNull(vault, "vault");
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.bindings = Objects.requireNonNull(bindings, "bindings");
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
    this.transactions = Objects.requireNonNull(transactions, "transactions");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.settings = Objects.requireNonNull(settings, "settings");
  }

  /**
   * One pass over every binding's Vault role, if no other replica is running one.
   *
   * @throws DataAccessException when the state database cannot be reached (nothing was revoked)
   */
  public Pass reconcile() {
    Pass pass =
        transactions.execute(
            status -> {
              Boolean locked =
                  jdbc.sql("SELECT pg_try_advisory_xact_lock(:key)")
                      .param("key", LOCK_KEY)
                      .query(Boolean.class)
                      .single();
              return Boolean.TRUE.equals(locked) ? reconcileLocked() : new Pass(true, 0, 0, 0, 0);
            });
    return Objects.requireNonNull(pass, "pass");
  }

  private Pass reconcileLocked() {
    Set<String> roles = new LinkedHashSet<>();
    int listed = 0;
    int unknown = 0;
    int revoked = 0;
    int failed = 0;
    for (Binding binding : bindings.all()) {
      if (!roles.add(binding.vaultMount() + "/creds/" + binding.vaultRole())) {
        continue;
      }
      List<String> leaseIds;
      try {
        leaseIds = vault.leaseIds(binding.vaultMount(), binding.vaultRole());
      } catch (BrokerException e) {
        log.warn(
            "Could not list the leases of {}/creds/{} ({}); the next pass tries again",
            binding.vaultMount(),
            binding.vaultRole(),
            e.reason());
        continue;
      }
      listed += leaseIds.size();
      List<String> candidates = new ArrayList<>(leaseIds);
      candidates.removeAll(credentials.knownLeaseIds(leaseIds));
      for (String leaseId : candidates) {
        Outcome outcome = settle(leaseId);
        switch (outcome) {
          case YOUNG, GONE -> {}
          case REVOKED -> {
            unknown++;
            revoked++;
          }
          case FAILED -> {
            unknown++;
            failed++;
          }
        }
      }
    }
    if (unknown > 0) {
      log.info(
          "Lease reconciliation: {} leases listed, {} untracked past the grace, {} revoked",
          listed,
          unknown,
          revoked);
    }
    return new Pass(false, listed, unknown, revoked, failed);
  }

  private enum Outcome {
    YOUNG,
    GONE,
    REVOKED,
    FAILED
  }

  /** Revokes one untracked lease if it is older than the grace. */
  private Outcome settle(String leaseId) {
    try {
      Optional<Instant> issued = vault.leaseIssueTime(leaseId);
      if (issued.isEmpty()) {
        return Outcome.GONE;
      }
      Duration age = Duration.between(issued.get(), clock.instant());
      // Looked up again after Vault's answer: an issuance that was recording just now is known by
      // now.
      if (age.compareTo(settings.grace()) < 0
          || !credentials.knownLeaseIds(List.of(leaseId)).isEmpty()) {
        return Outcome.YOUNG;
      }
      metrics.orphan("found");
      vault.revoke(leaseId);
      metrics.orphan("revoked");
      log.warn(
          "Revoked lease {}: issued {} ago, no credential record knows it (a failed state write or a"
              + " replica that died while issuing)",
          leaseId,
          age);
      return Outcome.REVOKED;
    } catch (BrokerException e) {
      metrics.orphan("failed");
      log.warn(
          "Could not settle untracked lease {} ({}); the next pass tries again",
          leaseId,
          e.reason());
      return Outcome.FAILED;
    }
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    ScheduledExecutorService executor =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("lease-reconcile"));
    long interval = settings.interval().toMillis();
    long first = interval - ThreadLocalRandom.current().nextLong(interval / 10 + 1);
    executor.scheduleWithFixedDelay(this::runQuietly, first, interval, TimeUnit.MILLISECONDS);
    ticker = executor;
    running = true;
  }

  private void runQuietly() {
    try {
      reconcile();
    } catch (DataAccessException e) {
      log.warn("Lease reconciliation skipped: the state database is unavailable", e);
    } catch (RuntimeException e) {
      log.warn("Lease reconciliation failed", e);
    }
  }

  @Override
  public synchronized void stop() {
    running = false;
    ScheduledExecutorService executor = ticker;
    if (executor != null) {
      executor.shutdownNow();
      ticker = null;
    }
  }

  @Override
  public boolean isRunning() {
    return running;
  }
}
