package io.credbroker.client;

import static io.credbroker.client.RecordingCredentialBroker.credential;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.client.RecordingCredentialBroker.WatchCall;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas behind a Service over real sockets: a client whose replica stops answering, or whose
 * replicas refused connections for a while, resumes its credential on a replica that answers within
 * a bound well inside the broker's reconnect grace.
 */
class ReplicaFailoverTest {

  private static final String JDBC_URL = "jdbc:postgresql://localhost:5432/db1";
  private static final Duration IDLE_TIMEOUT = Duration.ofMillis(500);

  @TempDir Path dir;

  private final RecordingCredentialBroker brokerA = new RecordingCredentialBroker();
  private final RecordingCredentialBroker brokerB = new RecordingCredentialBroker();
  private final RecordingCredentialListener listener = new RecordingCredentialListener();
  private final List<Server> servers = new ArrayList<>();
  private ServiceProxy service;
  private CredentialBrokerClient client;

  @BeforeEach
  void startService() throws IOException {
    service = ServiceProxy.start();
    Path tokenFile = dir.resolve("token");
    Files.writeString(tokenFile, "token-1");
    client =
        CredentialBrokerClient.builder()
            .target("127.0.0.1:" + service.port())
            .plaintext()
            .allowInsecureTransport()
            .tokenFile(tokenFile)
            .backoff(Duration.ofMillis(50), Duration.ofMillis(200))
            .streamIdleTimeout(IDLE_TIMEOUT)
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    service.close();
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void frozenReplicaIsLeftForAReadyOneOnTheIdleTimeout() throws Exception {
    service.routeTo(startReplica(brokerA));
    CredentialSubscription subscription = client.watch("db1", listener);
    WatchCall first = brokerA.nextWatch();
    first.issue(credential("c1", "v-db1-a", "pw-1", JDBC_URL));
    assertThat(subscription.awaitCredential(Duration.ofSeconds(5)).credentialId()).isEqualTo("c1");

    // Replica A freezes with its connection open and fails readiness; B is the Service's endpoint.
    service.freezeOpenConnections();
    service.routeTo(startReplica(brokerB));

    // Idle timeout, SDK backoff and a new connection: a few seconds at most, far inside a grace.
    WatchCall resumed = brokerB.nextWatch();
    assertThat(resumed.request().getResumeCredentialId())
        .as("the stream opened on replica B resumes the credential held")
        .isEqualTo("c1");
    assertThat(brokerA.watches()).as("no stream went to the frozen replica again").hasSize(1);
  }

  @Test
  void replicaBackAfterALongRefusalIsUsedWithoutWaitingOutGrpcsConnectBackoff() throws Exception {
    int replica = startReplica(brokerA);
    service.routeNowhere();
    client.watch("db1", listener);

    // gRPC's own connect backoff starts at 1 s and grows 1.6 times per failure (20 % jitter):
    // after 10 s of refused connections its next dial is at least 3.3 s after the previous one
    // unless something resets it.
    long outageEnds = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < outageEnds) {
      Thread.sleep(50);
    }
    int attempts = service.connectionAttempts();
    await("a dial after the 10 s outage")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(5))
        .until(() -> service.connectionAttempts() > attempts);
    long backAt = System.nanoTime();
    service.routeTo(replica);

    brokerA.nextWatch();
    Duration toResume = Duration.ofNanos(System.nanoTime() - backAt);
    assertThat(toResume)
        .as("time from the replica's return to the stream on it")
        .isLessThan(Duration.ofSeconds(2));
  }

  private int startReplica(RecordingCredentialBroker broker) throws IOException {
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(ServerInterceptors.intercept(broker, broker.headerRecorder()))
            .build()
            .start();
    servers.add(server);
    return server.getPort();
  }
}
