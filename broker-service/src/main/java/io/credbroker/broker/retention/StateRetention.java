package io.credbroker.broker.retention;

import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.cluster.ReplicaStore;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialStore;
import io.credbroker.broker.revocation.RevocationStore;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Deletes ended credentials and audit events older than their retention, and the rows of replicas
 * long dead, so that the state tables stop growing with every credential ever issued and every
 * broker process ever started. The tables' owners write the deletes ({@link
 * CredentialStore#deleteEnded}, {@link RevocationStore#deleteAuditEvents}, {@link
 * ReplicaStore#deleteDead}); this class decides when and holds the lock.
 *
 * <p>A credential is deleted only once it has ended (released, revoked or expired) more than {@code
 * endedCredentials} ago and no revocation of its lease waits in the retry queue; a live one is
 * never touched, whatever its age. A replica's row is deleted once its last heartbeat is more than
 * {@code deadReplicas} ago and no live credential names it as its owner (the takeover, which finds
 * a dead replica's credentials through its row, has moved them all); the rows of ended credentials
 * keep its name without its row. Ages are counted by the database's clock. Rows go in batches of
 * {@code batchSize}, each batch its own short transaction, so that a large backlog (the first run
 * after an upgrade) never holds locks for long.
 *
 * <p>One replica at a time: each batch first takes a transaction-level advisory lock without
 * waiting; a replica that does not get it leaves the pass to the one that has it. Thread rule:
 * passes run on one daemon thread of this class, or on the caller's thread through {@link
 * #purge()}. Lifecycle: started and stopped by Spring ({@link SmartLifecycle}); the first pass
 * comes one interval (less up to a tenth, at random) after start.
 */
public final class StateRetention implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(StateRetention.class);

  /** The advisory lock key of retention passes (distinct from every other lock of the broker). */
  static final long LOCK_KEY = 0x6372_6564_7265_7472L;

  private final JdbcClient jdbc;
  private final TransactionTemplate transactions;
  private final CredentialStore credentials;
  private final RevocationStore revocations;
  private final ReplicaStore replicas;
  private final BrokerProperties.Retention settings;
  private volatile boolean running;
  private @Nullable ScheduledExecutorService ticker;

  /** What one pass deleted. {@code skipped}: another replica held the lock. */
  public record Purge(boolean skipped, int credentials, int auditEvents, int replicas) {}

  /**
   * @param jdbc the state database, for the advisory lock; the same one as {@code transactions},
   *     {@code credentials}, {@code revocations} and {@code replicas}, so that each batch's delete
   *     runs in the transaction that holds the lock
   */
  public StateRetention(
      JdbcClient jdbc,
      TransactionTemplate transactions,
      CredentialStore credentials,
      RevocationStore revocations,
      ReplicaStore replicas,
      BrokerProperties.Retention settings) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
    this.transactions = Objects.requireNonNull(transactions, "transactions");
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.revocations = Objects.requireNonNull(revocations, "revocations");
    this.replicas = Objects.requireNonNull(replicas, "replicas");
    this.settings = Objects.requireNonNull(settings, "settings");
  }

  /**
   * One pass: deletes what is past its retention, batch by batch, unless another replica is at it.
   *
   * @throws DataAccessException when the state database cannot be reached
   */
  public Purge purge() {
    int credentials = 0;
    int auditEvents = 0;
    int replicas = 0;
    int deleted;
    do {
      deleted =
          locked(
              () ->
                  this.credentials.deleteEnded(settings.endedCredentials(), settings.batchSize()));
      if (deleted < 0) {
        return new Purge(true, credentials, auditEvents, replicas);
      }
      credentials += deleted;
    } while (deleted == settings.batchSize());
    do {
      deleted =
          locked(() -> revocations.deleteAuditEvents(settings.auditEvents(), settings.batchSize()));
      if (deleted < 0) {
        return new Purge(true, credentials, auditEvents, replicas);
      }
      auditEvents += deleted;
    } while (deleted == settings.batchSize());
    // A batch that skipped replicas still owning live credentials ends the pass; the next pass
    // comes back to the rest (the takeover has moved those credentials within seconds by then).
    do {
      deleted =
          locked(() -> this.replicas.deleteDead(settings.deadReplicas(), settings.batchSize()));
      if (deleted < 0) {
        return new Purge(true, credentials, auditEvents, replicas);
      }
      replicas += deleted;
    } while (deleted == settings.batchSize());
    if (credentials > 0 || auditEvents > 0 || replicas > 0) {
      log.info(
          "Retention deleted {} ended credentials (older than {}), {} audit events (older than"
              + " {}) and {} rows of dead replicas (silent for more than {})",
          credentials,
          settings.endedCredentials(),
          auditEvents,
          settings.auditEvents(),
          replicas,
          settings.deadReplicas());
    }
    return new Purge(false, credentials, auditEvents, replicas);
  }

  /**
   * One batch under the lock, in one transaction: the rows {@code delete} deleted, or -1 when
   * another replica holds the lock.
   */
  private int locked(IntSupplier delete) {
    Integer deleted =
        transactions.execute(
            status -> {
              Boolean locked =
                  jdbc.sql("SELECT pg_try_advisory_xact_lock(:key)")
                      .param("key", LOCK_KEY)
                      .query(Boolean.class)
                      .single();
              if (!Boolean.TRUE.equals(locked)) {
                return -1;
              }
              return delete.getAsInt();
            });
    return Objects.requireNonNull(deleted, "deleted");
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    ScheduledExecutorService executor =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("state-retention"));
    long interval = settings.interval().toMillis();
    long first = interval - ThreadLocalRandom.current().nextLong(interval / 10 + 1);
    executor.scheduleWithFixedDelay(this::purgeQuietly, first, interval, TimeUnit.MILLISECONDS);
    ticker = executor;
    running = true;
  }

  private void purgeQuietly() {
    try {
      purge();
    } catch (DataAccessException e) {
      log.warn("Retention pass skipped: the state database is unavailable", e);
    } catch (RuntimeException e) {
      log.warn("Retention pass failed", e);
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
