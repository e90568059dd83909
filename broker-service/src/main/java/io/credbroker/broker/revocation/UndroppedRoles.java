package io.credbroker.broker.revocation;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.vault.DatabaseSecret;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Roles that Vault reports revoked but that are still in a target database: the revocation
 * statements ended their sessions and refused their login, but could not drop them (something of
 * theirs in another database, a grant someone made to them), and recorded them in {@code
 * credbroker_revocation.undropped_role}, from which later revocations retry the drop. On PostgreSQL
 * 16 and later the login of a role the Vault admin holds no ADMIN OPTION on (issued before a {@code
 * pg_upgrade} from 15) cannot be refused until {@code setup} runs again; the retry refuses it then.
 *
 * <p>The broker holds no database credentials of its own, so {@link #check()} borrows one: for each
 * binding it reads a credential of the binding's Vault role (setup lets the group read that table),
 * reads the table where pods connect, and revokes the credential at once. That revocation also runs
 * the retry of the recorded drops, so the check is what retries them when no pod is revoked for a
 * while. A check that fails for one binding keeps that binding's last answer. Each replica checks
 * on its own.
 *
 * <p>Lifecycle: {@link #start(Duration)} schedules the checks on one daemon thread, {@link
 * #close()} stops them. Thread-safe: readers see the last completed check.
 */
public final class UndroppedRoles implements AutoCloseable {

  static final String QUERY =
      "SELECT role_name, revoked_time, attempts, last_error"
          + " FROM credbroker_revocation.undropped_role ORDER BY revoked_time, role_name";

  /**
   * Bounds on one check's connection to a target database, in seconds (pgjdbc's properties): TCP
   * connect, the whole login (TLS and authentication), and every read. Without them a database that
   * accepts the connection and never answers holds the check's one thread for ever, and the
   * undropped-roles gauge and report silently stop moving.
   */
  static final int CONNECT_TIMEOUT_SECONDS = 5;

  static final int LOGIN_TIMEOUT_SECONDS = 10;
  static final int SOCKET_TIMEOUT_SECONDS = 30;

  private static final Logger log = LoggerFactory.getLogger(UndroppedRoles.class);

  /**
   * One role left in a target database.
   *
   * @param databaseRole the broker's database role whose target database holds it
   * @param username the PostgreSQL role
   * @param revokeTime when its revocation first ran
   * @param attempts how many drops failed
   * @param lastError PostgreSQL's message for the last failed drop
   */
  public record UndroppedRole(
      String databaseRole,
      String username,
      Instant revokeTime,
      int attempts,
      @Nullable String lastError) {}

  /** What the last check found, and when it ran (null before the first check). */
  public record Snapshot(List<UndroppedRole> roles, @Nullable Instant checkTime) {}

  private final Bindings bindings;
  private final VaultDatabaseCredentials vault;
  private final Clock clock;
  private final Map<String, List<UndroppedRole>> byDatabaseRole = new ConcurrentHashMap<>();
  private volatile @Nullable Instant checkTime;
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("credbroker-undropped-roles"));

  public UndroppedRoles(
      Bindings bindings, VaultDatabaseCredentials vault, Clock clock, MeterRegistry meterRegistry) {
    this.bindings = Objects.requireNonNull(bindings, "bindings");
    this.vault = Objects.requireNonNull(vault, "vault");
    this.clock = Objects.requireNonNull(clock, "clock");
    for (Binding binding : bindings.all()) {
      Gauge.builder(
              "credbroker.revocation.undropped.roles", this, u -> u.count(binding.databaseRole()))
          .description(
              "Roles revoked (no login, no sessions) that could not be dropped yet, at the last check"
                  + " (whole cluster: every replica checks the same databases; aggregate with max)")
          .tag("database_role", binding.databaseRole())
          .register(meterRegistry);
    }
  }

  /** Checks every {@code interval}, the first time one interval from now. */
  public void start(Duration interval) {
    scheduler.scheduleWithFixedDelay(
        this::check, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Stops the checks; one that is running is interrupted. */
  @Override
  public void close() {
    scheduler.shutdownNow();
  }

  /** The roles found by the last check, oldest revocation first. */
  public Snapshot snapshot() {
    List<UndroppedRole> all = new ArrayList<>();
    byDatabaseRole.values().forEach(all::addAll);
    all.sort(
        Comparator.comparing(UndroppedRole::revokeTime).thenComparing(UndroppedRole::username));
    return new Snapshot(List.copyOf(all), checkTime);
  }

  /**
   * Reads every binding's target database once. Never throws: a failure is logged and the binding
   * keeps its last answer.
   */
  public void check() {
    for (Binding binding : bindings.all()) {
      try {
        byDatabaseRole.put(binding.databaseRole(), read(binding));
      } catch (RuntimeException | SQLException e) {
        // Never thrown on: the scheduler would stop checking. Only the reason is logged, never a
        // message that could carry connection details.
        log.warn(
            "Could not read the undropped roles of database role {}: {}",
            binding.databaseRole(),
            e instanceof BrokerException b
                ? b.reason().name()
                : e instanceof SQLException sql
                    ? "SQLSTATE " + sql.getSQLState()
                    : e.getClass().getSimpleName());
      }
    }
    checkTime = clock.instant();
  }

  private double count(String databaseRole) {
    return byDatabaseRole.getOrDefault(databaseRole, List.of()).size();
  }

  private List<UndroppedRole> read(Binding binding) throws SQLException {
    DatabaseSecret secret = vault.issue(binding.vaultMount(), binding.vaultRole());
    try {
      Properties login = new Properties();
      login.setProperty("user", secret.username());
      login.setProperty("password", secret.password());
      login.setProperty("ApplicationName", "credential-broker undropped-role check");
      login.setProperty("connectTimeout", Integer.toString(CONNECT_TIMEOUT_SECONDS));
      login.setProperty("loginTimeout", Integer.toString(LOGIN_TIMEOUT_SECONDS));
      login.setProperty("socketTimeout", Integer.toString(SOCKET_TIMEOUT_SECONDS));
      List<UndroppedRole> roles = new ArrayList<>();
      try (Connection c = DriverManager.getConnection(binding.connection().jdbcUrl(), login);
          Statement st = c.createStatement();
          ResultSet rs = st.executeQuery(QUERY)) {
        while (rs.next()) {
          roles.add(
              new UndroppedRole(
                  binding.databaseRole(),
                  rs.getString(1),
                  rs.getTimestamp(2).toInstant(),
                  rs.getInt(3),
                  rs.getString(4)));
        }
      }
      return List.copyOf(roles);
    } finally {
      try {
        vault.revoke(secret.leaseId());
      } catch (BrokerException e) {
        log.warn(
            "The check's own lease {} could not be revoked ({}); it runs out at its TTL",
            secret.leaseId(),
            e.reason());
      }
    }
  }
}
