package io.credbroker.devstack.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.http.Json;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kubectl, pointed at the written kubeconfig and nothing else. Skipped where no kubectl binary is
 * on the PATH (it is not a Maven artifact); installing kubectl enables it.
 */
class KubectlIT {

  @TempDir static Path stateDir;

  static KubernetesApiServer server;

  @BeforeAll
  static void start() {
    assumeTrue(kubectlOnPath(), "kubectl is not on the PATH");
    server = KubernetesApiServer.start("127.0.0.1", 0, stateDir, null);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void kubectlCreatesPodsAndPodBoundTokensThatTheServerThenReviews() throws Exception {
    assertThat(
            kubectl(
                    "run",
                    "web",
                    "-n",
                    "public",
                    "--image=nginx",
                    "--overrides={\"spec\":{\"serviceAccountName\":\"application\"}}")
                .output)
        .contains("pod/web created");
    Result token =
        kubectl(
            "create",
            "token",
            "application",
            "-n",
            "public",
            "--audience",
            "credbroker",
            "--duration",
            "15m",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "web");
    assertThat(token.exitCode).isZero();

    String jwt = token.output.trim();
    Path reviewFile = stateDir.resolve("review.json");
    Files.writeString(
        reviewFile,
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
            + "\"spec\":{\"token\":\""
            + jwt
            + "\",\"audiences\":[\"credbroker\"]}}");
    // No OpenAPI documents are served (kubectl's client-side schema check needs them), hence
    // --validate=false.
    JsonNode review =
        Json.MAPPER.readTree(
            kubectl("create", "--validate=false", "-f", reviewFile.toString(), "-o", "json")
                .output);
    assertThat(review.at("/status/authenticated").asBoolean()).isTrue();
    assertThat(review.at("/status/user/extra/authentication.kubernetes.io~1pod-name/0").asText())
        .isEqualTo("web");
    assertThat(kubectl("get", "pods", "-n", "public", "-o", "name").output).contains("pod/web");

    assertThat(kubectl("delete", "pod", "web", "-n", "public").output).contains("deleted");
    assertThat(kubectl("get", "pod", "web", "-n", "public").output)
        .contains("pods \"web\" not found");
  }

  @Test
  void kubectlAuthCanIFollowsRbacForImpersonatedServiceAccounts() throws Exception {
    assertThat(
            kubectl(
                    "auth",
                    "can-i",
                    "create",
                    "tokenreviews.authentication.k8s.io",
                    "--as=system:serviceaccount:credbroker:credential-broker")
                .output
                .trim())
        .endsWith("yes");
    assertThat(
            kubectl(
                    "auth",
                    "can-i",
                    "create",
                    "tokenreviews.authentication.k8s.io",
                    "--as=system:serviceaccount:public:application")
                .output
                .trim())
        .endsWith("no");
  }

  @Test
  void kubectlCreatesAndDeletesNamespacesAndServiceAccounts() throws Exception {
    assertThat(kubectl("create", "namespace", "demo").output).contains("namespace/demo created");
    assertThat(kubectl("create", "serviceaccount", "robot", "-n", "demo").output)
        .contains("serviceaccount/robot created");
    assertThat(kubectl("get", "serviceaccounts", "-n", "demo", "-o", "name").output)
        .contains("serviceaccount/robot");
    assertThat(kubectl("delete", "namespace", "demo").output).contains("deleted");
    assertThat(kubectl("get", "serviceaccounts", "-n", "demo", "-o", "name").output)
        .doesNotContain("robot");
  }

  @Test
  void kubectlVersionReadsTheServersVersionLikeAnApiServers() throws Exception {
    Result result = kubectl("version", "-o", "json");

    assertThat(result.exitCode).as(result.output).isZero();
    JsonNode server = Json.MAPPER.readTree(result.output).path("serverVersion");
    assertThat(server.path("gitVersion").asText()).matches("v1\\.\\d+\\.\\d+");
    assertThat(server.path("gitVersion").asText())
        .startsWith(
            "v" + server.path("major").asText() + "." + server.path("minor").asText() + ".");
    assertThat(server.path("gitCommit").asText()).matches("[0-9a-f]{40}");
    assertThat(server.path("gitTreeState").asText()).isEqualTo("clean");
    assertThat(server.path("buildDate").asText())
        .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ");
    assertThat(server.path("goVersion").asText()).startsWith("go1.");
    assertThat(server.path("compiler").asText()).isEqualTo("gc");
    assertThat(server.path("platform").asText()).isEqualTo("linux/amd64");
  }

  record Result(int exitCode, String output) {}

  static Result kubectl(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add("kubectl");
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("KUBECONFIG", server.kubeconfigPath().toString());
    builder
        .environment()
        .put("HOME", stateDir.toString()); // keeps kubectl's cache out of the real home
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("kubectl " + String.join(" ", args) + " did not finish");
    }
    return new Result(process.exitValue(), output);
  }

  private static boolean kubectlOnPath() {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, "kubectl"))) {
        return true;
      }
    }
    return false;
  }
}
