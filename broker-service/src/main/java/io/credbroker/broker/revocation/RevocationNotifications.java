package io.credbroker.broker.revocation;

import io.credbroker.broker.DaemonThreads;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Cross-replica fan-out over PostgreSQL {@code LISTEN/NOTIFY} on the broker's state database.
 *
 * <p>{@link #publish} sends a {@link RevocationMessage} with {@code pg_notify} through the shared
 * pool; inside a transaction it is delivered when that transaction commits. Every replica, the
 * sender included, receives it on its own dedicated connection (outside the pool, because a
 * listening session must stay the same session) and hands it to the consumer on the listener
 * thread.
 *
 * <p>When the listening connection fails, the listener reconnects after a delay and then calls the
 * reconnect hook with the time it last knew itself connected, so that the owner can replay what it
 * may have missed. While it is connected it runs a trivial query now and then, so that a silently
 * dead connection is noticed.
 *
 * <p>Thread-safe. Lifecycle: one listener thread between {@link #start()} and {@link #stop()}.
 */
public final class RevocationNotifications implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(RevocationNotifications.class);
  private static final Pattern CHANNEL = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
  private static final Duration LIVENESS_CHECK_INTERVAL = Duration.ofSeconds(10);

  /** How the listener reaches the database; a new connection each time it (re)connects. */
  @FunctionalInterface
  public interface ConnectionFactory {
    Connection connect() throws SQLException;

    static ConnectionFactory driverManager(
        String url, @Nullable String user, @Nullable String password) {
      return () -> DriverManager.getConnection(url, user, password);
    }
  }

  private final JdbcClient jdbc;
  private final ConnectionFactory connections;
  private final String channel;
  private final Duration pollInterval;
  private final Duration reconnectDelay;
  private final Consumer<RevocationMessage> consumer;
  private final Consumer<Instant> onReconnect;
  private final Clock clock;
  private final CountDownLatch firstConnect = new CountDownLatch(1);

  private volatile boolean running;
  private volatile @Nullable Thread thread;
  private volatile @Nullable Connection connection;

  /** When the listening connection was last known to work; only the listener thread uses it. */
  private @Nullable Instant lastAlive;

  /**
   * @param consumer receives every message, on the listener thread; must not block for long
   * @param onReconnect called after a reconnection with the last time the listener knew itself
   *     connected
   */
  public RevocationNotifications(
      JdbcClient jdbc,
      ConnectionFactory connections,
      String channel,
      Duration pollInterval,
      Duration reconnectDelay,
      Consumer<RevocationMessage> consumer,
      Consumer<Instant> onReconnect,
      Clock clock) {
    this.jdbc = Objects.requireNonNull(jdbc, "jdbc");
    this.connections = Objects.requireNonNull(connections, "connections");
    if (!CHANNEL.matcher(channel).matches()) {
      // LISTEN takes an identifier, not a bind parameter: only a plain lower-case name is allowed.
      throw new IllegalArgumentException("channel must be a plain lower-case identifier");
    }
    this.channel = channel;
    this.pollInterval = positive(pollInterval, "pollInterval");
    this.reconnectDelay = positive(reconnectDelay, "reconnectDelay");
    this.consumer = Objects.requireNonNull(consumer, "consumer");
    this.onReconnect = Objects.requireNonNull(onReconnect, "onReconnect");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** Sends a message to every replica (delivered at commit when called inside a transaction). */
  public void publish(RevocationMessage message) {
    jdbc.sql("SELECT pg_notify(:channel, :payload)")
        .param("channel", channel)
        .param("payload", message.encode())
        .query(Object.class)
        .list();
  }

  /** Whether the listening connection is up right now (exported as a gauge). */
  public boolean listening() {
    return connection != null;
  }

  /** Waits until the listener has connected once; for startup ordering and tests. */
  public boolean awaitListening(Duration timeout) throws InterruptedException {
    return firstConnect.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    running = true;
    Thread listener = DaemonThreads.named("revocation-listener").newThread(this::listenLoop);
    thread = listener;
    listener.start();
  }

  @Override
  public void stop() {
    Thread listener;
    synchronized (this) {
      running = false;
      listener = thread;
      thread = null;
    }
    closeQuietly(connection);
    if (listener != null) {
      listener.interrupt();
      try {
        listener.join(pollInterval.toMillis() + 2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  private void listenLoop() {
    while (running) {
      try (Connection conn = connections.connect()) {
        connection = conn;
        try (Statement statement = conn.createStatement()) {
          statement.execute("LISTEN " + channel);
        }
        log.info("Listening for revocations on channel {}", channel);
        Instant missedSince = lastAlive;
        lastAlive = clock.instant();
        if (missedSince != null) {
          onReconnect.accept(missedSince);
        }
        firstConnect.countDown();
        receive(conn);
      } catch (SQLException | RuntimeException e) {
        if (running) {
          log.warn(
              "Revocation listener lost its connection; reconnecting in {}", reconnectDelay, e);
        }
      } finally {
        connection = null;
      }
      if (running) {
        sleep(reconnectDelay);
      }
    }
  }

  /** Receives until stopped or the connection fails, noting when the connection was last alive. */
  private void receive(Connection conn) throws SQLException {
    PGConnection pg = conn.unwrap(PGConnection.class);
    int pollMillis = Math.toIntExact(Math.max(1, pollInterval.toMillis()));
    Instant lastCheck = clock.instant();
    while (running) {
      PGNotification[] notifications = pg.getNotifications(pollMillis);
      Instant now = clock.instant();
      if (notifications != null) {
        for (PGNotification notification : notifications) {
          dispatch(notification.getParameter());
        }
      }
      if (Duration.between(lastCheck, now).compareTo(LIVENESS_CHECK_INTERVAL) >= 0) {
        // getNotifications only reads the socket; a query notices a connection that died silently.
        try (Statement statement = conn.createStatement()) {
          statement.execute("SELECT 1");
        }
        lastCheck = now;
      }
      lastAlive = now;
    }
  }

  private void dispatch(String payload) {
    RevocationMessage message = RevocationMessage.decode(payload);
    if (message == null) {
      log.debug("Skipping a notification this replica does not understand");
      return;
    }
    try {
      consumer.accept(message);
    } catch (RuntimeException e) {
      // One failing handler must not stop the listener: the next message may concern another pod.
      log.warn("Handling {} failed", message, e);
    }
  }

  private void sleep(Duration duration) {
    try {
      Thread.sleep(duration.toMillis());
    } catch (InterruptedException e) {
      // stop() interrupts; the loop condition ends the thread.
      Thread.currentThread().interrupt();
    }
  }

  private static void closeQuietly(@Nullable Connection conn) {
    if (conn == null) {
      return;
    }
    try {
      conn.close();
    } catch (SQLException e) {
      log.debug("Closing the listening connection failed", e);
    }
  }

  private static Duration positive(Duration value, String name) {
    Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive");
    }
    return value;
  }
}
