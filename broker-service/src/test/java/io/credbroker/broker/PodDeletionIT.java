package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.auth.TokenReviewer;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialQuery;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.PodDepartures;
import io.credbroker.broker.pods.PodWatch;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.test.util.ReflectionTestUtils;

/**
 * A stream does not outlive its pod: the broker's shared watch of pods (a fabric8 informer against
 * the dev-stack API server) sees the pod deleted, ends its stream with UNAUTHENTICATED {@code
 * POD_DELETED}, renews, rotates and issues nothing more for it, and drops its role after the drain
 * grace. Through the real wire: TLS gRPC, Vault, PostgreSQL, the Kubernetes stand-in's watch.
 */
class PodDeletionIT {

  private static final String SHORT_ROLE = "db1short";
  private static final Duration DRAIN = Duration.ofSeconds(2);

  /** Events are acted on at once; this bounds a missed one. */
  private static final Duration NOTICE_WITHIN = Duration.ofSeconds(2);

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static KubernetesApiServer kubernetes;
  private static TestPods pods;

  private final List<EventStream> streams = new ArrayList<>();

  @BeforeAll
  static void startBroker() {
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("credbroker.lease.poll-interval", "200ms");
    properties.put("credbroker.lease.drain-grace", DRAIN.toMillis() + "ms");
    properties.put("credbroker.lease.reconnect-grace", "30s");
    properties.put(
        "credbroker.kubernetes.pod-watch.check-interval", NOTICE_WITHIN.toMillis() + "ms");
    properties.putAll(BrokerFixture.secondBinding(SHORT_ROLE));
    fixture =
        BrokerFixture.start(
            workDir,
            properties,
            // Renewed every ~2 s and rotated before its 8 s max TTL: a stream that outlived its
            // pod would see both.
            BrokerFixture.shortLivedVaultRole(
                SHORT_ROLE, Duration.ofSeconds(3), Duration.ofSeconds(8)));
    kubernetes = fixture.devStack.kubernetes();
    pods = new TestPods(kubernetes, "gone-");
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @AfterEach
  void closeStreams() {
    streams.forEach(EventStream::close);
    streams.clear();
  }

  @Test
  void streamOfADeletedPodEndsUnauthenticatedAndItsRoleIsDroppedAfterTheDrainGrace()
      throws Exception {
    String pod = pods.create();
    String token = pods.token(pod);
    EventStream stream = watch(token, SHORT_ROLE);
    Credential credential = stream.first().getIssued().getCredential();
    assertThat(fixture.roleExists(credential.getUsername())).isTrue();

    Instant deleted = Instant.now();
    kubernetes.deletePod("public", pod);

    await().atMost(NOTICE_WITHIN.plusSeconds(2)).until(() -> !stream.open());
    assertEndedWithPodDeleted(stream);
    // Still usable while the pod's last connections drain, then dropped.
    CredentialRecord draining = fixture.record(credential.getCredentialId());
    assertThat(draining.state()).isEqualTo(CredentialState.ACTIVE);
    await().atMost(DRAIN.plusSeconds(5)).until(() -> !fixture.roleExists(credential.getUsername()));
    CredentialRecord ended = fixture.record(credential.getCredentialId());
    assertThat(ended.state()).isEqualTo(CredentialState.REVOKED);
    assertThat(ended.endReason()).isEqualTo("POD_DELETED");
    assertThat(Duration.between(deleted, ended.endTime())).isGreaterThanOrEqualTo(DRAIN);

    // The token may still be cached as valid: the pod gets nothing more, and past the role's max
    // TTL
    // no rotation created another role for it.
    EventStream again = watch(token, SHORT_ROLE);
    await().atMost(Duration.ofSeconds(10)).until(() -> !again.open());
    assertThat(again.events).isEmpty();
    assertThat(((StatusRuntimeException) again.error.get()).getStatus().getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    await()
        .during(Duration.ofSeconds(8))
        .atMost(Duration.ofSeconds(10))
        .until(() -> credentialsOf(pod).size() == 1);
    assertThat(credentialsOf(pod))
        .singleElement()
        .satisfies(c -> assertThat(c.state()).isEqualTo(CredentialState.REVOKED));
    assertThat(stream.count(e -> e.hasRotated())).isZero();
  }

  @Test
  void streamStillOpeningWhenItsPodIsDeletedGetsNoCredentialAndTheRoleCreatedForItIsDropped()
      throws Exception {
    String pod = pods.create();
    String token = pods.token(pod);
    PodWatch podWatch = fixture.broker.getBean(PodWatch.class);
    await().atMost(Duration.ofSeconds(5)).until(() -> podWatch.cached("public", pod) != null);
    String uid = podWatch.cached("public", pod).getMetadata().getUid();
    PodDepartures departures = fixture.broker.getBean(PodDepartures.class);
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // Vault holds the stream's creation until the broker has acted on the pod's deletion, which
    // then finds no credential of the pod to end: the row is inserted afterwards. Never held past
    // the broker's read timeout (5 s).
    HeldCreations.hold(fixture.devStack, arrived, release);
    EventStream stream;
    try {
      stream = watch(token, "db1");
      assertThat(arrived.await(20, TimeUnit.SECONDS)).isTrue();
      kubernetes.deletePod("public", pod);
      await().atMost(Duration.ofSeconds(3)).until(() -> departures.isDeparted(uid));
    } finally {
      release.countDown();
      fixture.devStack.vaultFaults().clear();
    }

    // Refused like any later request of the deleted pod: no password reached it, and the role
    // created for it is dropped at once (it has no connections to drain).
    await().atMost(Duration.ofSeconds(10)).until(() -> !stream.open());
    assertThat(stream.events).isEmpty();
    assertEndedWithPodDeleted(stream);
    List<CredentialRecord> ofPod = credentialsOf(pod);
    assertThat(ofPod).hasSize(1);
    CredentialRecord created = ofPod.get(0);
    assertThat(created.state()).isEqualTo(CredentialState.REVOKED);
    assertThat(created.endReason()).isEqualTo("POD_DELETED");
    assertThat(fixture.roleExists(created.username())).isFalse();
  }

  @Test
  void podRecreatedUnderTheSameNameIsAnotherPodAndTheOldStreamEnds() throws Exception {
    String pod = pods.create();
    EventStream old = watch(pods.token(pod), "db1");
    Credential oldCredential = old.first().getIssued().getCredential();

    kubernetes.deletePod("public", pod);
    kubernetes.createPod("public", pod, "application");
    EventStream fresh = watch(pods.token(pod), "db1");
    Credential freshCredential = fresh.first().getIssued().getCredential();

    await().atMost(NOTICE_WITHIN.plusSeconds(2)).until(() -> !old.open());
    assertEndedWithPodDeleted(old);
    await()
        .atMost(DRAIN.plusSeconds(5))
        .until(() -> !fixture.roleExists(oldCredential.getUsername()));

    // The new pod (same name, new UID) keeps its stream and its role.
    await()
        .during(NOTICE_WITHIN.plusSeconds(1))
        .atMost(NOTICE_WITHIN.plusSeconds(3))
        .until(fresh::open);
    assertThat(fixture.roleExists(freshCredential.getUsername())).isTrue();
    assertThat(fixture.record(freshCredential.getCredentialId()).state())
        .isEqualTo(CredentialState.ACTIVE);
  }

  @Test
  void podDeletedWhileTheWatchWasDownIsStillNoticedAfterTheWatchGets410Gone() throws Exception {
    String pod = pods.create();
    EventStream stream = watch(pods.token(pod), "db1");
    Credential credential = stream.first().getIssued().getCredential();
    long expired = kubernetes.expiredWatches();

    // The broker's watch is cut and refused while the pod is deleted, and the event is compacted
    // away: its next watch gets 410 Gone. The deletion is learnt from the list that follows (or,
    // whichever comes first, from the periodic check of the pods of live credentials).
    kubernetes.interruptWatches();
    kubernetes.deletePod("public", pod);
    kubernetes.compactWatchHistory();
    kubernetes.resumeWatches();

    await().atMost(Duration.ofSeconds(20)).until(() -> !stream.open());
    assertEndedWithPodDeleted(stream);
    await().atMost(DRAIN.plusSeconds(5)).until(() -> !fixture.roleExists(credential.getUsername()));
    assertThat(kubernetes.expiredWatches()).isGreaterThan(expired);
  }

  @Test
  void theWatchKeepsOfEachPodOnlyItsNameUidAndServiceAccount() {
    String pod = pods.create();
    Pod inApi =
        fixture
            .broker
            .getBean(KubernetesClient.class)
            .pods()
            .inNamespace("public")
            .withName(pod)
            .get();
    assertThat(inApi.getSpec().getContainers()).isNotEmpty();
    assertThat(inApi.getMetadata().getCreationTimestamp()).isNotNull();
    PodWatch watch = fixture.broker.getBean(PodWatch.class);

    await().atMost(Duration.ofSeconds(5)).until(() -> watch.cached("public", pod) != null);

    Pod cached = watch.cached("public", pod);
    assertThat(cached.getMetadata().getName()).isEqualTo(pod);
    assertThat(cached.getMetadata().getNamespace()).isEqualTo("public");
    assertThat(cached.getMetadata().getUid()).isEqualTo(inApi.getMetadata().getUid());
    assertThat(cached.getSpec().getServiceAccountName()).isEqualTo("application");
    // Nothing else: not the containers, timestamps, labels or status the API's pod has.
    assertThat(cached.getSpec().getContainers()).isEmpty();
    assertThat(cached.getMetadata().getCreationTimestamp()).isNull();
    assertThat(cached.getMetadata().getLabels()).isNullOrEmpty();
    assertThat(cached.getStatus()).isNull();
  }

  @Test
  void theWatchListsOnAKubernetesClientOfItsOwnNotTheOneTokenReviewsUse() {
    // fabric8 deserialises an answer on its connection's event loop; the watch's list of every pod
    // must not hold up TokenReviews on the same client.
    KubernetesClient reviews = fixture.broker.getBean(KubernetesClient.class);
    Object watchClient =
        ReflectionTestUtils.getField(fixture.broker.getBean(PodWatch.class), "client");
    Object reviewClient =
        ReflectionTestUtils.getField(fixture.broker.getBean(TokenReviewer.class), "client");

    assertThat(reviewClient).isSameAs(reviews);
    assertThat(watchClient)
        .isSameAs(fixture.broker.getBean("podWatchKubernetesClient"))
        .isNotSameAs(reviews);
  }

  private static void assertEndedWithPodDeleted(EventStream stream) {
    assertThat(stream.error.get()).isInstanceOf(StatusRuntimeException.class);
    StatusRuntimeException error = (StatusRuntimeException) stream.error.get();
    assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(error.getStatus().getDescription()).contains("was deleted");
    assertThat(BrokerTestClient.errorInfo(error).getReason()).isEqualTo("POD_DELETED");
    assertThat(BrokerTestClient.errorInfo(error).getDomain()).isEqualTo("credbroker.io");
  }

  private static List<CredentialRecord> credentialsOf(String pod) {
    return fixture
        .broker
        .getBean(CredentialQueries.class)
        .search(new CredentialQuery("public", pod, null, null, false, 100));
  }

  private EventStream watch(String token, String databaseRole) {
    EventStream stream =
        EventStream.open(
            fixture.channel,
            token,
            WatchCredentialRequest.newBuilder().setDatabaseRole(databaseRole).build());
    streams.add(stream);
    return stream;
  }
}
