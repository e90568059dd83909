package io.credbroker.devstack.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.http.Json;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Watches on the stand-in, seen by clients nobody here wrote: fabric8's {@link SharedIndexInformer}
 * (list, then watch from the list's resourceVersion with bookmarks; after a 410 Gone it lists
 * again), kubectl {@code get -w}, and the JDK HttpClient reading the raw event lines.
 */
class KubernetesWatchIT {

  @TempDir static Path stateDir;

  static KubernetesApiServer server;
  static KubernetesClient admin;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    server = KubernetesApiServer.start("127.0.0.1", 0, stateDir, null);
    server.watchBookmarkInterval(Duration.ofMillis(300));
    admin =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(server.kubeconfigPath())))
            .build();
    http =
        HttpClient.newBuilder()
            .sslContext(KubernetesApiServerIT.trusting(server.caCertPath()))
            .build();
    server.createNamespace("watched");
    server.createServiceAccount("watched", "app");
  }

  @AfterAll
  static void stop() {
    if (admin != null) {
      admin.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @Test
  void informerSeesPodsAddedAndDeletedWithTheirUids() {
    RecordingHandler events = new RecordingHandler();
    SharedIndexInformer<Pod> informer = admin.pods().inAnyNamespace().inform(events, 0);
    try {
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(informer::hasSynced);
      String uid = server.createPod("watched", "informed-1", "app");
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> events.added.contains(uid));
      assertThat(informer.getStore().getByKey("watched/informed-1").getMetadata().getUid())
          .isEqualTo(uid);

      server.deletePod("watched", "informed-1");
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> events.deleted.contains(uid));
      assertThat(informer.getStore().getByKey("watched/informed-1")).isNull();
      assertThat(events.deletedFinalStateUnknown).isEmpty();
    } finally {
      informer.close();
    }
  }

  @Test
  void informerListsAgainAfterItsResourceVersionIsTooOld() {
    RecordingHandler events = new RecordingHandler();
    String before = server.createPod("watched", "relisted-1", "app");
    SharedIndexInformer<Pod> informer = admin.pods().inNamespace("watched").inform(events, 0);
    try {
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> events.added.contains(before));
      long expiredBefore = server.expiredWatches();

      // The informer misses these changes (its watch is cut and refused meanwhile), and the
      // history that would replay them is compacted away: its next watch gets 410 Gone.
      server.interruptWatches();
      server.deletePod("watched", "relisted-1");
      String after = server.createPod("watched", "relisted-2", "app");
      server.compactWatchHistory();
      server.resumeWatches();

      // The informer updates its store before it hands the events to the handler (on another
      // thread), so the events are awaited too.
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(informer.getStore().getByKey("watched/relisted-2")).isNotNull();
                assertThat(informer.getStore().getByKey("watched/relisted-1")).isNull();
                assertThat(events.added).contains(after);
                // Learnt from the re-list, not from a DELETED event.
                assertThat(events.deletedFinalStateUnknown).contains(before);
              });
      assertThat(server.expiredWatches()).isGreaterThan(expiredBefore);
    } finally {
      informer.close();
      server.deletePod("watched", "relisted-2");
    }
  }

  @Test
  void watchStreamsEventLinesWithBookmarksAndDeletedLastState() throws Exception {
    JsonNode list = Json.MAPPER.readTree(get("/api/v1/namespaces/watched/pods").body());
    String listVersion = list.path("metadata").path("resourceVersion").asText();
    assertThat(listVersion).isNotBlank();

    try (Stream<String> lines =
        watch(
            "/api/v1/namespaces/watched/pods?watch=1&allowWatchBookmarks=true"
                + "&timeoutSeconds=10&resourceVersion="
                + listVersion)) {
      Iterator<String> events = lines.iterator();
      String uid = server.createPod("watched", "raw-1", "app");
      server.deletePod("watched", "raw-1");

      List<JsonNode> seen = new ArrayList<>();
      while (seen.stream().noneMatch(e -> e.path("type").asText().equals("BOOKMARK"))
          || seen.stream().noneMatch(e -> e.path("type").asText().equals("DELETED"))) {
        seen.add(Json.MAPPER.readTree(events.next()));
      }
      JsonNode added =
          seen.stream()
              .filter(e -> e.path("type").asText().equals("ADDED"))
              .findFirst()
              .orElseThrow();
      JsonNode deleted =
          seen.stream()
              .filter(e -> e.path("type").asText().equals("DELETED"))
              .findFirst()
              .orElseThrow();
      JsonNode bookmark =
          seen.stream()
              .filter(e -> e.path("type").asText().equals("BOOKMARK"))
              .findFirst()
              .orElseThrow();
      assertThat(added.at("/object/metadata/uid").asText()).isEqualTo(uid);
      assertThat(deleted.at("/object/metadata/uid").asText()).isEqualTo(uid);
      assertThat(deleted.at("/object/metadata/deletionTimestamp").asText()).isNotBlank();
      assertThat(deleted.at("/object/spec/serviceAccountName").asText()).isEqualTo("app");
      assertThat(Long.parseLong(deleted.at("/object/metadata/resourceVersion").asText()))
          .isGreaterThan(Long.parseLong(added.at("/object/metadata/resourceVersion").asText()));
      assertThat(bookmark.path("object").properties().stream().map(Map.Entry::getKey).toList())
          .containsExactlyInAnyOrder("kind", "apiVersion", "metadata");
      assertThat(bookmark.at("/object/kind").asText()).isEqualTo("Pod");
      assertThat(bookmark.at("/object/metadata").size()).isEqualTo(1);
      assertThat(bookmark.at("/object/metadata/resourceVersion").asText()).isNotBlank();
    }
  }

  @Test
  void watchFromAResourceVersionOlderThanTheHistoryGetsGone() throws Exception {
    JsonNode list = Json.MAPPER.readTree(get("/api/v1/pods").body());
    String old = list.path("metadata").path("resourceVersion").asText();
    server.createPod("watched", "compacted-1", "app");
    server.deletePod("watched", "compacted-1");
    server.compactWatchHistory();

    try (Stream<String> lines = watch("/api/v1/pods?watch=true&resourceVersion=" + old)) {
      List<String> all = lines.toList();
      assertThat(all).hasSize(1);
      JsonNode error = Json.MAPPER.readTree(all.get(0));
      assertThat(error.path("type").asText()).isEqualTo("ERROR");
      assertThat(error.at("/object/kind").asText()).isEqualTo("Status");
      assertThat(error.at("/object/code").asInt()).isEqualTo(410);
      assertThat(error.at("/object/reason").asText()).isEqualTo("Expired");
      assertThat(error.at("/object/message").asText())
          .startsWith("too old resource version: " + old + " (");
    }
  }

  @Test
  void watchSelectsByLabelAndFieldAndEndsAfterItsTimeout() throws Exception {
    try (Stream<String> lines =
        watch(
            "/api/v1/namespaces/watched/pods?watch=true&timeoutSeconds=2"
                + "&fieldSelector=metadata.name%3Dselected-1")) {
      server.createPod("watched", "ignored-1", "app");
      server.createPod("watched", "selected-1", "app");
      List<JsonNode> all = new ArrayList<>();
      for (String line : (Iterable<String>) lines::iterator) {
        all.add(Json.MAPPER.readTree(line));
      }
      assertThat(all)
          .extracting(e -> e.at("/object/metadata/name").asText())
          .containsExactly("selected-1");
    } finally {
      server.deletePod("watched", "ignored-1");
      server.deletePod("watched", "selected-1");
    }
  }

  @Test
  void kubectlGetWatchPrintsAPodCreatedAfterItStarted() throws Exception {
    assumeTrue(
        Files.isExecutable(Path.of("/usr/bin/kubectl")),
        "kubectl is not installed at /usr/bin/kubectl");
    int watchesBefore = server.openWatches();
    ProcessBuilder builder =
        new ProcessBuilder("/usr/bin/kubectl", "get", "pods", "-n", "watched", "-w")
            .redirectErrorStream(true);
    builder.environment().put("KUBECONFIG", server.kubeconfigPath().toString());
    builder.environment().put("HOME", stateDir.toString());
    Process kubectl = builder.start();
    List<String> output = new CopyOnWriteArrayList<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(kubectl.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                  output.add(line);
                }
              } catch (java.io.IOException e) {
                // the process was destroyed
              }
            });
    reader.setDaemon(true);
    reader.start();
    try {
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> server.openWatches() > watchesBefore);
      server.createPod("watched", "late-1", "app");
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> output.stream().anyMatch(line -> line.startsWith("late-1")));
      assertThat(kubectl.isAlive()).as("kubectl still watching; output %s", output).isTrue();
    } finally {
      kubectl.destroy();
      kubectl.waitFor(10, TimeUnit.SECONDS);
      server.deletePod("watched", "late-1");
    }
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return http.send(request(path), HttpResponse.BodyHandlers.ofString());
  }

  private static Stream<String> watch(String path) throws Exception {
    HttpResponse<Stream<String>> response =
        http.send(request(path), HttpResponse.BodyHandlers.ofLines());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("transfer-encoding")).hasValue("chunked");
    return response.body();
  }

  private static HttpRequest request(String path) {
    return HttpRequest.newBuilder(URI.create(server.url() + path))
        .header("Authorization", "Bearer " + server.adminToken())
        .timeout(Duration.ofSeconds(30))
        .build();
  }

  /** Records the UIDs the informer reports. */
  static final class RecordingHandler implements ResourceEventHandler<Pod> {
    final List<String> added = new CopyOnWriteArrayList<>();
    final List<String> deleted = new CopyOnWriteArrayList<>();
    final List<String> deletedFinalStateUnknown = new CopyOnWriteArrayList<>();

    @Override
    public void onAdd(Pod pod) {
      added.add(pod.getMetadata().getUid());
    }

    @Override
    public void onUpdate(Pod oldPod, Pod newPod) {}

    @Override
    public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
      deleted.add(pod.getMetadata().getUid());
      if (deletedFinalStateUnknown) {
        this.deletedFinalStateUnknown.add(pod.getMetadata().getUid());
      }
    }
  }
}
