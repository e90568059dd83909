package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The gRPC, lease, cluster, admin, revocation, limits and retention settings and the Vault timeouts
 * the chart exposes: they reach the broker's application.yaml under the property names
 * broker-service binds, their chart defaults are the broker's own defaults (read from {@code
 * BrokerProperties.java} and the broker's {@code application.yaml}, so the two cannot drift apart
 * unnoticed), and values the broker would refuse are refused at install time.
 */
class BrokerSettingsTest {

  /**
   * The sections of {@code credbroker.*} this test covers (a path below {@code credbroker}), by the
   * name of their record in BrokerProperties.
   */
  private static final Map<String, String> SECTIONS =
      Map.of(
          "grpc",
          "Grpc",
          "lease",
          "Lease",
          "lease/reconcile",
          "Reconcile",
          "cluster",
          "Cluster",
          "admin",
          "Admin",
          "revocation",
          "Revocation",
          "vault",
          "Vault",
          "limits",
          "Limits",
          "retention",
          "Retention");

  private static JsonNode defaultConfig;
  private static JsonNode defaults;
  private static JsonNode tuned;
  private static Map<String, Map<String, Optional<String>>> brokerDefaults;

  @BeforeAll
  static void render() throws IOException {
    defaultConfig = Chart.render("required.yaml").applicationConfig();
    defaults = defaultConfig.path("credbroker");
    tuned = Chart.render("tuning.yaml").applicationConfig().path("credbroker");
    brokerDefaults = BrokerPropertiesSource.read();
  }

  @ParameterizedTest(name = "credbroker.{0}")
  @ValueSource(
      strings = {
        "grpc",
        "lease",
        "lease/reconcile",
        "cluster",
        "admin",
        "revocation",
        "vault",
        "limits",
        "retention"
      })
  void everyRenderedKeyIsAPropertyTheBrokerBindsWithTheBrokersDefault(String section) {
    Map<String, Optional<String>> broker = brokerDefaults.get(SECTIONS.get(section));
    JsonNode rendered = defaults.at("/" + section);

    assertThat(rendered.isObject()).as(section).isTrue();
    for (String key : fieldNames(rendered)) {
      assertThat(broker)
          .as(
              "credbroker.%s.%s is a property of BrokerProperties.%s",
              section, key, SECTIONS.get(section))
          .containsKey(key);
      JsonNode value = rendered.path(key);
      Optional<String> brokerDefault = broker.get(key);
      if (value.isObject()) {
        // A nested record (@DefaultValue without a value); its own keys are checked as a section of
        // their own.
        assertThat(brokerDefault).as(key).isEmpty();
        assertThat(SECTIONS)
            .as("%s/%s is checked as a section", section, key)
            .containsKey(section + "/" + key);
      } else if (value.isArray()) {
        assertThat(brokerDefault).as(key).isEmpty();
        assertThat(value).as("%s: the broker's default is an empty list", key).isEmpty();
      } else if (value.isNumber()) {
        assertThat(value.decimalValue())
            .as(key)
            .isEqualByComparingTo(new BigDecimal(brokerDefault.orElseThrow()));
      } else {
        assertThat(value.asText()).as(key).isEqualTo(brokerDefault.orElseThrow());
      }
    }
  }

  @Test
  void theSettingsAnOperatorTunesAreExposedAndInternalsAreNot() {
    assertThat(fieldNames(defaults.path("grpc")))
        .containsExactlyInAnyOrder(
            "port",
            "heartbeat-interval",
            "call-threads",
            "max-pending-calls",
            "max-stream-authorisation");
    assertThat(fieldNames(defaults.path("lease")))
        .containsExactlyInAnyOrder(
            "renewal-fraction",
            "renewal-jitter",
            "rotation-margin",
            "reconnect-grace",
            "reconnect-grace-limit",
            "drain-grace",
            "workers",
            "max-concurrent-release-revocations",
            "expiring-warning",
            "renewal-retry-max",
            "revocation-retry-initial",
            "revocation-retry-max",
            "token-expiry-margin",
            "reconcile");
    assertThat(fieldNames(defaults.at("/lease/reconcile")))
        .containsExactlyInAnyOrder("interval", "grace");
    assertThat(fieldNames(defaults.path("cluster")))
        .containsExactlyInAnyOrder("heartbeat-interval", "stale-after");
    assertThat(fieldNames(defaults.path("admin")))
        .containsExactlyInAnyOrder(
            "audiences", "authentication-cache-ttl", "authorization-cache-ttl");
    assertThat(fieldNames(defaults.path("revocation")))
        .containsExactlyInAnyOrder("block-cache-ttl", "undropped-check-interval");
    // Every limit and every retention setting is an operator's decision.
    assertThat(fieldNames(defaults.path("limits")))
        .containsExactlyInAnyOrderElementsOf(brokerDefaults.get("Limits").keySet());
    assertThat(fieldNames(defaults.path("retention")))
        .containsExactlyInAnyOrderElementsOf(brokerDefaults.get("Retention").keySet());
    assertThat(fieldNames(defaults.path("vault")))
        .containsExactlyInAnyOrder("issuing-token-role", "max-concurrent-creations");
  }

