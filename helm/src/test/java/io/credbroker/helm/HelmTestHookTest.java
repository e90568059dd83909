package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@code helm test} hook: a Pod with the broker's own image running {@code health-check}
 * against the Service's gRPC port, as a client would reach it (the Service's DNS name, TLS verified
 * with the CA of the broker's Secret), hardened like the broker's pods.
 */
class HelmTestHookTest {

  private static final String SERVICE_HOST = Chart.FULLNAME + "." + Chart.NAMESPACE + ".svc";

  private static RenderedChart defaults;
  private static JsonNode pod;

  @BeforeAll
  static void render() {
    defaults = Chart.render("required.yaml");
    pod = testPod(defaults);
  }

  @Test
  void podIsATestHookThatGoesWhenItPassed() {
    JsonNode annotations = pod.at("/metadata/annotations");

    assertThat(annotations.path("helm.sh/hook").asText()).isEqualTo("test");
    assertThat(annotations.path("helm.sh/hook-delete-policy").asText())
        .isEqualTo("before-hook-creation,hook-succeeded");
    assertThat(pod.at("/spec/restartPolicy").asText()).isEqualTo("Never");
  }

  @Test
  void brokersImageChecksGrpcHealthOverTlsByTheServicesNameWithTheSecretsCa() {
    assertThat(texts(container(pod).path("args")))
        .containsExactly(
            "health-check",
            "--target",
            SERVICE_HOST + ":9090",
            "--ca-file",
            "/etc/credbroker/tls/ca.crt",
            "--authority",
            SERVICE_HOST);
    assertThat(container(pod).path("image").asText())
        .isEqualTo(
            defaults.single("Deployment").at("/spec/template/spec/containers/0/image").asText());
  }

  @Test
  void caIsTheOnlyKeyOfTheBrokersSecretItMounts() {
    JsonNode volume = named(pod.at("/spec/volumes"), "tls");
    JsonNode mount = named(container(pod).path("volumeMounts"), "tls");
    JsonNode brokerVolume =
        named(defaults.single("Deployment").at("/spec/template/spec/volumes"), "tls");

    assertThat(volume.at("/secret/secretName").asText())
        .isEqualTo(brokerVolume.at("/secret/secretName").asText());
    assertThat(volume.at("/secret/items")).hasSize(1);
    assertThat(volume.at("/secret/items/0/key").asText()).isEqualTo("ca.crt");
    assertThat(mount.path("mountPath").asText() + "/" + volume.at("/secret/items/0/path").asText())
        .isEqualTo("/etc/credbroker/tls/ca.crt");
    assertThat(mount.path("readOnly").asBoolean()).isTrue();
    assertThat(mount.has("subPath")).isFalse();
  }

  @Test
  void authorityIsANameTheCertManagerCertificateCarriesAndTheTargetFollowsTheGrpcPort() {
    RenderedChart chart = Chart.render("cert-manager.yaml", Map.of("ports.grpc", 7443));
    List<String> args = texts(container(testPod(chart)).path("args"));
    JsonNode certificate = chart.single("Certificate");

    assertThat(texts(certificate.at("/spec/dnsNames")))
        .contains(args.get(args.indexOf("--authority") + 1));
    assertThat(args.get(args.indexOf("--target") + 1)).isEqualTo(SERVICE_HOST + ":7443");
    assertThat(named(testPod(chart).at("/spec/volumes"), "tls").at("/secret/secretName").asText())
        .isEqualTo(certificate.at("/spec/secretName").asText());
  }

