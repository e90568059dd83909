package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The alerts of {@code files/prometheus-rules.yaml} evaluated by Prometheus' own rule engine
 * ({@code promtool test rules}) on series shaped like a real scrape: {@code
 * alerts/alert-tests.yaml} says which alert fires, when, with which labels, and which stays silent
 * (a clean shutdown's takeovers, a cluster-wide gauge reported by every replica, a replica that
 * renews nothing).
 *
 * <p>promtool comes from Debian's {@code prometheus} package, which .ci/run installs; without it
 * the evaluation is skipped, and the structural checks still run.
 */
class AlertRulesTest {

  private static final Path RULES = Chart.source().resolve("files/prometheus-rules.yaml");
  private static final Path PROMTOOL = Path.of("/usr/bin/promtool");

  /** The alerts the chart promises an operator, each of which must have a unit test. */
  static final Set<String> PROMISED_ALERTS =
      Set.of(
          "CredbrokerRevocationQueueNotDraining",
          "CredbrokerRevocationPendingTooLong",
          "CredbrokerCredentialExpiringUnrenewed",
          "CredbrokerVaultCircuitOpen",
          "CredbrokerRevocationListenerDisconnected",
          "CredbrokerReplicaTakeovers",
          "CredbrokerRenewalFailures",
          "CredbrokerRenewalBacklog",
          "CredbrokerTokenReviewErrors",
          "CredbrokerUndroppableRoles");

  @Test
  void everyPromisedAlertExistsAndHasAUnitTest() throws IOException {
    Set<String> alerts =
        new TreeSet<>(RenderedChart.YAML.readTree(RULES.toFile()).findValuesAsText("alert"));
    Set<String> tested = new TreeSet<>(tests().findValuesAsText("alertname"));

    assertThat(alerts).containsAll(PROMISED_ALERTS);
    assertThat(tested).containsAll(PROMISED_ALERTS);
    assertThat(alerts).containsAll(tested);
  }

  @Test
  void promtoolEvaluatesTheAlertsAsTheUnitTestsExpect() throws Exception {
    Assumptions.assumeTrue(
        Files.isExecutable(PROMTOOL), "promtool is not installed (apt-get install prometheus)");
    Path dir = Path.of("target", "alert-tests").toAbsolutePath();
    Files.createDirectories(dir);
    JsonNode rules = RenderedChart.YAML.readTree(RULES.toFile());
    rules
        .path("groups")
        .forEach(
            group ->
                group.path("rules").forEach(rule -> ((ObjectNode) rule).remove("annotations")));
    Path rulesCopy = dir.resolve("rules.yaml");
    RenderedChart.YAML.writeValue(rulesCopy.toFile(), rules);
    ObjectNode tests = (ObjectNode) tests();
    tests.putArray("rule_files").add(rulesCopy.toString());
    Path testFile = dir.resolve("tests.yaml");
    RenderedChart.YAML.writeValue(testFile.toFile(), tests);

    Process promtool =
        new ProcessBuilder(PROMTOOL.toString(), "test", "rules", testFile.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(promtool.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(promtool.exitValue()).as(output).isZero();
    assertThat(output).contains("SUCCESS");
    assertThat(tests.path("tests").size()).isGreaterThanOrEqualTo(PROMISED_ALERTS.size());
  }

  private static JsonNode tests() throws IOException {
    try (InputStream in = AlertRulesTest.class.getResourceAsStream("/alerts/alert-tests.yaml")) {
      assertThat(in).as("alerts/alert-tests.yaml").isNotNull();
      return RenderedChart.YAML.readTree(in);
    }
  }
}