  @Test
  void grpcValuesReachTheBroker() {
    JsonNode grpc = tuned.path("grpc");

    assertThat(grpc.path("heartbeat-interval").asText()).isEqualTo("20s");
    assertThat(grpc.path("call-threads").isInt()).isTrue();
    assertThat(grpc.path("call-threads").asInt()).isEqualTo(16);
    assertThat(grpc.path("max-pending-calls").isInt()).isTrue();
    assertThat(grpc.path("max-pending-calls").asInt()).isEqualTo(128);
  }

  @Test
  void limitsValuesReachTheBroker() {
    JsonNode limits = tuned.path("limits");

    assertThat(limits.path("streams-per-pod-role").isInt()).isTrue();
    assertThat(limits.path("streams-per-pod-role").asInt()).isEqualTo(3);
    assertThat(limits.path("min-requested-ttl").asText()).isEqualTo("5m");
    assertThat(limits.path("issuance-burst").asInt()).isEqualTo(20);
    assertThat(limits.path("issuances-per-minute").asInt()).isEqualTo(60);
    assertThat(limits.path("tracked-pods").isInt()).isTrue();
    assertThat(limits.path("tracked-pods").asInt()).isEqualTo(50_000);
    assertThat(limits.path("token-reviews-per-second").asInt()).isEqualTo(250);
    assertThat(limits.path("concurrent-token-reviews").asInt()).isEqualTo(32);
  }

  @Test
  void retentionValuesReachTheBrokerInDaysAsSpringReadsThem() {
    JsonNode retention = tuned.path("retention");

    assertThat(retention.path("ended-credentials").asText()).isEqualTo("7d");
    assertThat(retention.path("audit-events").asText()).isEqualTo("P730D");
    assertThat(retention.path("interval").asText()).isEqualTo("30m");
    assertThat(retention.path("batch-size").isInt()).isTrue();
    assertThat(retention.path("batch-size").asInt()).isEqualTo(500);
    assertThat(retention.path("dead-replicas").asText()).isEqualTo("12h");
    assertThat(defaults.at("/retention/ended-credentials").asText()).isEqualTo("30d");
    assertThat(defaults.at("/retention/audit-events").asText()).isEqualTo("365d");
    assertThat(defaults.at("/retention/dead-replicas").asText()).isEqualTo("1d");
  }

  @Test
  void reconcileAndUndroppedCheckValuesReachTheBroker() {
    assertThat(tuned.at("/lease/reconcile/interval").asText()).isEqualTo("15m");
    assertThat(tuned.at("/lease/reconcile/grace").asText()).isEqualTo("2m");
    assertThat(tuned.at("/revocation/undropped-check-interval").asText()).isEqualTo("10m");
    // Next to the lease settings, not instead of them.
    assertThat(tuned.at("/lease/drain-grace").asText()).isEqualTo("45s");
  }

  @Test
  void endedCredentialsUnderAnHourAreRefusedAsTheBrokerWould() {
    assertThatThrownBy(
            () ->
                Chart.template("required.yaml", Map.of("retention.endedCredentials", "59m")).call())
        .hasMessageContaining("retention.endedCredentials (59m) must be at least 1h");
    JsonNode retention =
        Chart.render("required.yaml", Map.of("retention.endedCredentials", "60m"))
            .applicationConfig()
            .at("/credbroker/retention");
    assertThat(retention.path("ended-credentials").asText()).isEqualTo("60m");
  }

  @Test
  void deadReplicasUnderAnHourAreRefusedAsTheBrokerWould() {
    assertThatThrownBy(
            () -> Chart.template("required.yaml", Map.of("retention.deadReplicas", "59m")).call())
        .hasMessageContaining("retention.deadReplicas (59m) must be at least 1h");
    JsonNode retention =
        Chart.render("required.yaml", Map.of("retention.deadReplicas", "1h"))
            .applicationConfig()
            .at("/credbroker/retention");
    assertThat(retention.path("dead-replicas").asText()).isEqualTo("1h");
  }

  @Test
  void reconcileGraceUnderASecondIsRefusedAsTheBrokerWould() {
    assertThatThrownBy(
            () -> Chart.template("required.yaml", Map.of("lease.reconcile.grace", "999ms")).call())
        .hasMessageContaining("lease.reconcile.grace (999ms) must be at least 1s");
  }

