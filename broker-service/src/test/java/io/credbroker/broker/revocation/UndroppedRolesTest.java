package io.credbroker.broker.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.vault.DatabaseSecret;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class UndroppedRolesTest {

  private static final Instant NOW = Instant.parse("2026-12-03T04:00:00Z");

  /**
   * A target database that accepts the connection and never answers (a half-open peer, a database
   * stuck in recovery behind a proxy) must not hold the check's only thread: the check gives up at
   * the login timeout, keeps the binding's last answer, records its time and still revokes its own
   * lease.
   */
  @Test
  void aDatabaseThatNeverAnswersEndsTheCheckAtTheLoginTimeout() throws Exception {
    List<Socket> accepted = new CopyOnWriteArrayList<>();
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor =
          new Thread(
              () -> {
                try {
                  while (true) {
                    accepted.add(silent.accept()); // read nothing, answer nothing
                  }
                } catch (IOException closed) {
                  // the test ended
                }
              });
      acceptor.setDaemon(true);
      acceptor.start();

      Binding binding =
          new Binding(
              "orders",
              "database",
              "orders",
              Set.of("shop"),
              Set.of("orders"),
              new ConnectionHints("127.0.0.1", silent.getLocalPort(), "orders", "disable"));
      VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
      when(vault.issue("database", "orders"))
          .thenReturn(
              new DatabaseSecret(
                  "database/creds/orders/check",
                  "v-check",
                  "not-a-real-password",
                  Duration.ofMinutes(5),
                  true,
                  NOW.plus(Duration.ofHours(1))));
      UndroppedRoles undropped =
          new UndroppedRoles(
              new Bindings(List.of(binding)),
              vault,
              Clock.fixed(NOW, ZoneOffset.UTC),
              new SimpleMeterRegistry());

      assertTimeoutPreemptively(
          Duration.ofSeconds(UndroppedRoles.LOGIN_TIMEOUT_SECONDS + 20L), undropped::check);

      assertThat(accepted).as("the check reached the silent database").isNotEmpty();
      assertThat(undropped.snapshot().roles()).isEmpty();
      assertThat(undropped.snapshot().checkTime()).isEqualTo(NOW);
      verify(vault).revoke("database/creds/orders/check");
      for (Socket socket : accepted) {
        socket.close();
      }
    }
  }
}
