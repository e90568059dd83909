package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The setup Job: the broker's own image running {@code setup} before every install and upgrade, as
 * a Helm hook. Its arguments must be options the setup command has (read from {@code
 * SetupCommand.java}), must describe the broker the chart installs, and must never carry a secret.
 */
class SetupJobTest {

  private static RenderedChart minimal;
  private static RenderedChart options;

  @BeforeAll
  static void render() {
    minimal = Chart.render("setup.yaml");
    options = Chart.render("setup-options.yaml");
  }

  @Test
  void setupIsOffByDefault() {
    RenderedChart chart = Chart.render("required.yaml");

    assertThat(chart.kinds()).doesNotContain("Job");
    assertThat(installHooks(chart)).isEmpty();
  }

  @Test
  void jobAndItsAccountAreHooksBeforeInstallAndUpgradeTheAccountFirst() {
    JsonNode job = minimal.get("Job", Chart.FULLNAME + "-setup");
    JsonNode account = minimal.get("ServiceAccount", Chart.FULLNAME + "-setup");

    assertThat(installHooks(minimal)).containsExactlyInAnyOrder(job, account);
    for (JsonNode hook : List.of(job, account)) {
      JsonNode annotations = hook.at("/metadata/annotations");
      assertThat(annotations.path("helm.sh/hook").asText()).isEqualTo("pre-install,pre-upgrade");
      assertThat(annotations.path("helm.sh/hook-delete-policy").asText())
          .isEqualTo("before-hook-creation,hook-succeeded");
    }
    assertThat(weight(account)).isLessThan(weight(job));
    assertThat(job.at("/spec/template/spec/serviceAccountName").asText())
        .isEqualTo(Chart.FULLNAME + "-setup");
  }

  @Test
  void argumentsDescribeTheBrokerThisChartInstalls() {
    Map<String, String> args = arguments(minimal);
    JsonNode config = minimal.applicationConfig();
    JsonNode deployment = minimal.single("Deployment");

    assertThat(args.get("--vault-address"))
        .isEqualTo(config.at("/spring/cloud/vault/uri").asText());
    assertThat(args.get("--kubernetes-auth-path"))
        .isEqualTo(config.at("/spring/cloud/vault/kubernetes/kubernetes-path").asText());
    assertThat(args.get("--broker-vault-role"))
        .isEqualTo(config.at("/spring/cloud/vault/kubernetes/role").asText());
    assertThat(args.get("--issuing-token-role"))
        .isEqualTo(config.at("/credbroker/vault/issuing-token-role").asText());
    assertThat(args.get("--broker-service-account"))
        .isEqualTo(deployment.at("/spec/template/spec/serviceAccountName").asText());
    assertThat(args.get("--broker-namespace")).isEqualTo(Chart.NAMESPACE);
  }