  @Test
  void vaultTimeoutsDefaultToTheBrokersOwn() throws IOException {
    Path file =
        Path.of(
            System.getProperty(
                "credbroker.broker.application",
                "../broker-service/src/main/resources/application.yaml"));
    JsonNode broker = RenderedChart.YAML.readTree(file.toFile()).at("/spring/cloud/vault");
    JsonNode chart = defaultConfig.at("/spring/cloud/vault");

    assertThat(broker.path("read-timeout").isInt()).as("read-timeout in " + file).isTrue();
    assertThat(chart.path("read-timeout").asInt()).isEqualTo(broker.path("read-timeout").asInt());
    assertThat(chart.path("connection-timeout").asInt())
        .isEqualTo(broker.path("connection-timeout").asInt());
  }

  @Test
  void leaseValuesReachTheBroker() {
    JsonNode lease = tuned.path("lease");

    assertThat(lease.path("renewal-fraction").decimalValue()).isEqualByComparingTo("0.5");
    assertThat(lease.path("renewal-jitter").decimalValue()).isEqualByComparingTo("0.2");
    assertThat(lease.path("rotation-margin").decimalValue()).isEqualByComparingTo("0.75");
    assertThat(lease.path("reconnect-grace").asText()).isEqualTo("5m");
    assertThat(lease.path("reconnect-grace-limit").asText()).isEqualTo("20m");
    assertThat(lease.path("drain-grace").asText()).isEqualTo("45s");
    assertThat(lease.path("workers").isInt()).isTrue();
    assertThat(lease.path("workers").asInt()).isEqualTo(16);
    assertThat(lease.path("max-concurrent-release-revocations").isInt()).isTrue();
    assertThat(lease.path("max-concurrent-release-revocations").asInt()).isEqualTo(3);
    assertThat(lease.path("expiring-warning").asText()).isEqualTo("1m");
    assertThat(lease.path("renewal-retry-max").asText()).isEqualTo("20s");
    assertThat(lease.path("revocation-retry-initial").asText()).isEqualTo("2s");
    assertThat(lease.path("revocation-retry-max").asText()).isEqualTo("PT30M");
    assertThat(lease.path("token-expiry-margin").asText()).isEqualTo("10m");
    assertThat(tuned.path("vault").path("issuing-token-role").asText()).isEqualTo("broker-issuer");
    assertThat(tuned.path("vault").path("max-concurrent-creations").asInt()).isEqualTo(4);
  }

  @Test
  void clusterAdminAndRevocationValuesReachTheBroker() {
    assertThat(tuned.at("/cluster/heartbeat-interval").asText()).isEqualTo("3s");
    assertThat(tuned.at("/cluster/stale-after").asText()).isEqualTo("20s");
    assertThat(texts(tuned.at("/admin/audiences")))
        .containsExactly("credbroker-admin", "https://kubernetes.default.svc");
    assertThat(tuned.at("/admin/authentication-cache-ttl").asText()).isEqualTo("30s");
    assertThat(tuned.at("/admin/authorization-cache-ttl").asText()).isEqualTo("2s");
    assertThat(tuned.at("/revocation/block-cache-ttl").asText()).isEqualTo("1m");
    // The sections sit next to what was there before, not instead of it.
    assertThat(tuned.at("/grpc/port").asInt()).isEqualTo(9090);
    assertThat(tuned.at("/kubernetes/audience").asText()).isEqualTo("credbroker");
  }

  @Test
  void podWatchValuesReachTheBrokerWithItsDefaults() {
    JsonNode podWatch = defaultConfig.at("/credbroker/kubernetes/pod-watch");
    assertThat(podWatch.path("enabled").asBoolean(false)).isTrue();
    assertThat(podWatch.path("check-interval").asText()).isEqualTo("10s");

    JsonNode tunedWatch =
        Chart.render("required.yaml", Map.of("kubernetes.podWatch.checkInterval", "3s"))
            .applicationConfig()
            .at("/credbroker/kubernetes/pod-watch");
    assertThat(tunedWatch.path("check-interval").asText()).isEqualTo("3s");
  }

