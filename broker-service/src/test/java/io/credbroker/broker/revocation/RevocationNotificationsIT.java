package io.credbroker.broker.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LISTEN/NOTIFY between two "replicas" on a real PostgreSQL, including a lost connection. */
class RevocationNotificationsIT {

  private static final String CHANNEL = "credbroker_events_it";

  @TempDir static Path workDir;
  private static StateDatabase db;
  private static Listener first;
  private static Listener second;

  @BeforeAll
  static void start() throws Exception {
    db = new StateDatabase(workDir);
    first = new Listener("listener-first");
    second = new Listener("listener-second");
    assertThat(first.notifications.awaitListening(Duration.ofSeconds(10))).isTrue();
    assertThat(second.notifications.awaitListening(Duration.ofSeconds(10))).isTrue();
    assertThat(first.notifications.listening()).isTrue();
  }

  @AfterAll
  static void stop() {
    if (first != null) {
      first.notifications.stop();
    }
    if (second != null) {
      second.notifications.stop();
    }
    if (db != null) {
      db.close();
    }
  }

  @Test
  void everyReplicaReceivesWhatOneCommitsAndNothingOfWhatItRollsBack() throws Exception {
    RevocationMessage rolledBack = new RevocationMessage.PodBlocked("rolled-back");
    RevocationMessage committed =
        new RevocationMessage.CredentialRevoked(UUID.randomUUID(), "POD_REVOKED");

    db.transactions.executeWithoutResult(
        tx -> {
          first.notifications.publish(rolledBack);
          tx.setRollbackOnly();
        });
    db.transactions.executeWithoutResult(tx -> first.notifications.publish(committed));

    // Delivery is in commit order, so the first message seen proves the rolled-back one never came.
    assertThat(first.received.poll(5, TimeUnit.SECONDS)).isEqualTo(committed);
    assertThat(second.received.poll(5, TimeUnit.SECONDS)).isEqualTo(committed);
  }

  @Test
  void listenerThatLostItsConnectionReconnectsAndAsksForWhatItMissed() throws Exception {
    Instant before = Instant.now();
    db.jdbc
        .sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name")
        .param("name", "listener-second")
        .query(Object.class)
        .list();

    await().atMost(Duration.ofSeconds(10)).until(() -> !second.reconnects.isEmpty());
    await().atMost(Duration.ofSeconds(5)).until(second.notifications::listening);
    assertThat(second.reconnects.get(0)).isAfterOrEqualTo(before.minusSeconds(5));

    RevocationMessage after = new RevocationMessage.PodBlocked(UUID.randomUUID().toString());
    second.received.clear();
    first.notifications.publish(after);
    assertThat(second.received.poll(5, TimeUnit.SECONDS)).isEqualTo(after);
  }

  private static final class Listener {
    final BlockingQueue<RevocationMessage> received = new LinkedBlockingQueue<>();
    final List<Instant> reconnects = new CopyOnWriteArrayList<>();
    final RevocationNotifications notifications;

    Listener(String applicationName) {
      String url =
          db.jdbcUrl
              + (db.jdbcUrl.contains("?") ? "&" : "?")
              + "ApplicationName="
              + applicationName;
      notifications =
          new RevocationNotifications(
              db.jdbc,
              () ->
                  DriverManager.getConnection(
                      url, db.postgres.adminUser(), db.postgres.adminPassword()),
              CHANNEL,
              Duration.ofMillis(100),
              Duration.ofMillis(200),
              received::add,
              reconnects::add,
              Clock.systemUTC());
      notifications.start();
    }
  }
}
