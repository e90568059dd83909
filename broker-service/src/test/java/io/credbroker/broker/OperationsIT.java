package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.credbroker.api.v1.Credential;
import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import io.grpc.Status;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator sees of a running broker, held against what the project tells the operator: its
 * Prometheus scrape against the metrics reference ({@code docs/metrics.md}) and the alerts and
 * dashboard the Helm chart ships ({@code helm/credential-broker/files/}); its problem types and
 * runbook against {@code docs/runbook.md}. The broker is scraped after it issued, refused and
 * revoked credentials and saw a pod deleted, so that series registered on first use exist too.
 */
class OperationsIT {

  private static final Duration TOKEN_TTL = Duration.ofMinutes(10);
  private static final Path REPOSITORY =
      Path.of(System.getProperty("credbroker.repository.dir", ".."));
  private static final Path RULES =
      REPOSITORY.resolve("helm/credential-broker/files/prometheus-rules.yaml");
  private static final Path DASHBOARD =
      REPOSITORY.resolve("helm/credential-broker/files/grafana-dashboard.json");
  private static final Path REFERENCE = REPOSITORY.resolve("docs/metrics.md");

  /** A selector: a metric name and its label matchers in braces. */
  private static final Pattern SELECTOR = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)}");

  private static final Pattern MATCHER = Pattern.compile("(\\w+)\\s*(=~|!=|!~|=)\\s*\"([^\"]*)\"");

  /**
   * Labels that Prometheus adds from the scrape target, or that the broker puts on every series.
   */
  private static final Set<String> TARGET_LABELS = Set.of("application", "namespace", "pod", "job");

  @TempDir static Path workDir;
  private static BrokerFixture fixture;
  private static Scrape scrape;
  private static String sreToken;

  @BeforeAll
  static void startBrokerAndExerciseIt() throws Exception {
    fixture = BrokerFixture.start(workDir);
    KubernetesApiServer kubernetes = fixture.devStack.kubernetes();
    BrokerTestClient client = new BrokerTestClient(fixture.channel);

    kubernetes.createPod("public", "metrics-revoked", "application");
    Credential revoked =
        client.issue(podToken(kubernetes, "metrics-revoked"), BrokerFixture.DATABASE_ROLE);
    sreToken = kubernetes.issueToken("ops", "sre", null, List.of(), TOKEN_TTL);
    HttpResponse<String> revocation =
        fixture
            .adminHttpClient()
            .send(
                HttpRequest.newBuilder(
                        fixture.adminUri(
                            "/admin/v1/credentials/" + revoked.getCredentialId() + "/revocations"))
                    .header("Authorization", "Bearer " + sreToken)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"reason\":\"metrics\"}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(revocation.statusCode()).as(revocation.body()).isEqualTo(200);

    kubernetes.createPod("public", "metrics-deleted", "application");
    String deletedPodToken = podToken(kubernetes, "metrics-deleted");
    client.issue(deletedPodToken, BrokerFixture.DATABASE_ROLE);
    BrokerTestClient.assertRefused(
        () -> client.issue(deletedPodToken, "no-such-role"),
        Status.Code.NOT_FOUND,
        "UNKNOWN_DATABASE_ROLE");
    kubernetes.deletePod("public", "metrics-deleted");

    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> Scrape.of(fixture.httpGet("/actuator/prometheus").body()),
            s ->
                s.samples().contains("credbroker_pods_departed_total")
                    && s.samples().contains("credbroker_admin_revocations_total"));
    scrape = Scrape.of(fixture.httpGet("/actuator/prometheus").body());
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void everyMetricAnAlertNamesIsExportedWithTheLabelValuesItMatches() throws IOException {
    assertThat(alertExpressions())
        .hasSizeGreaterThanOrEqualTo(10)
        .allSatisfy(OperationsIT::assertSelectorsExported);
  }

  @Test
  void everyMetricADashboardPanelQueriesIsExportedWithTheLabelValuesItMatches() throws IOException {
    assertThat(dashboardExpressions())
        .hasSizeGreaterThanOrEqualTo(15)
        .allSatisfy(OperationsIT::assertSelectorsExported);
  }

  @Test
  void theReferenceListsExactlyTheBrokersMetricsWithTheirTypesAndLabels() throws IOException {
    Map<String, ReferenceRow> reference = reference();
    Set<String> exported = new TreeSet<>();
    for (String family : scrape.types().keySet()) {
      if (family.startsWith("credbroker_") && !isTimerMax(family)) {
        exported.add(family);
      }
    }

    Set<String> documentedBrokerMetrics = new TreeSet<>();
    reference.keySet().stream()
        .filter(n -> n.startsWith("credbroker_"))
        .forEach(documentedBrokerMetrics::add);
    assertThat(documentedBrokerMetrics)
        .as("the broker's metrics in docs/metrics.md")
        .isEqualTo(exported);
    for (ReferenceRow row : reference.values()) {
      assertThat(scrape.types()).as("metric %s in the scrape", row.name()).containsKey(row.name());
      assertThat(scrape.types().get(row.name()))
          .as("the type of %s", row.name())
          .isEqualTo(row.type());
      assertThat(scrape.labels(row.name()))
          .as("the labels of %s", row.name())
          .isEqualTo(row.labels());
      assertThat(row.aggregate())
          .as("how to aggregate %s", row.name())
          .matches("(replica|cluster): (sum|max|min)");
      assertThat(row.registered())
          .as("when %s is registered", row.name())
          .isIn("start", "first use");
    }
  }

  @Test
  void metricsTheReferenceSaysExistFromTheStartAreNeverNaN() throws IOException {
    for (ReferenceRow row : reference().values()) {
      for (String sample : scrape.lines()) {
        if (sample.startsWith(row.name() + "{") || sample.startsWith(row.name() + " ")) {
          assertThat(sample).as("a sample of %s", row.name()).doesNotEndWith("NaN");
        }
      }
    }
  }

  /**
   * Parses the rule file and the dashboard's queries with Prometheus' own parser ({@code promtool},
   * Debian's {@code prometheus} package, which .ci/run installs).
   */
  @Test
  void promtoolAcceptsTheRulesAndTheDashboardQueries() throws Exception {
    Path promtool = Path.of("/usr/bin/promtool");
    Assumptions.assumeTrue(
        Files.isExecutable(promtool),
        "promtool is not installed (apt-get install prometheus); the structural checks above still ran");

    assertThat(run(promtool.toString(), "check", "rules", RULES.toString()))
        .contains("SUCCESS: 15 rules found");

    StringBuilder recordingRules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
    int i = 0;
    for (String expression : dashboardExpressions()) {
      String concrete =
          expression.replace("$namespace", "credbroker").replace("$__rate_interval", "2m");
      recordingRules
          .append("      - record: dashboard:query")
          .append(i++)
          .append("\n        expr: ")
          .append(new ObjectMapper().writeValueAsString(concrete))
          .append('\n');
    }
    Path dashboardRules = workDir.resolve("dashboard-rules.yaml");
    Files.writeString(dashboardRules, recordingRules);
    assertThat(run(promtool.toString(), "check", "rules", dashboardRules.toString()))
        .contains("SUCCESS: " + i + " rules found");
  }

  @Test
  void theTypeOfAProblemResolvesOnTheBrokerToItsReasonsRunbookEntry() throws Exception {
    URI request = fixture.adminUri("/admin/v1/credentials/" + UUID.randomUUID());
    HttpResponse<String> notFound =
        fixture
            .adminHttpClient()
            .send(
                HttpRequest.newBuilder(request)
                    .header("Authorization", "Bearer " + sreToken)
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(notFound.statusCode()).isEqualTo(404);
    JsonNode problem = new ObjectMapper().readTree(notFound.body());
    assertThat(problem.path("reason").asText()).isEqualTo("CREDENTIAL_NOT_FOUND");

    // RFC 9457: a relative type is resolved against the request's URI. No credentials needed.
    HttpResponse<String> entry =
        getWithoutCredentials(request.resolve(problem.path("type").asText()));

    assertThat(entry.statusCode()).isEqualTo(200);
    assertThat(entry.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
    assertThat(entry.body())
        .startsWith("### Reason: CREDENTIAL_NOT_FOUND")
        .contains("**Cause:**", "**Fix:**");
  }

  @Test
  void everyReasonsProblemTypeResolvesOnTheBroker() throws Exception {
    for (BrokerException.Reason reason : BrokerException.Reason.values()) {
      String type = "/problems/" + reason.name().toLowerCase(Locale.ROOT).replace('_', '-');

      HttpResponse<String> entry = getWithoutCredentials(fixture.adminUri(type));

      assertThat(entry.statusCode()).as(type).isEqualTo(200);
      assertThat(entry.body()).as(type).startsWith("### Reason: " + reason.name());
    }
    assertThat(getWithoutCredentials(fixture.adminUri("/problems/no-such-reason")).statusCode())
        .isEqualTo(404);
  }

  @Test
  void theRunbookTheAlertsLinkToIsServedWithASectionPerAlert() throws Exception {
    HttpResponse<String> runbook = getWithoutCredentials(fixture.adminUri("/runbook"));

    assertThat(runbook.statusCode()).isEqualTo(200);
    JsonNode rules = new YAMLMapper().readTree(RULES.toFile());
    for (JsonNode alert : rules.findValues("alert")) {
      assertThat(runbook.body()).contains("### Alert: " + alert.asText() + "\n");
    }
  }

  private static HttpResponse<String> getWithoutCredentials(URI uri) throws Exception {
    return fixture
        .adminHttpClient()
        .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
  }

  // ---- what the chart and the reference say ----

  private static List<String> alertExpressions() throws IOException {
    JsonNode rules = new YAMLMapper().readTree(RULES.toFile());
    List<String> expressions = new ArrayList<>();
    for (JsonNode group : rules.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        assertThat(rule.path("alert").asText()).as("an alert name").startsWith("Credbroker");
        assertThat(rule.at("/labels/severity").asText()).isIn("warning", "critical");
        assertThat(rule.at("/annotations/summary").asText()).isNotBlank();
        expressions.add(rule.path("expr").asText());
      }
    }
    return expressions;
  }

  private static List<String> dashboardExpressions() throws IOException {
    JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
    List<String> expressions = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        expressions.add(target.path("expr").asText());
      }
    }
    return expressions;
  }

  private static Map<String, ReferenceRow> reference() throws IOException {
    Map<String, ReferenceRow> rows = new LinkedHashMap<>();
    for (String line : Files.readAllLines(REFERENCE)) {
      if (!line.startsWith("| `")) {
        continue;
      }
      String[] cells = line.split("\\|");
      String name = cells[1].trim().replace("`", "");
      Set<String> labels = new TreeSet<>();
      Matcher label = Pattern.compile("`(\\w+)`").matcher(cells[3]);
      while (label.find()) {
        labels.add(label.group(1));
      }
      ReferenceRow row =
          new ReferenceRow(name, cells[2].trim(), labels, cells[4].trim(), cells[5].trim());
      assertThat(rows.put(name, row)).as("%s listed once", name).isNull();
    }
    assertThat(rows).isNotEmpty();
    return rows;
  }

  private record ReferenceRow(
      String name, String type, Set<String> labels, String registered, String aggregate) {}

  // ---- what the broker exports ----

  /**
   * Every selector of {@code expression} names a series the broker exports, and each label value it
   * matches on (other than the scrape target's) occurs on a series of that name. Bare metric names
   * (without braces) are refused, so that no name escapes the check.
   */
  private static void assertSelectorsExported(String expression) {
    Matcher selector = SELECTOR.matcher(expression);
    int selectors = 0;
    while (selector.find()) {
      selectors++;
      String name = selector.group(1);
      assertThat(scrape.samples()).as("series %s named in: %s", name, expression).contains(name);
      Matcher matcher = MATCHER.matcher(selector.group(2));
      while (matcher.find()) {
        String label = matcher.group(1);
        if (TARGET_LABELS.contains(label) || matcher.group(2).startsWith("!")) {
          continue;
        }
        Pattern value =
            Pattern.compile(
                matcher.group(2).equals("=~") ? matcher.group(3) : Pattern.quote(matcher.group(3)));
        assertThat(scrape.labelValues(name, label))
            .as("values of %s on %s, matched by: %s", label, name, expression)
            .anyMatch(v -> value.matcher(v).matches());
      }
    }
    assertThat(selectors).as("selectors in: %s", expression).isPositive();
    String withoutSelectors = SELECTOR.matcher(expression).replaceAll("");
    assertThat(withoutSelectors)
        .as("metric names outside a selector in: %s", expression)
        .doesNotContainPattern("(credbroker|resilience4j)_\\w+");
    assertThat(expression.chars().filter(c -> c == '(').count())
        .as("balanced parentheses in: %s", expression)
        .isEqualTo(expression.chars().filter(c -> c == ')').count());
  }

  private static boolean isTimerMax(String family) {
    return family.endsWith("_seconds_max");
  }

  /** A Prometheus text exposition, as far as these tests read it. */
  private record Scrape(
      List<String> lines, Map<String, String> types, Map<String, Map<String, Set<String>>> values) {

    static Scrape of(String text) {
      List<String> samples = new ArrayList<>();
      Map<String, String> types = new TreeMap<>();
      Map<String, Map<String, Set<String>>> values = new TreeMap<>();
      for (String line : text.split("\n")) {
        if (line.startsWith("# TYPE ")) {
          String[] parts = line.split(" ");
          types.put(parts[2], parts[3]);
        } else if (!line.startsWith("#") && !line.isBlank()) {
          samples.add(line);
          int brace = line.indexOf('{');
          String name = brace < 0 ? line.substring(0, line.indexOf(' ')) : line.substring(0, brace);
          Map<String, Set<String>> labels = values.computeIfAbsent(name, n -> new TreeMap<>());
          if (brace >= 0) {
            Matcher label = MATCHER.matcher(line.substring(brace, line.indexOf('}')));
            while (label.find()) {
              labels
                  .computeIfAbsent(label.group(1), l -> new LinkedHashSet<>())
                  .add(label.group(3));
            }
          }
        }
      }
      return new Scrape(samples, types, values);
    }

    /** The names of the samples (with their {@code _total}, {@code _bucket}, ... suffixes). */
    Set<String> samples() {
      return values.keySet();
    }

    Set<String> labelValues(String sample, String label) {
      return values.getOrDefault(sample, Map.of()).getOrDefault(label, Set.of());
    }

    /**
     * The labels of a family's samples, less those on every series and a histogram's {@code le}.
     */
    Set<String> labels(String family) {
      Set<String> labels = new TreeSet<>();
      for (String suffix : List.of("", "_bucket", "_count", "_sum")) {
        labels.addAll(values.getOrDefault(family + suffix, Map.of()).keySet());
      }
      labels.removeAll(TARGET_LABELS);
      labels.remove("le");
      return labels;
    }
  }

  private static String podToken(KubernetesApiServer kubernetes, String pod) {
    return kubernetes.issueToken("public", "application", pod, List.of("credbroker"), TOKEN_TTL);
  }

  private static String run(String... command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
    return output;
  }
}