  @Test
  void changingALeaseSettingRollsThePods() {
    String before = checksum(Chart.render("tuning.yaml"));
    String after = checksum(Chart.render("tuning.yaml", Map.of("lease.drainGrace", "60s")));

    assertThat(after).isNotBlank().isNotEqualTo(before);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
      invalid-grpc.yaml    | callThreads
      invalid-lease.yaml   | renewalFraction
      invalid-lease.yaml   | workers
      invalid-lease.yaml   | maxConcurrentReleaseRevocations
      invalid-lease.yaml   | reconnectGrace
      invalid-lease.yaml   | reconnectGraceLimit
      invalid-cluster.yaml | heartbeatInterval
      invalid-admin.yaml   | audiences
      invalid-admin.yaml   | authorizationCacheTtl
      invalid-limits.yaml  | streamsPerPodRole
      invalid-limits.yaml  | minRequestedTtl
      invalid-limits.yaml  | maxPendingCalls
      invalid-retention.yaml | endedCredentials
      invalid-retention.yaml | batchSize
      invalid-retention.yaml | interval
      invalid-retention.yaml | deadReplicas
      invalid-retention.yaml | undroppedCheckInterval
      """)
  void schemaRejectsSettingsTheBrokerCannotUse(String valuesFile, String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template(valuesFile, Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining(expectedInMessage);
  }

  @Test
  void staleAfterUnderTwoHeartbeatsIsRefusedWithBothValues() {
    assertThatThrownBy(() -> Chart.template("stale-under-two-heartbeats.yaml", Map.of()).call())
        .hasMessageContaining(
            "cluster.staleAfter (9s) must be at least twice cluster.heartbeatInterval (5s)");
  }

  @Test
  void staleAfterOfExactlyTwoHeartbeatsInMixedUnitsIsAccepted() {
    JsonNode cluster =
        Chart.render(
                "required.yaml",
                Map.of("cluster.heartbeatInterval", "1500ms", "cluster.staleAfter", "3s"))
            .applicationConfig()
            .at("/credbroker/cluster");

    assertThat(cluster.path("stale-after").asText()).isEqualTo("3s");
  }

  private static String checksum(RenderedChart chart) {
    JsonNode annotations = chart.single("Deployment").at("/spec/template/metadata/annotations");
    List<String> checksums = new ArrayList<>();
    annotations
        .fields()
        .forEachRemaining(
            e -> {
              if (e.getKey().startsWith("checksum/")) {
                checksums.add(e.getKey() + "=" + e.getValue().asText());
              }
            });
    return String.join(",", checksums);
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  /**
   * The record components of broker-service's {@code BrokerProperties}, in kebab case as Spring
   * binds them, with their {@code @DefaultValue} (empty when the annotation carries none, as for a
   * list). Reads the source file, whose path the build passes in {@code
   * credbroker.broker.properties}.
   */
  static final class BrokerPropertiesSource {

    private static final Pattern RECORD =
        Pattern.compile("public record (\\w+)\\((.*?)\\)\\s*\\{", Pattern.DOTALL);
    private static final Pattern DEFAULT = Pattern.compile("@DefaultValue(?:\\(\"([^\"]*)\"\\))?");
    private static final Pattern NAME = Pattern.compile("(\\w+)\\s*$");
    private static final Set<Character> OPENING = Set.of('(', '<', '{');
    private static final Set<Character> CLOSING = Set.of(')', '>', '}');

    private BrokerPropertiesSource() {}

    static Map<String, Map<String, Optional<String>>> read() throws IOException {
      Path file =
          Path.of(
              System.getProperty(
                  "credbroker.broker.properties",
                  "../broker-service/src/main/java/io/credbroker/broker/config/BrokerProperties.java"));
      String source = Files.readString(file).replaceAll("(?m)^\\s*(\\*|/\\*\\*|\\*/).*$", "");
      Map<String, Map<String, Optional<String>>> records = new LinkedHashMap<>();
      Matcher record = RECORD.matcher(source);
      while (record.find()) {
        Map<String, Optional<String>> components = new LinkedHashMap<>();
        for (String component : splitComponents(record.group(2))) {
          Matcher name = NAME.matcher(component);
          if (!name.find()) {
            continue;
          }
          Matcher defaultValue = DEFAULT.matcher(component);
          Optional<String> value =
              defaultValue.find() ? Optional.ofNullable(defaultValue.group(1)) : Optional.empty();
          components.put(kebab(name.group(1)), value);
        }
        records.put(record.group(1), components);
      }
      assertThat(records)
          .as("records in " + file)
          .containsKeys(SECTIONS.values().toArray(String[]::new));
      return records;
    }

    /**
     * Splits on the commas between components, not those inside annotations' arguments or generics.
     */
    private static List<String> splitComponents(String body) {
      List<String> parts = new ArrayList<>();
      StringBuilder part = new StringBuilder();
      int depth = 0;
      boolean quoted = false;
      for (char c : body.toCharArray()) {
        if (c == '"') {
          quoted = !quoted;
        } else if (!quoted && OPENING.contains(c)) {
          depth++;
        } else if (!quoted && CLOSING.contains(c)) {
          depth--;
        } else if (!quoted && depth == 0 && c == ',') {
          parts.add(part.toString().trim());
          part.setLength(0);
          continue;
        }
        part.append(c);
      }
      parts.add(part.toString().trim());
      return parts;
    }

    private static String kebab(String camel) {
      return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
    }
  }
}
