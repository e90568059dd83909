package io.credbroker.client.hikari;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.CredentialBrokerException;
import io.credbroker.client.CredentialListener;
import io.credbroker.client.CredentialSubscription;
import java.io.Closeable;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * A {@link DataSource} backed by a HikariCP pool that always logs in with the broker's live
 * credential for one database role; it takes the place of a Vault Agent sidecar that rewrites a
 * credentials file.
 *
 * <p>On the first credential it builds a pool. On each later one (a rotation, or a fresh credential
 * after a lost one) it builds a new pool, checks that it can log in, switches to it atomically, and
 * only then lets the client acknowledge the rotation. The old pool is drained gracefully: idle
 * connections close at once, borrowed ones when they are returned, and the pool itself closes once
 * none is borrowed (or after the drain timeout).
 *
 * <p>Thread-safe. {@link #getConnection()} blocks until the first credential arrives, up to the
 * configured timeout. {@link #close()} closes the subscription (releasing the credential at the
 * broker) and every pool.
 */
public final class RotatingDataSource implements DataSource, Closeable {

  private static final System.Logger LOG = System.getLogger(RotatingDataSource.class.getName());
  private static final Duration DRAIN_POLL = Duration.ofMillis(50);

  /**
   * The {@code ErrorInfo} reason with which the broker refuses a pod an operator revoked. A pod
   * revocation covers every credential of the pod, so the pool's no longer logs in either. ({@code
   * CREDENTIAL_REVOKED} names one credential, which need not be the pool's, and always comes after
   * a {@code revoked} event.)
   */
  private static final String POD_REVOKED = "POD_REVOKED";

  private final String databaseRole;
  private final HikariConfig template;
  private final @Nullable String jdbcUrlOverride;
  private final Duration initialCredentialTimeout;
  private final Duration drainTimeout;
  private final ScheduledExecutorService drainer;
  private final AtomicInteger poolCounter = new AtomicInteger();
  private final AtomicReference<@Nullable ActivePool> active = new AtomicReference<>();
  private final CompletableFuture<Void> firstPool = new CompletableFuture<>();

  /** Replaced pools waiting for their borrowed connections to come back. */
  private final Set<HikariDataSource> retiring = ConcurrentHashMap.newKeySet();

  private final CredentialSubscription subscription;
  private volatile @Nullable SQLException unusable;

  /**
   * Why the last credential could not be switched to (for example, its login failed), for the
   * timeout message.
   */
  private volatile @Nullable RuntimeException lastSwitchFailure;

  private volatile boolean closed;
  private volatile int loginTimeoutSeconds;

  private RotatingDataSource(Builder builder) {
    this.databaseRole = builder.databaseRole;
    this.template = builder.template;
    this.jdbcUrlOverride = builder.jdbcUrl;
    this.initialCredentialTimeout = builder.initialCredentialTimeout;
    this.drainTimeout = builder.drainTimeout;
    this.drainer =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "credbroker-pool-drain-" + databaseRole);
              thread.setDaemon(true);
              return thread;
            });
    Listener listener = new Listener();
    this.subscription =
        builder.requestedTtl == null
            ? builder.client.watch(databaseRole, listener)
            : builder.client.watch(databaseRole, builder.requestedTtl, listener);
  }

  /**
   * Starts configuring a data source for {@code databaseRole} that gets its credentials from {@code
   * client}.
   */
  public static Builder builder(CredentialBrokerClient client, String databaseRole) {
    return new Builder(client, databaseRole);
  }

  /**
   * A connection from the current pool, waiting for the first credential if none has arrived yet.
   *
   * @throws SQLTimeoutException if no credential arrived within the initial credential timeout
   * @throws SQLException if the credential was revoked, the broker refused the subscription, or the
   *     pool failed
   */
  @Override
  public Connection getConnection() throws SQLException {
    awaitFirstPool();
    while (true) {
      SQLException failure = unusable;
      if (failure != null) {
        throw new SQLException(failure.getMessage(), failure.getSQLState(), failure);
      }
      ActivePool pool = active.get();
      if (pool == null) {
        throw new SQLException("no credential for database role " + databaseRole, "08001");
      }
      try {
        return pool.dataSource.getConnection();
      } catch (SQLException e) {
        // The pool may have been switched and drained between reading it and borrowing from it: use
        // the new one.
        if (active.get() != pool && !closed) {
          continue;
        }
        throw e;
      }
    }
  }

  /** Not supported: the broker decides who logs in. */
  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException(
        "the credential broker chooses the user; use getConnection()");
  }

  /** The credential the current pool logs in with, if any. */
  public Optional<Credential> currentCredential() {
    ActivePool pool = active.get();
    return pool == null ? Optional.empty() : Optional.of(pool.credential);
  }

  /**
   * Closes the subscription (releasing the credential at the broker), then every pool. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    subscription.close();
    firstPool.completeExceptionally(
        new SQLException("the data source for " + databaseRole + " is closed"));
    ActivePool pool = active.getAndSet(null);
    drainer.shutdownNow();
    if (pool != null) {
      pool.dataSource.close();
    }
    for (HikariDataSource retired : retiring) {
      retired.close();
    }
    retiring.clear();
  }

  @Override
  public @Nullable PrintWriter getLogWriter() {
    return null;
  }

  /** Ignored: the pools log through HikariCP's own logging. */
  @Override
  public void setLogWriter(@Nullable PrintWriter out) {}

  /**
   * Stored for callers that read it back; each pool's {@code connectionTimeout} governs waiting for
   * a connection.
   */
  @Override
  public void setLoginTimeout(int seconds) {
    this.loginTimeoutSeconds = seconds;
  }

  @Override
  public int getLoginTimeout() {
    return loginTimeoutSeconds;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("java.util.logging is not used");
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    if (type.isInstance(this)) {
      return type.cast(this);
    }
    throw new SQLException(getClass().getName() + " does not wrap " + type.getName());
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return type.isInstance(this);
  }

  @Override
  public String toString() {
    ActivePool pool = active.get();
    return "RotatingDataSource[databaseRole="
        + databaseRole
        + ", pool="
        + (pool == null ? null : pool.dataSource.getPoolName())
        + "]";
  }

  private void awaitFirstPool() throws SQLException {
    try {
      firstPool.get(initialCredentialTimeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      RuntimeException switchFailure = lastSwitchFailure;
      throw new SQLTimeoutException(
          "no usable credential for database role "
              + databaseRole
              + " within "
              + initialCredentialTimeout,
          "08001",
          switchFailure != null ? switchFailure : e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SQLException(
          "interrupted while waiting for a credential for " + databaseRole, "08001", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof SQLException sql) {
        throw new SQLException(sql.getMessage(), sql.getSQLState(), sql);
      }
      throw new SQLException("cannot get a credential for " + databaseRole, "08001", e.getCause());
    }
  }

  private void switchTo(Credential credential) {
    if (closed) {
      return;
    }
    ActivePool current = active.get();
    if (current != null && current.credential.credentialId().equals(credential.credentialId())) {
      return;
    }
    // Building the pool logs in once (HikariCP fails fast by default), so a credential that does
    // not work is never
    // switched to and its rotation never acknowledged.
    HikariDataSource dataSource = new HikariDataSource(configFor(credential));
    ActivePool previous = active.getAndSet(new ActivePool(credential, dataSource));
    unusable = null;
    lastSwitchFailure = null;
    if (closed) {
      // close() ran while the pool was being built; it may have missed this pool, and the one it
      // replaces too: close() takes the active pool only after releasing the credential, by which
      // time this switch may have taken that pool out of `active`.
      active.set(null);
      dataSource.close();
      if (previous != null) {
        previous.dataSource.close();
      }
      return;
    }
    firstPool.complete(null);
    if (previous != null) {
      drain(previous.dataSource, Instant.now().plus(drainTimeout));
    }
  }

  private HikariConfig configFor(Credential credential) {
    HikariConfig config = new HikariConfig();
    template.copyStateTo(config);
    String url = jdbcUrlOverride != null ? jdbcUrlOverride : credential.jdbcUrl();
    if (url.isEmpty()) {
      throw new IllegalStateException(
          "the broker sent no JDBC URL for "
              + databaseRole
              + " and none was configured on the RotatingDataSource builder");
    }
    config.setJdbcUrl(url);
    config.setUsername(credential.username());
    config.setPassword(credential.password());
    String prefix =
        template.getPoolName() != null ? template.getPoolName() : "credbroker-" + databaseRole;
    config.setPoolName(prefix + "-" + poolCounter.incrementAndGet());
    if (config.getInitializationFailTimeout() < 1) {
      // Below 1 HikariCP may start the pool without a login, and the switch would then acknowledge
      // a credential nobody knows works. Starting before the database is reachable needs no such
      // setting here: a credential that cannot log in is offered again until it can.
      config.setInitializationFailTimeout(1);
    }
    return config;
  }

  private void drain(HikariDataSource retired, Instant deadline) {
    retiring.add(retired);
    // Without this the pool would open fresh idle connections to replace the evicted ones.
    retired.getHikariConfigMXBean().setMinimumIdle(0);
    HikariPoolMXBean pool = retired.getHikariPoolMXBean();
    if (pool != null) {
      // Idle connections close now; borrowed ones are closed by HikariCP when the application
      // returns them.
      pool.softEvictConnections();
    }
    var task = new AtomicReference<@Nullable ScheduledFuture<?>>();
    Runnable check =
        () -> {
          if (!retired.isClosed()) {
            boolean busy = pool != null && pool.getActiveConnections() > 0;
            if (busy && Instant.now().isBefore(deadline) && !closed) {
              return;
            }
            // HikariDataSource.close() aborts borrowed connections, hence waiting for them to come
            // back first.
            retired.close();
          }
          retiring.remove(retired);
          ScheduledFuture<?> self = task.get();
          if (self != null) {
            self.cancel(false);
          }
        };
    try {
      task.set(
          drainer.scheduleWithFixedDelay(check, 0, DRAIN_POLL.toMillis(), TimeUnit.MILLISECONDS));
    } catch (RejectedExecutionException e) {
      // close() is running: it closes every retiring pool.
      retired.close();
      retiring.remove(retired);
    }
  }

  /**
   * Fails every later {@link #getConnection()} with the revocation's reason and closes the pool at
   * once.
   */
  private void retireRevoked(ActivePool pool, String reason) {
    markUnusable(
        new SQLException(
            "the credential for " + databaseRole + " was revoked (" + reason + ")", "28000"));
    if (active.compareAndSet(pool, null)) {
      // The broker is terminating the role's sessions anyway; do not wait for borrowed connections.
      pool.dataSource.close();
    }
  }

  private void markUnusable(SQLException failure) {
    unusable = failure;
    firstPool.completeExceptionally(failure);
  }

  /** A pool and the credential it logs in with. */
  private record ActivePool(Credential credential, HikariDataSource dataSource) {}

  /** Receives the subscription's callbacks, one at a time, on the client's callback executor. */
  private final class Listener implements CredentialListener {

    @Override
    public void onCredential(Credential credential) {
      try {
        switchTo(credential);
      } catch (RuntimeException e) {
        // Keep the current pool; the exception tells the client not to acknowledge a rotation.
        lastSwitchFailure = e;
        throw e;
      }
    }

    @Override
    public void onRevoked(Credential credential, String reason) {
      ActivePool pool = active.get();
      if (pool != null && pool.credential.credentialId().equals(credential.credentialId())) {
        retireRevoked(pool, reason);
      }
    }

    @Override
    public void onStopped(CredentialBrokerException error) {
      LOG.log(
          System.Logger.Level.WARNING,
          "credential subscription for {0} stopped: {1}",
          databaseRole,
          error.getMessage());
      ActivePool pool = active.get();
      if (pool != null && POD_REVOKED.equals(error.reason())) {
        // The pod was revoked while its stream was broken: no `revoked` event came, the broker
        // refused the resume
        // and the fresh request instead. The revocation covered the pool's credential too.
        retireRevoked(pool, POD_REVOKED);
        return;
      }
      if (unusable == null) {
        markUnusable(
            new SQLException(
                "the credential broker refused database role "
                    + databaseRole
                    + ": "
                    + error.getMessage(),
                "28000",
                error));
      }
      if (pool != null && active.compareAndSet(pool, null)) {
        // No stream holds the credential any more, so the broker revokes it after its reconnect
        // grace: refuse new connections now with the reason, rather than hand out ones that fail
        // later with a bare authentication error; those in use may finish.
        drain(pool.dataSource, Instant.now().plus(drainTimeout));
      }
    }
  }

  /** Configures a {@link RotatingDataSource}. Not thread-safe. */
  public static final class Builder {

    private final CredentialBrokerClient client;
    private final String databaseRole;
    private HikariConfig template = new HikariConfig();
    private @Nullable String jdbcUrl;
    private @Nullable Duration requestedTtl;
    private Duration initialCredentialTimeout = Duration.ofSeconds(30);
    private Duration drainTimeout = Duration.ofSeconds(30);

    private Builder(CredentialBrokerClient client, String databaseRole) {
      this.client = Objects.requireNonNull(client, "client");
      Objects.requireNonNull(databaseRole, "databaseRole");
      if (databaseRole.isBlank()) {
        throw new IllegalArgumentException("databaseRole must not be blank");
      }
      this.databaseRole = databaseRole;
    }

    /**
     * Pool settings (size, timeouts, driver properties) applied to every pool; its JDBC URL, user
     * name and password are replaced by the credential's. The template is copied, later changes to
     * it have no effect. An {@code initializationFailTimeout} below 1 ms is raised to 1 ms
     * (HikariCP's default), so that every new pool logs in before it is switched to; until a
     * credential can log in, {@link RotatingDataSource#getConnection()} waits for it or keeps the
     * current pool.
     */
    public Builder hikariConfig(HikariConfig template) {
      HikariConfig copy = new HikariConfig();
      Objects.requireNonNull(template, "template").copyStateTo(copy);
      this.template = copy;
      return this;
    }

    /**
     * A JDBC URL to use instead of the one the broker sends (for example to add driver options).
     */
    public Builder jdbcUrl(String jdbcUrl) {
      Objects.requireNonNull(jdbcUrl, "jdbcUrl");
      if (!jdbcUrl.startsWith("jdbc:")) {
        throw new IllegalArgumentException("jdbcUrl must start with jdbc:");
      }
      this.jdbcUrl = jdbcUrl;
      return this;
    }

    /** The lifetime to ask for each lease; default: the Vault role's. */
    public Builder requestedTtl(Duration requestedTtl) {
      this.requestedTtl = positive(requestedTtl, "requestedTtl");
      return this;
    }

    /**
     * How long {@link RotatingDataSource#getConnection()} waits for the first credential; default
     * 30 s.
     */
    public Builder initialCredentialTimeout(Duration timeout) {
      this.initialCredentialTimeout = positive(timeout, "initialCredentialTimeout");
      return this;
    }

    /**
     * How long a replaced pool waits for borrowed connections before it closes them; default 30 s.
     */
    public Builder drainTimeout(Duration timeout) {
      this.drainTimeout = positive(timeout, "drainTimeout");
      return this;
    }

    /**
     * Opens the credential stream and returns the data source; the first pool is built when a
     * credential arrives.
     */
    public RotatingDataSource build() {
      return new RotatingDataSource(this);
    }

    private static Duration positive(Duration value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, was " + value);
      }
      return value;
    }
  }
}
