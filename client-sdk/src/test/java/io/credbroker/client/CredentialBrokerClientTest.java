package io.credbroker.client;

import static io.credbroker.client.RecordingCredentialBroker.credential;
import static io.credbroker.client.RecordingCredentialBroker.event;
import static io.credbroker.client.RecordingCredentialBroker.timestamp;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.CredentialExpiring;
import io.credbroker.api.v1.CredentialRenewed;
import io.credbroker.api.v1.CredentialResumed;
import io.credbroker.api.v1.Heartbeat;
import io.credbroker.client.RecordingCredentialBroker.WatchCall;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CredentialBrokerClientTest {

  private static final String JDBC_URL = "jdbc:postgresql://localhost:5432/db1";
  private static final Duration NO_RETRY_WINDOW = Duration.ofMillis(400);

  @TempDir Path dir;

  private final RecordingCredentialBroker broker = new RecordingCredentialBroker();
  private final RecordingCredentialListener listener = new RecordingCredentialListener();
  private final RecordingEventListener events = new RecordingEventListener();
  private Server server;
  private ManagedChannel channel;
  private Path tokenFile;
  private CredentialBrokerClient client;

  @BeforeEach
  void startBroker() throws IOException {
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .addService(ServerInterceptors.intercept(broker, broker.headerRecorder()))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).build();
    tokenFile = dir.resolve("token");
    writeToken("token-1");
    client = clientBuilder().build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /**
   * On the next watch call: issues c1, rotates it to c2 and waits until the client acknowledged the
   * rotation.
   */
  private WatchCall issuedAndRotated() throws InterruptedException {
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    call.rotate(credential("c2", "v-db1-b", "pw-2", JDBC_URL), "c1");
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(broker.acknowledgements()).hasSize(1));
    return call;
  }

  private CredentialBrokerClient.Builder clientBuilder() {
    return CredentialBrokerClient.builder()
        .channel(channel)
        .tokenFile(tokenFile)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(100))
        .eventListener(events);
  }

  @Test
  void firstCredentialIsDeliveredToTheListener() throws Exception {
    CredentialSubscription subscription = client.watch("db1", Duration.ofMinutes(5), listener);

    WatchCall call = broker.nextWatch();
    assertThat(call.request().getDatabaseRole()).isEqualTo("db1");
    assertThat(call.request().getResumeCredentialId()).isEmpty();
    assertThat(call.request().getRequestedTtl().getSeconds()).isEqualTo(300);
    assertThat(call.authorization()).isEqualTo("Bearer token-1");
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));

    Credential received = subscription.awaitCredential(Duration.ofSeconds(5));
    assertThat(received.credentialId()).isEqualTo("c1");
    assertThat(received.username()).isEqualTo("v-db1-a");
    assertThat(received.password()).isEqualTo("pw-1");
    assertThat(received.jdbcUrl()).isEqualTo(JDBC_URL);
    assertThat(received.port()).isEqualTo(5432);
    assertThat(received.expireTime()).isAfter(Instant.now());
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.credentials).containsExactly(received));
    assertThat(events.events).contains("connect 1 resume=null", "received ISSUED c1");
  }

  @Test
  void bearerTokenIsReadFromTheFileOnEveryReconnect() throws Exception {
    client.watch("db1", listener);
    WatchCall first = broker.nextWatch();
    assertThat(first.authorization()).isEqualTo("Bearer token-1");

    writeToken("token-2");
    first.fail(Status.UNAVAILABLE.withDescription("replica restarting"));

    WatchCall second = broker.nextWatch();
    assertThat(second.authorization()).isEqualTo("Bearer token-2");
  }

  @Test
  void reconnectAfterUnavailableResumesTheCurrentCredentialAndKeepsItsPassword() throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall first = broker.nextWatch();
    first.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    subscription.awaitCredential(Duration.ofSeconds(5));

    first.fail(Status.UNAVAILABLE);
    WatchCall second = broker.nextWatch();
    assertThat(second.request().getResumeCredentialId()).isEqualTo("c1");
    Instant laterExpiry = Instant.now().plusSeconds(120).truncatedTo(ChronoUnit.SECONDS);
    second.send(
        event()
            .setResumed(
                CredentialResumed.newBuilder()
                    .setCredential(
                        credential("c1", "v-db1-a", "", JDBC_URL).toBuilder()
                            .setExpireTime(timestamp(laterExpiry))))
            .build());

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.renewals).hasSize(1));
    Credential resumed = listener.renewals.get(0);
    assertThat(resumed.password()).isEqualTo("pw-1");
    assertThat(resumed.expireTime()).isEqualTo(laterExpiry);
    assertThat(subscription.currentCredential()).contains(resumed);
    assertThat(listener.credentials).as("the pool keeps its credential: no new one").hasSize(1);
    assertThat(events.events)
        .contains("failed UNAVAILABLE null", "connect 2 resume=c1", "received RESUMED c1");
  }

  @ParameterizedTest
  @EnumSource(names = {"FAILED_PRECONDITION", "NOT_FOUND", "PERMISSION_DENIED"})
  void refusedResumeAsksForAFreshCredential(Status.Code refusal) throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall first = broker.nextWatch();
    first.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    subscription.awaitCredential(Duration.ofSeconds(5));
    first.fail(Status.UNAVAILABLE);

    WatchCall resume = broker.nextWatch();
    assertThat(resume.request().getResumeCredentialId()).isEqualTo("c1");
    resume.fail(Status.fromCode(refusal), "CREDENTIAL_NOT_RESUMABLE", null);

    WatchCall fresh = broker.nextWatch();
    assertThat(fresh.request().getResumeCredentialId()).isEmpty();
    fresh.issue(credential("c2", "v-db1-b", "pw-2", JDBC_URL));

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(listener.credentials)
                    .extracting(Credential::credentialId)
                    .containsExactly("c1", "c2"));
    assertThat(subscription.currentCredential().map(Credential::password)).contains("pw-2");
    assertThat(subscription.isActive()).isTrue();
    assertThat(broker.acknowledgements()).as("a fresh credential is no rotation").isEmpty();
  }

  @ParameterizedTest
  @EnumSource(names = {"PERMISSION_DENIED", "NOT_FOUND", "INVALID_ARGUMENT"})
  void refusalThatRetryingCannotFixStopsWithoutRetry(Status.Code refusal) throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    broker
        .nextWatch()
        .fail(Status.fromCode(refusal).withDescription("not for you"), "NOT_BOUND", null);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.stops).hasSize(1));
    CredentialBrokerException error = listener.stops.get(0);
    assertThat(error.code()).isEqualTo(refusal);
    assertThat(error.reason()).isEqualTo("NOT_BOUND");
    assertThat(error.getMessage()).contains("db1", refusal.name(), "NOT_BOUND", "not for you");
    assertThat(subscription.isActive()).isFalse();
    assertThatThrownBy(() -> subscription.awaitCredential(Duration.ofSeconds(1)))
        .isInstanceOf(CredentialBrokerException.class);
    await()
        .during(NO_RETRY_WINDOW)
        .atMost(NO_RETRY_WINDOW.multipliedBy(2))
        .until(() -> broker.watches().size() == 1);
    assertThat(events.events).contains("stopped " + refusal + " NOT_BOUND");
  }

  @Test
  void unauthenticatedIsRetriedAFewTimesThenStops() throws Exception {
    client.close();
    client = clientBuilder().maxUnauthenticatedRetries(2).build();
    client.watch("db1", listener);

    for (int i = 1; i <= 3; i++) {
      WatchCall call = broker.nextWatch();
      writeToken("token-" + (i + 1));
      call.fail(Status.UNAUTHENTICATED, "TOKEN_REJECTED", null);
    }

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.stops).hasSize(1));
    assertThat(listener.stops.get(0).code()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(broker.watches())
        .extracting(WatchCall::authorization)
        .containsExactly("Bearer token-1", "Bearer token-2", "Bearer token-3");
    await()
        .during(NO_RETRY_WINDOW)
        .atMost(NO_RETRY_WINDOW.multipliedBy(2))
        .until(() -> broker.watches().size() == 3);
  }

  @Test
  void streamEndedAsItsTokenExpiredResumesTheCredentialWithTheTokenFilesNewTokenEveryTime()
      throws Exception {
    client.close();
    client = clientBuilder().maxUnauthenticatedRetries(2).build();
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    subscription.awaitCredential(Duration.ofSeconds(5));

    // More token lifetimes than UNAUTHENTICATED answers are retried in a row: each stream received
    // its credential, so each end is the first failure since.
    for (int token = 2; token <= 5; token++) {
      writeToken("token-" + token);
      call.fail(Status.UNAUTHENTICATED, "TOKEN_EXPIRED", Duration.ofMillis(100));
      call = broker.nextWatch();
      assertThat(call.authorization()).isEqualTo("Bearer token-" + token);
      assertThat(call.request().getResumeCredentialId()).isEqualTo("c1");
      call.send(
          event()
              .setResumed(
                  CredentialResumed.newBuilder()
                      .setCredential(credential("c1", "v-db1-a", "", JDBC_URL)))
              .build());
    }

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.renewals).hasSize(4));
    assertThat(subscription.isActive()).isTrue();
    assertThat(listener.stops).isEmpty();
    assertThat(listener.credentials).as("the pool keeps its credential: no new one").hasSize(1);
    assertThat(subscription.currentCredential().map(Credential::password)).contains("pw-1");
  }

  @Test
  void missingTokenFileFailsTheCallBeforeItReachesTheBroker() throws Exception {
    client.close();
    client = clientBuilder().maxUnauthenticatedRetries(1).build();
    Files.delete(tokenFile);

    client.watch("db1", listener);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.stops).hasSize(1));
    assertThat(listener.stops.get(0).code()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(listener.stops.get(0).getMessage()).contains(tokenFile.toString());
    assertThat(broker.watches()).isEmpty();
  }

  @Test
  void aBrokerThatFailsRightAfterItsFirstEventIsRedialledWithAGrowingBackoff() throws Exception {
    try (CredentialBrokerClient flapping =
        clientBuilder().backoff(Duration.ofMillis(200), Duration.ofSeconds(10)).build()) {
      flapping.watch("db1", listener);
      List<Long> watchedAt = new ArrayList<>();
      for (int i = 1; i <= 5; i++) {
        WatchCall call = broker.nextWatch();
        watchedAt.add(System.nanoTime());
        call.issue(credential("c" + i, "v-db1-" + i, "pw-" + i, JDBC_URL));
        call.fail(Status.UNAVAILABLE.withDescription("replica breaks after each event"));
      }
      // An event alone does not end the run of failures: the fifth attempt waits the fourth step
      // of the backoff, not the first (200 ms, give or take its jitter).
      long lastGapMillis = (watchedAt.get(4) - watchedAt.get(3)) / 1_000_000;
      assertThat(lastGapMillis).isGreaterThanOrEqualTo(400);
    }
  }

  @Test
  void retryInfoFromTheBrokerDelaysTheReconnect() throws Exception {
    client.watch("db1", listener);
    Duration brokerAsked = Duration.ofMillis(600);
    long failedAt = System.nanoTime();
    broker.nextWatch().fail(Status.UNAVAILABLE, "VAULT_UNAVAILABLE", brokerAsked);

    broker.nextWatch();
    assertThat(Duration.ofNanos(System.nanoTime() - failedAt)).isGreaterThanOrEqualTo(brokerAsked);
    assertThat(events.reconnectDelays).first().isEqualTo(brokerAsked);
    assertThat(events.events).contains("failed UNAVAILABLE VAULT_UNAVAILABLE");
  }

  @Test
  void rotationDeliversTheNewCredentialAndAcknowledgesIt() throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = issuedAndRotated();
    assertThat(broker.acknowledgements().get(0).request().getCredentialId()).isEqualTo("c2");
    assertThat(broker.acknowledgements().get(0).authorization()).isEqualTo("Bearer token-1");
    assertThat(listener.credentials)
        .extracting(Credential::username)
        .containsExactly("v-db1-a", "v-db1-b");
    assertThat(subscription.currentCredential().map(Credential::credentialId)).contains("c2");
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> assertThat(events.events).contains("received ROTATED c2", "acknowledged c2"));

    call.fail(Status.UNAVAILABLE);
    assertThat(broker.nextWatch().request().getResumeCredentialId())
        .as("resumes the new credential")
        .isEqualTo("c2");
  }

  @Test
  void anAcknowledgementAnOverloadedReplicaRefusesIsSentAgainWhenItAsks() throws Exception {
    Duration asked = Duration.ofMillis(300);
    broker.failAcknowledgements(
        4,
        RecordingCredentialBroker.withDetails(
            Status.RESOURCE_EXHAUSTED.withDescription("busy"), "OVERLOADED", asked));
    client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    call.rotate(credential("c2", "v-db1-b", "pw-2", JDBC_URL), "c1");

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(broker.acknowledgements()).hasSize(1));
    assertThat(broker.acknowledgements().get(0).request().getCredentialId()).isEqualTo("c2");
    List<Long> attempts = broker.acknowledgementAttempts();
    assertThat(attempts).hasSize(5);
    for (int i = 1; i < attempts.size(); i++) {
      // The broker's RetryInfo, not the client's 10 ms backoff step.
      assertThat(Duration.ofNanos(attempts.get(i) - attempts.get(i - 1)))
          .isGreaterThanOrEqualTo(asked.minusMillis(20));
    }
  }

  @Test
  void awaitCredentialWaitsForTheReplacementOfARevokedCredentialInsteadOfReturningTheFirst()
      throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = issuedAndRotated();

    call.revoke("c2", "CREDENTIAL_REVOKED");
    await().atMost(Duration.ofSeconds(5)).until(() -> subscription.currentCredential().isEmpty());
    assertThatThrownBy(() -> subscription.awaitCredential(Duration.ofMillis(300)))
        .isInstanceOf(TimeoutException.class);

    CompletableFuture<Credential> next =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return subscription.awaitCredential(Duration.ofSeconds(5));
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    call.fail(Status.FAILED_PRECONDITION, "CREDENTIAL_REVOKED", null);
    broker.nextWatch().issue(credential("c3", "v-db1-c", "pw-3", JDBC_URL));
    assertThat(next.get(5, TimeUnit.SECONDS).credentialId()).isEqualTo("c3");
  }

  @Test
  void rotationIsNotAcknowledgedWhenTheListenerCannotSwitch() throws Exception {
    client.watch(
        "db1",
        credential -> {
          if (credential.credentialId().equals("c2")) {
            throw new IllegalStateException("pool cannot log in");
          }
          listener.onCredential(credential);
        });
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    call.rotate(credential("c2", "v-db1-b", "pw-2", JDBC_URL), "c1");
    call.send(event().setHeartbeat(Heartbeat.getDefaultInstance()).build());

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(events.events).contains("received ROTATED c2"));
    await()
        .during(NO_RETRY_WINDOW)
        .atMost(NO_RETRY_WINDOW.multipliedBy(2))
        .until(() -> broker.acknowledgements().isEmpty());
    assertThat(listener.credentials).extracting(Credential::credentialId).containsExactly("c1");
  }

  @Test
  void silentStreamIsPresumedDeadAndResumedElsewhere() throws Exception {
    client.close();
    client = clientBuilder().streamIdleTimeout(Duration.ofMillis(300)).build();
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall silent = broker.nextWatch();
    silent.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    subscription.awaitCredential(Duration.ofSeconds(5));

    WatchCall next = broker.nextWatch();

    assertThat(next.request().getResumeCredentialId()).isEqualTo("c1");
    await().atMost(Duration.ofSeconds(5)).until(silent::cancelled);
    assertThat(events.events).contains("failed UNAVAILABLE null");
    assertThat(listener.stops).isEmpty();
  }

  @Test
  void heartbeatsKeepAQuietStreamOpen() throws Exception {
    client.close();
    client = clientBuilder().streamIdleTimeout(Duration.ofMillis(400)).build();
    client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    var ticker = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    try {
      ticker.scheduleAtFixedRate(
          () -> call.send(event().setHeartbeat(Heartbeat.getDefaultInstance()).build()),
          100,
          100,
          TimeUnit.MILLISECONDS);

      await()
          .during(Duration.ofMillis(1200))
          .atMost(Duration.ofSeconds(3))
          .until(() -> broker.watches().size() == 1 && !call.cancelled());
    } finally {
      ticker.shutdownNow();
    }
  }

  @Test
  void credentialWithoutUserNameIsTreatedAsABrokerFaultAndRetried() throws Exception {
    client.watch("db1", listener);
    WatchCall first = broker.nextWatch();
    first.issue(credential("c1", "", "pw-1", JDBC_URL));

    WatchCall second = broker.nextWatch();
    await().atMost(Duration.ofSeconds(5)).until(first::cancelled);
    assertThat(events.events).contains("failed INTERNAL null");
    second.issue(credential("c2", "v-db1-b", "pw-2", JDBC_URL));
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(listener.credentials)
                    .extracting(Credential::credentialId)
                    .containsExactly("c2"));
  }

  @Test
  void renewalAndExpiringUpdateTheCurrentCredential() throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    Instant renewedUntil = Instant.now().plusSeconds(300).truncatedTo(ChronoUnit.SECONDS);
    call.send(
        event()
            .setRenewed(
                CredentialRenewed.newBuilder()
                    .setCredentialId("c1")
                    .setExpireTime(timestamp(renewedUntil)))
            .build());
    call.send(
        event()
            .setRenewed(
                CredentialRenewed.newBuilder()
                    .setCredentialId("someone-else")
                    .setExpireTime(timestamp(renewedUntil.plusSeconds(999))))
            .build());
    call.send(
        event()
            .setExpiring(
                CredentialExpiring.newBuilder()
                    .setCredentialId("c1")
                    .setExpireTime(timestamp(renewedUntil)))
            .build());

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.expiring).hasSize(1));
    assertThat(listener.renewals)
        .singleElement()
        .satisfies(
            renewed -> {
              assertThat(renewed.expireTime()).isEqualTo(renewedUntil);
              assertThat(renewed.password()).isEqualTo("pw-1");
            });
    assertThat(subscription.currentCredential().map(Credential::expireTime)).contains(renewedUntil);
  }

  @Test
  void closeCancelsTheStreamAndReleasesTheCredential() throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    subscription.awaitCredential(Duration.ofSeconds(5));

    subscription.close();

    assertThat(broker.releases())
        .singleElement()
        .satisfies(
            release -> {
              assertThat(release.request().getCredentialId()).isEqualTo("c1");
              assertThat(release.authorization()).isEqualTo("Bearer token-1");
            });
    await().atMost(Duration.ofSeconds(5)).until(call::cancelled);
    assertThat(subscription.isActive()).isFalse();
    assertThat(subscription.currentCredential()).isEmpty();
    assertThat(events.events).contains("released c1");
    await()
        .during(NO_RETRY_WINDOW)
        .atMost(NO_RETRY_WINDOW.multipliedBy(2))
        .until(() -> broker.watches().size() == 1);
  }

  @Test
  void closingTheClientReleasesEveryCredential() throws Exception {
    CredentialSubscription db1 = client.watch("db1", listener);
    CredentialSubscription db2 = client.watch("db2", new RecordingCredentialListener());
    WatchCall first = broker.nextWatch();
    WatchCall second = broker.nextWatch();
    first.issue(credential("c-" + first.request().getDatabaseRole(), "u1", "pw", JDBC_URL));
    second.issue(credential("c-" + second.request().getDatabaseRole(), "u2", "pw", JDBC_URL));
    db1.awaitCredential(Duration.ofSeconds(5));
    db2.awaitCredential(Duration.ofSeconds(5));

    client.close();

    assertThat(broker.releases())
        .extracting(released -> released.request().getCredentialId())
        .containsExactlyInAnyOrder("c-db1", "c-db2");
    assertThatThrownBy(() -> client.watch("db1", listener))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void credentialRevokedAloneIsReportedAndAFreshOneIsRequestedWithoutResume() throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    call.revoke("c1", "CREDENTIAL_REVOKED");
    call.fail(Status.FAILED_PRECONDITION, "CREDENTIAL_REVOKED", null);

    WatchCall fresh = broker.nextWatch();
    assertThat(fresh.request().getResumeCredentialId())
        .as("the revoked credential is not resumed")
        .isEmpty();
    fresh.issue(credential("c2", "v-db1-b", "pw-2", JDBC_URL));

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(listener.credentials)
                    .extracting(Credential::credentialId)
                    .containsExactly("c1", "c2"));
    assertThat(listener.revocations)
        .singleElement()
        .satisfies(r -> assertThat(r.reason()).isEqualTo("CREDENTIAL_REVOKED"));
    assertThat(listener.stops).isEmpty();
    assertThat(subscription.currentCredential()).map(Credential::credentialId).contains("c2");
  }

  @Test
  void revokedCredentialIsReportedAndTheSubscriptionStops() throws Exception {
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall call = broker.nextWatch();
    call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    call.revoke("c1", "POD_REVOKED");
    call.fail(Status.PERMISSION_DENIED, "POD_REVOKED", null);

    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(listener.stops).hasSize(1));
    assertThat(listener.revocations)
        .singleElement()
        .satisfies(
            revocation -> {
              assertThat(revocation.credential().credentialId()).isEqualTo("c1");
              assertThat(revocation.reason()).isEqualTo("POD_REVOKED");
            });
    assertThat(listener.stops.get(0).reason()).isEqualTo("POD_REVOKED");
    assertThat(subscription.currentCredential()).isEmpty();

    subscription.close();
    assertThat(broker.releases()).as("a revoked credential is gone already").isEmpty();
    assertThat(broker.watches()).hasSize(1);
  }

  @Test
  void streamOverARealSocketDeliversTheCredential() throws Exception {
    Server netty =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(ServerInterceptors.intercept(broker, broker.headerRecorder()))
            .build()
            .start();
    try (CredentialBrokerClient overTcp =
        CredentialBrokerClient.builder()
            .target("localhost:" + netty.getPort())
            .plaintext()
            .allowInsecureTransport()
            .tokenFile(tokenFile)
            .build()) {
      CredentialSubscription subscription = overTcp.watch("db1", listener);
      WatchCall call = broker.nextWatch();
      assertThat(call.authorization()).isEqualTo("Bearer token-1");
      call.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));

      assertThat(subscription.awaitCredential(Duration.ofSeconds(5)).password()).isEqualTo("pw-1");
    } finally {
      netty.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    assertThat(broker.releases())
        .extracting(released -> released.request().getCredentialId())
        .containsExactly("c1");
  }

  @Test
  void builderRejectsContradictorySettings() {
    assertThatThrownBy(() -> CredentialBrokerClient.builder().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("exactly one");
    assertThatThrownBy(
            () ->
                CredentialBrokerClient.builder().channel(channel).target("localhost:9090").build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CredentialBrokerClient.builder().channel(channel).plaintext().build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                CredentialBrokerClient.builder()
                    .channel(channel)
                    .backoff(Duration.ofSeconds(5), Duration.ofSeconds(1))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("shorter");
  }

  @Test
  void watchRejectsABlankDatabaseRoleWithoutCallingTheBroker() {
    assertThatThrownBy(() -> client.watch(" ", listener))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("databaseRole");
    assertThatThrownBy(() -> client.watch("db1", Duration.ZERO, listener))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("requestedTtl");
    assertThat(broker.watches()).isEmpty();
  }

  private void writeToken(String token) throws IOException {
    // The kubelet replaces the file atomically; so does the test.
    Path temporary = Files.writeString(dir.resolve("token.tmp"), token + "\n");
    Files.move(
        temporary, tokenFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void callbacksTheApplicationsExecutorRefusedAreHandedToItAgainInOrder() throws Exception {
    // A bounded pool that is full at first: before, the refused callback (and any queued behind
    // it) was dropped, so the application never got its first credential or the rotation.
    AtomicInteger refusals = new AtomicInteger();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    Executor fullAtFirst =
        task -> {
          if (refusals.incrementAndGet() <= 3) {
            throw new RejectedExecutionException("callback pool is full");
          }
          pool.execute(task);
        };
    try (CredentialBrokerClient refusing = clientBuilder().callbackExecutor(fullAtFirst).build()) {
      refusing.watch("db1", listener);
      issuedAndRotated();

      assertThat(listener.credentials)
          .extracting(Credential::credentialId)
          .containsExactly("c1", "c2");
      assertThat(refusals.get()).isGreaterThan(3);
    } finally {
      pool.shutdownNow();
    }
  }
}