  @Test
  void minimalValuesGiveTheCommandsDefaultsAndVaultVerifiesPostgresqlsCertificate() {
    Map<String, String> args = arguments(minimal);

    assertThat(args)
        .containsEntry("--postgres-url", "jdbc:postgresql://db1.postgres.svc:5432/postgres")
        .containsEntry("--postgres-user", "postgres")
        .containsEntry("--database", "db1")
        .containsEntry("--mount", "database")
        .containsEntry("--default-ttl", "1h")
        .containsEntry("--max-ttl", "24h")
        .containsEntry("--password-authentication", "scram-sha-256")
        .containsEntry("--broker-policy", "credential-broker")
        .containsEntry("--issuing-token-role", "credential-broker-issuer")
        .containsEntry("--issuing-token-ttl", "48h")
        .containsEntry("--broker-token-ttl", "1h")
        .containsEntry("--broker-token-max-ttl", "24h")
        .containsEntry("--kubernetes-host", "https://kubernetes.default.svc")
        .containsEntry("--vault-postgres-parameters", "sslmode=verify-full");
    assertThat(args)
        .doesNotContainKeys(
            "--group-role",
            "--vault-admin-role",
            "--template-database",
            "--connection",
            "--vault-role",
            "--vault-postgres-host",
            "--vault-postgres-port",
            "--dry-run");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"setup.yaml", "setup-options.yaml"})
  void everyArgumentIsAnOptionOfTheSetupCommand(String valuesFile) throws IOException {
    List<String> args = texts(container(Chart.render(valuesFile)).path("args"));

    assertThat(args.get(0)).isEqualTo("setup");
    Set<String> used = args.stream().filter(a -> a.startsWith("--")).collect(Collectors.toSet());
    assertThat(setupCommandOptions()).containsAll(used);
  }

  @Test
  void noSecretIsInTheArgumentsTheEnvironmentOrAnObjectOfTheChart() {
    JsonNode container = container(minimal);
    List<String> args = texts(container.path("args"));

    assertThat(args)
        .doesNotContain("--postgres-password", "--vault-token", "--postgres-password-file");
    assertThat(args).noneMatch(a -> a.toLowerCase(Locale.ROOT).contains("password="));
    for (JsonNode env : container.path("env")) {
      if (env.path("name").asText().matches("(?i).*(PASSWORD|TOKEN|SECRET).*")) {
        assertThat(env.has("value"))
            .as("env %s has a literal value", env.path("name").asText())
            .isFalse();
      }
    }
    JsonNode password = env(container, "PGPASSWORD");
    assertThat(password.has("value")).isFalse();
    assertThat(password.at("/valueFrom/secretKeyRef/name").asText()).isEqualTo("db1-superuser");
    assertThat(password.at("/valueFrom/secretKeyRef/key").asText()).isEqualTo("password");
    assertThat(minimal.ofKind("Secret")).as("setup reads existing Secrets only").isEmpty();
    assertThat(minimal.single("ConfigMap").at("/data/application.yaml").asText())
        .doesNotContain("setup", "db1-superuser");
  }

  @Test
  void vaultTokenIsAFileFromTheNamedSecretReadableByThePodOnly() {
    JsonNode container = container(minimal);
    JsonNode volume = volume(minimal, "vault-token");

    assertThat(volume.at("/secret/secretName").asText()).isEqualTo("vault-setup-token");
    assertThat(volume.at("/secret/items/0/key").asText()).isEqualTo("token");
    assertThat(volume.at("/secret/defaultMode").asInt()).as("0440").isEqualTo(0440);
    JsonNode mount = mount(container, "vault-token");
    assertThat(mount.path("readOnly").asBoolean()).isTrue();
    assertThat(arguments(minimal).get("--vault-token-file"))
        .isEqualTo(
            mount.path("mountPath").asText() + "/" + volume.at("/secret/items/0/path").asText());
    assertThat(names(container.path("env"))).doesNotContain("VAULT_TOKEN");
  }

  @Test
  void setupTrustsVaultWithTheBrokersCaBundleMountedFromTheSameSecret() {
    RenderedChart chart =
        Chart.render(
            "setup.yaml",
            Map.of("vault.tls.caSecretName", "vault-ca", "vault.tls.caSecretKey", "bundle.pem"));
    JsonNode volume = volume(chart, "vault-ca");
    JsonNode mount = mount(container(chart), "vault-ca");

    assertThat(volume.at("/secret/secretName").asText()).isEqualTo("vault-ca");
    assertThat(volume.at("/secret/items/0/key").asText()).isEqualTo("bundle.pem");
    assertThat(mount.path("readOnly").asBoolean()).isTrue();
    String caFile =
        mount.path("mountPath").asText() + "/" + volume.at("/secret/items/0/path").asText();
    assertThat(arguments(chart).get("--vault-ca-cert")).isEqualTo(caFile);
    // The very file the broker trusts Vault with: setup and broker cannot trust different CAs.
    assertThat(chart.applicationConfig().at("/spring/cloud/vault/ssl/trust-store").asText())
        .isEqualTo("file:" + caFile);
  }

  @Test
  void withoutAVaultCaSecretSetupGetsNoCaFileAndTrustsTheJvmsCas() {
    assertThat(arguments(minimal)).doesNotContainKey("--vault-ca-cert");
    assertThat(names(job(minimal).at("/spec/template/spec/volumes"))).doesNotContain("vault-ca");
    assertThat(names(container(minimal).path("volumeMounts"))).doesNotContain("vault-ca");
  }

  @Test
  void kubernetesCaComesFromTheNamespacesKubeRootCaWithoutAServiceAccountToken() {
    JsonNode podSpec = job(minimal).at("/spec/template/spec");
    JsonNode volume = volume(minimal, "kubernetes-ca");

    assertThat(volume.at("/configMap/name").asText()).isEqualTo("kube-root-ca.crt");
    assertThat(arguments(minimal).get("--kubernetes-ca-file"))
        .isEqualTo(
            mount(container(minimal), "kubernetes-ca").path("mountPath").asText() + "/ca.crt");
    assertThat(podSpec.path("automountServiceAccountToken").asBoolean(true)).isFalse();
    JsonNode account = minimal.get("ServiceAccount", Chart.FULLNAME + "-setup");
    assertThat(account.path("automountServiceAccountToken").asBoolean(true)).isFalse();
    assertThat(minimal.ofKind("RoleBinding")).isEmpty();
    assertThat(minimal.ofKind("ClusterRoleBinding"))
        .allSatisfy(
            binding ->
                assertThat(binding.path("subjects").findValuesAsText("name"))
                    .doesNotContain(Chart.FULLNAME + "-setup"));
  }

  @Test
  void jobRunsNonRootWithTheBrokersSecurityContexts() {
    JsonNode podSpec = job(minimal).at("/spec/template/spec");
    JsonNode brokerPod = minimal.single("Deployment").at("/spec/template/spec");

    assertThat(podSpec.path("securityContext")).isEqualTo(brokerPod.path("securityContext"));
    assertThat(podSpec.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(podSpec.at("/securityContext/runAsUser").asInt()).isPositive();
    JsonNode securityContext = container(minimal).path("securityContext");
    assertThat(securityContext).isEqualTo(brokerPod.at("/containers/0/securityContext"));
    assertThat(securityContext.path("readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(securityContext.path("allowPrivilegeEscalation").asBoolean(true)).isFalse();
    assertThat(texts(securityContext.at("/capabilities/drop"))).containsExactly("ALL");
    assertThat(mount(container(minimal), "tmp").path("mountPath").asText()).isEqualTo("/tmp");
    assertThat(container(minimal).path("image").asText())
        .isEqualTo(brokerPod.at("/containers/0/image").asText());
  }

  @Test
  void jobIsBoundedInTimeAndDoesNotRetryBadOptions() {
    JsonNode spec = job(minimal).path("spec");

    assertThat(spec.path("backoffLimit").asInt()).isEqualTo(2);
    assertThat(spec.path("activeDeadlineSeconds").asInt()).isEqualTo(240).isLessThan(300);
    assertThat(spec.at("/template/spec/restartPolicy").asText()).isEqualTo("Never");
    JsonNode failJob = spec.at("/podFailurePolicy/rules/0");
    assertThat(failJob.path("action").asText()).isEqualTo("FailJob");
    assertThat(failJob.at("/onExitCodes/containerName").asText()).isEqualTo("setup");
    assertThat(failJob.at("/onExitCodes/values/0").asInt()).isEqualTo(2);
    assertThat(spec.at("/podFailurePolicy/rules/1/action").asText()).isEqualTo("Ignore");
  }

  @Test
  void setupPodIsNeverPickedUpByTheBrokersSelectors() {
    JsonNode labels = job(minimal).at("/spec/template/metadata/labels");
    RenderedChart chart = Chart.render("setup.yaml", Map.of("networkPolicy.enabled", true));

    for (JsonNode selector :
        List.of(
            chart.get("Service", Chart.FULLNAME).at("/spec/selector"),
            chart.single("PodDisruptionBudget").at("/spec/selector/matchLabels"),
            chart.single("NetworkPolicy").at("/spec/podSelector/matchLabels"))) {
      assertThat(matches(selector, labels)).as("%s selects %s", selector, labels).isFalse();
    }
    assertThat(labels.path("app.kubernetes.io/instance").asText()).isEqualTo(Chart.RELEASE);
    assertThat(labels.path("app.kubernetes.io/component").asText()).isEqualTo("setup");
  }

  @Test
  void everyOptionReachesTheCommandWhenSet() {
    Map<String, String> args = arguments(options);

    assertThat(args)
        .containsEntry(
            "--postgres-url", "jdbc:postgresql://pg.example:5433/postgres?sslmode=verify-full")
        .containsEntry("--postgres-user", "admin")
        .containsEntry("--database", "orders")
        .containsEntry("--group-role", "orders_owner")
        .containsEntry("--vault-admin-role", "vault_orders")
        .containsEntry("--template-database", "orders_template")
        .containsEntry("--vault-address", "https://vault.internal:8200")
        .containsEntry("--mount", "pg")
        .containsEntry("--connection", "orders-conn")
        .containsEntry("--vault-role", "orders-app")
        .containsEntry("--default-ttl", "30m")
        .containsEntry("--max-ttl", "12h")
        .containsEntry("--vault-postgres-host", "pg.internal")
        .containsEntry("--vault-postgres-port", "6432")
        .containsEntry(
            "--vault-postgres-parameters", "sslmode=verify-full&sslrootcert=/vault/ca/pg.crt")
        .containsEntry("--password-authentication", "password")
        .containsEntry("--broker-policy", "broker")
        .containsEntry("--broker-token-ttl", "30m")
        .containsEntry("--broker-token-max-ttl", "12h")
        .containsEntry("--issuing-token-role", "broker-issuer")
        .containsEntry("--issuing-token-ttl", "72h")
        .containsEntry("--kubernetes-host", "https://api.cluster.example:6443")
        .containsEntry("--kubernetes-auth-path", "k8s-prod")
        .containsEntry("--broker-vault-role", "broker")
        .containsEntry("--broker-service-account", "broker")
        .containsEntry("--kubernetes-ca-file", "/etc/credential-broker-setup/kubernetes/ca.pem")
        .containsEntry("--vault-ca-cert", "/etc/credential-broker-vault-ca/vault-ca.pem")
        .containsKey("--dry-run");
    assertThat(volume(options, "kubernetes-ca").at("/configMap/name").asText()).isEqualTo("api-ca");
    assertThat(volume(options, "vault-ca").at("/secret/secretName").asText())
        .isEqualTo("internal-ca");
    JsonNode password = env(container(options), "PGPASSWORD");
    assertThat(password.at("/valueFrom/secretKeyRef/name").asText()).isEqualTo("pg-admin");
    assertThat(password.at("/valueFrom/secretKeyRef/key").asText()).isEqualTo("pgpass");
    assertThat(volume(options, "vault-token").at("/secret/secretName").asText())
        .isEqualTo("vault-admin");
    assertThat(volume(options, "vault-token").at("/secret/items/0/key").asText())
        .isEqualTo("vault-token");
  }

  @Test
  void jobFollowsTheBrokersPodOptionsAndHasItsOwn() {
    JsonNode job = job(options);
    JsonNode podSpec = job.at("/spec/template/spec");
    JsonNode container = container(options);

    assertThat(options.ofKind("ServiceAccount")).as("both accounts exist already").isEmpty();
    assertThat(podSpec.path("serviceAccountName").asText()).isEqualTo("broker-setup");
    assertThat(container.path("image").asText())
        .isEqualTo("mirror.example:5000/credential-broker:0.1.0");
    assertThat(podSpec.path("imagePullSecrets").findValuesAsText("name"))
        .containsExactly("registry-pull");
    assertThat(podSpec.at("/nodeSelector/kubernetes.io~1os").asText()).isEqualTo("linux");
    assertThat(podSpec.at("/tolerations/0/key").asText()).isEqualTo("dedicated");
    assertThat(job.at("/spec/backoffLimit").asInt()).isZero();
    assertThat(job.at("/spec/activeDeadlineSeconds").asInt()).isEqualTo(120);
    assertThat(container.at("/resources/limits/memory").asText()).isEqualTo("256Mi");
    assertThat(job.at("/spec/template/metadata/annotations/sidecar.istio.io~1inject").asText())
        .isEqualTo("false");
    assertThat(job.at("/spec/template/metadata/labels/team").asText()).isEqualTo("platform");
    assertThat(env(container, "JAVA_TOOL_OPTIONS").path("value").asText())
        .contains("truststore.p12");
    assertThat(volume(options, "truststore").at("/secret/secretName").asText())
        .isEqualTo("vault-truststore");
    assertThat(mount(container, "truststore").path("mountPath").asText())
        .isEqualTo("/etc/setup-truststore");
  }

  @Test
  void withoutAKubernetesHostVaultsKubernetesAuthIsLeftAlone() {
    RenderedChart chart = Chart.render("setup.yaml", Map.of("setup.kubernetes.host", ""));

    assertThat(arguments(chart))
        .doesNotContainKeys(
            "--kubernetes-host",
            "--kubernetes-ca-file",
            "--kubernetes-auth-path",
            "--broker-vault-role",
            "--broker-service-account",
            "--broker-namespace");
    assertThat(names(job(chart).at("/spec/template/spec/volumes"))).doesNotContain("kubernetes-ca");
  }

  @ParameterizedTest(name = "{0}={1}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
      setup.database                  | ''                                               | setup.database is required
      setup.postgres.url              | ''                                               | setup.postgres.url is required
      setup.postgres.passwordSecret.name | ''                                            | setup.postgres.passwordSecret.name is required
      setup.vault.tokenSecret.name    | ''                                               | setup.vault.tokenSecret.name is required
      setup.postgres.url              | jdbc:postgresql://db1/postgres?password=secret   | setup.postgres.url must not hold a password
      vault.namespace                 | platform                                         | setup cannot work in a Vault namespace
      """)
  void missingOrUnsafeValuesAreRefusedByName(String key, String value, String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template("setup.yaml", Map.of(key, value)).call())
        .hasMessageContaining(expectedInMessage);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "enabled",
        "backoffLimit",
        "url",
        "issuingTokenTtl",
        "passwordAuthentication",
        "host",
        "unknownOption"
      })
  void schemaRejectsMalformedSetupValues(String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template("invalid-setup.yaml", Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining(expectedInMessage);
  }

  /** The long options of {@code SetupCommand}, from its source (as the build passes its path). */
  private static Set<String> setupCommandOptions() throws IOException {
    Path file =
        Path.of(
            System.getProperty(
                "credbroker.broker.setup",
                "../broker-service/src/main/java/io/credbroker/broker/setup/SetupCommand.java"));
    Matcher names =
        Pattern.compile("@Option\\(\\s*names\\s*=\\s*\"(--[a-z-]+)\"")
            .matcher(Files.readString(file));
    Set<String> options = new TreeSet<>();
    while (names.find()) {
      options.add(names.group(1));
    }
    assertThat(options).as("options in " + file).contains("--postgres-url", "--issuing-token-ttl");
    return options;
  }

  /**
   * The arguments after {@code setup}: each option with the value that follows it, or "" for a
   * flag.
   */
  private static Map<String, String> arguments(RenderedChart chart) {
    List<String> args = texts(container(chart).path("args"));
    Map<String, String> options = new LinkedHashMap<>();
    for (int i = 1; i < args.size(); i++) {
      String option = args.get(i);
      assertThat(option).as("argument %d", i).startsWith("--");
      boolean hasValue = i + 1 < args.size() && !args.get(i + 1).startsWith("--");
      assertThat(options.put(option, hasValue ? args.get(++i) : ""))
          .as("%s given twice", option)
          .isNull();
    }
    return options;
  }

  /** The hooks that run around an install or upgrade (not `helm test`'s). */
  private static List<JsonNode> installHooks(RenderedChart chart) {
    return chart.hooks().stream()
        .filter(
            hook -> !hook.at("/metadata/annotations").path(Chart.HOOK_KEY).asText().equals("test"))
        .toList();
  }

  private static JsonNode job(RenderedChart chart) {
    return chart.get("Job", Chart.FULLNAME + "-setup");
  }

  private static JsonNode container(RenderedChart chart) {
    JsonNode containers = job(chart).at("/spec/template/spec/containers");
    assertThat(containers).hasSize(1);
    assertThat(containers.get(0).path("name").asText()).isEqualTo("setup");
    return containers.get(0);
  }

  private static JsonNode volume(RenderedChart chart, String name) {
    return named(job(chart).at("/spec/template/spec/volumes"), name);
  }

  private static JsonNode mount(JsonNode container, String name) {
    return named(container.path("volumeMounts"), name);
  }

  private static JsonNode env(JsonNode container, String name) {
    return named(container.path("env"), name);
  }

  private static JsonNode named(JsonNode list, String name) {
    return StreamSupport.stream(list.spliterator(), false)
        .filter(item -> item.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + name + " in " + list));
  }

  private static List<String> names(JsonNode list) {
    return StreamSupport.stream(list.spliterator(), false)
        .map(item -> item.path("name").asText())
        .toList();
  }

  private static int weight(JsonNode hook) {
    return Integer.parseInt(hook.at("/metadata/annotations/helm.sh~1hook-weight").asText());
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