  @Test
  void podRunsWithTheBrokersHardenedSecurityContextsAndAWritableTmpOnly() {
    JsonNode brokerPod = defaults.single("Deployment").at("/spec/template/spec");
    JsonNode securityContext = container(pod).path("securityContext");

    assertThat(pod.at("/spec/securityContext")).isEqualTo(brokerPod.path("securityContext"));
    assertThat(pod.at("/spec/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(pod.at("/spec/securityContext/seccompProfile/type").asText())
        .isEqualTo("RuntimeDefault");
    assertThat(securityContext).isEqualTo(brokerPod.at("/containers/0/securityContext"));
    assertThat(securityContext.path("readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(securityContext.path("allowPrivilegeEscalation").asBoolean(true)).isFalse();
    assertThat(texts(securityContext.at("/capabilities/drop"))).containsExactly("ALL");
    assertThat(named(container(pod).path("volumeMounts"), "tmp").path("mountPath").asText())
        .isEqualTo("/tmp");
    assertThat(named(pod.at("/spec/volumes"), "tmp").has("emptyDir")).isTrue();
    assertThat(pod.at("/spec/automountServiceAccountToken").asBoolean(true)).isFalse();
  }

  @Test
  void podFollowsTheBrokersPullSecretsAndScheduling() {
    JsonNode spec = testPod(Chart.render("pod-options.yaml")).path("spec");

    assertThat(spec.path("imagePullSecrets").findValuesAsText("name"))
        .containsExactly("registry-pull");
    assertThat(spec.at("/nodeSelector/kubernetes.io~1os").asText()).isEqualTo("linux");
    assertThat(spec.at("/tolerations/0/key").asText()).isEqualTo("dedicated");
  }

  @Test
  void testsCanBeTurnedOff() {
    RenderedChart chart = Chart.render("required.yaml", Map.of("tests.enabled", false));

    assertThat(chart.kinds()).doesNotContain("Pod");
    assertThat(chart.hooks()).isEmpty();
  }

  @Test
  void podIsNeverPickedUpByTheBrokersSelectorsButARestrictiveNetworkPolicyAdmitsIt() {
    RenderedChart chart = Chart.render("ports.yaml");
    JsonNode labels = testPod(chart).at("/metadata/labels");
    JsonNode policy = chart.single("NetworkPolicy");

    for (JsonNode selector :
        List.of(
            chart.get("Service", Chart.FULLNAME).at("/spec/selector"),
            chart.single("PodDisruptionBudget").at("/spec/selector/matchLabels"),
            policy.at("/spec/podSelector/matchLabels"),
            chart.single("ServiceMonitor").at("/spec/selector/matchLabels"))) {
      assertThat(matches(selector, labels)).as("%s selects %s", selector, labels).isFalse();
    }
    JsonNode grpcPeers = policy.at("/spec/ingress/0/from");
    assertThat(policy.at("/spec/ingress/0/ports/0/port").asText()).isEqualTo("grpc");
    assertThat(grpcPeers.findValues("podSelector"))
        .anySatisfy(peer -> assertThat(matches(peer.path("matchLabels"), labels)).isTrue());
  }

  @Test
  void notesSayHowToRunTheTest() {
    assertThat(Chart.installOutput("required.yaml"))
        .contains("helm test " + Chart.RELEASE + " -n " + Chart.NAMESPACE);
  }

  @Test
  void podAnnotationsAreAdded() {
    JsonNode annotated =
        testPod(Chart.render("required.yaml", Map.of("tests.podAnnotations.team", "platform")));

    assertThat(annotated.at("/metadata/annotations/team").asText()).isEqualTo("platform");
    assertThat(annotated.at("/metadata/annotations").path("helm.sh/hook").asText())
        .isEqualTo("test");
  }

  /**
   * The arguments are options of broker-service's picocli command named health-check, in this
   * source tree.
   */
  @Test
  void everyArgumentIsAnOptionOfTheHealthCheckCommand() throws IOException {
    Optional<String> command = healthCheckCommandSource();
    assertThat(command).as("broker-service has a @Command(name = \"health-check\")").isPresent();
    Set<String> options = new TreeSet<>();
    Matcher names =
        Pattern.compile("@Option\\(\\s*names\\s*=\\s*\\{?\\s*\"(--[a-z-]+)\"")
            .matcher(command.get());
    while (names.find()) {
      options.add(names.group(1));
    }
    List<String> args = texts(container(pod).path("args"));

    assertThat(options)
        .as("options of the health-check command")
        .contains("--target", "--ca-file", "--authority");
    assertThat(args.get(0)).isEqualTo("health-check");
    assertThat(options).containsAll(args.stream().filter(a -> a.startsWith("--")).toList());
  }

  /**
   * The source of the picocli command named health-check under the broker's sources, as the build
   * passes them.
   */
  private static Optional<String> healthCheckCommandSource() throws IOException {
    Path sources =
        Path.of(System.getProperty("credbroker.broker.sources", "../broker-service/src/main/java"));
    Pattern declaration =
        Pattern.compile("@Command\\([^)]*name\\s*=\\s*\"health-check\"", Pattern.DOTALL);
    List<Path> files;
    try (Stream<Path> walk = Files.walk(sources)) {
      files = walk.filter(p -> p.toString().endsWith(".java")).toList();
    }
    for (Path file : files) {
      String text = Files.readString(file);
      if (declaration.matcher(text).find()) {
        return Optional.of(text);
      }
    }
    return Optional.empty();
  }

  private static JsonNode testPod(RenderedChart chart) {
    return chart.get("Pod", Chart.FULLNAME + "-test");
  }

  private static JsonNode container(JsonNode pod) {
    JsonNode containers = pod.at("/spec/containers");
    assertThat(containers).hasSize(1);
    assertThat(containers.get(0).path("name").asText()).isEqualTo("health-check");
    return containers.get(0);
  }

  private static JsonNode named(JsonNode list, String name) {
    return StreamSupport.stream(list.spliterator(), false)
        .filter(item -> item.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + name + " in " + list));
  }

  /** Whether a label selector's matchLabels select an object with these labels. */
  private static boolean matches(JsonNode selector, JsonNode labels) {
    assertThat(selector.size()).as("selector %s", selector).isPositive();
    var fields = selector.fields();
    while (fields.hasNext()) {
      var entry = fields.next();
      if (!entry.getValue().asText().equals(labels.path(entry.getKey()).asText(null))) {
        return false;
      }
    }
    return true;
  }
}
