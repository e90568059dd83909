package io.credbroker.helm;

import static io.credbroker.helm.DefaultRenderTest.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TLS of the gRPC API and the REST admin API: always on (the broker has no plaintext mode, so
 * neither has the chart), from a Secret mounted as a whole directory (so that a renewed certificate
 * reaches the broker, which reloads it), optionally written by a cert-manager Certificate that
 * names every Service name clients use.
 */
class TlsTest {

  private static final String TLS_DIR = "/etc/credbroker/tls";

  private static RenderedChart defaults;
  private static RenderedChart certManager;

  @BeforeAll
  static void render() {
    defaults = Chart.render("required.yaml");
    certManager = Chart.render("cert-manager.yaml");
  }

  @Test
  void brokerIsPointedAtTheMountedSecretsCertificateAndKeyWithoutASwitch() {
    JsonNode tls = defaults.applicationConfig().at("/credbroker/tls");

    assertThat(fieldNames(tls)).containsExactly("certificate-file", "private-key-file");
    assertThat(tls.path("certificate-file").asText()).isEqualTo(TLS_DIR + "/tls.crt");
    assertThat(tls.path("private-key-file").asText()).isEqualTo(TLS_DIR + "/tls.key");
  }

  @Test
  void secretIsMountedReadOnlyAsAWholeDirectorySoThatRenewalsReachTheBroker() {
    JsonNode podSpec = podSpec(defaults);
    JsonNode volume = named(podSpec.path("volumes"), "tls");
    JsonNode mount = named(podSpec.at("/containers/0/volumeMounts"), "tls");

    assertThat(volume.at("/secret/secretName").asText()).isEqualTo(Chart.FULLNAME + "-tls");
    assertThat(volume.path("secret").has("items")).as("every key of the Secret").isFalse();
    assertThat(volume.at("/secret/defaultMode").asInt()).as("0440").isEqualTo(0440);
    assertThat(mount.path("mountPath").asText()).isEqualTo(TLS_DIR);
    assertThat(mount.path("readOnly").asBoolean()).isTrue();
    assertThat(podSpec.at("/containers/0/volumeMounts").findValues("subPath"))
        .as("a subPath mount never sees an updated Secret")
        .isEmpty();
  }

  @Test
  void servicePortsAnnounceTlsSoThatAMeshPassesItThroughAsOpaqueTls() {
    RenderedChart chart = Chart.render("required.yaml", Map.of("headlessService.enabled", true));
    JsonNode ports = chart.get("Service", Chart.FULLNAME).at("/spec/ports");

    assertThat(named(ports, "grpc").path("appProtocol").asText()).isEqualTo("https");
    assertThat(named(ports, "admin").path("appProtocol").asText()).isEqualTo("https");
    assertThat(
            named(chart.get("Service", Chart.FULLNAME + "-headless").at("/spec/ports"), "grpc")
                .path("appProtocol")
                .asText())
        .isEqualTo("https");
  }

  @Test
  void withoutCertManagerTheChartMakesNoCertificateAndNoSecret() {
    assertThat(defaults.kinds()).doesNotContain("Certificate");
    assertThat(defaults.find("Secret", Chart.FULLNAME + "-tls")).isEmpty();
  }

  @Test
  void anExistingSecretIsMountedByName() {
    JsonNode podSpec =
        podSpec(Chart.render("required.yaml", Map.of("tls.secretName", "broker-tls")));

    assertThat(named(podSpec.path("volumes"), "tls").at("/secret/secretName").asText())
        .isEqualTo("broker-tls");
  }

  @Test
  void certificateWritesTheMountedSecretAndNamesEveryServiceName() {
    JsonNode certificate = certManager.get("Certificate", Chart.FULLNAME);
    String svc = Chart.FULLNAME;
    String headless = Chart.FULLNAME + "-headless";
    String ns = Chart.NAMESPACE;

    assertThat(certificate.path("apiVersion").asText()).isEqualTo("cert-manager.io/v1");
    assertThat(certificate.at("/spec/secretName").asText())
        .isEqualTo("broker-tls")
        .isEqualTo(
            named(podSpec(certManager).path("volumes"), "tls").at("/secret/secretName").asText());
    assertThat(texts(certificate.at("/spec/dnsNames")))
        .containsExactly(
            svc,
            svc + "." + ns,
            svc + "." + ns + ".svc",
            svc + "." + ns + ".svc.cluster.local",
            headless,
            headless + "." + ns,
            headless + "." + ns + ".svc",
            headless + "." + ns + ".svc.cluster.local",
            "credbroker.example.com");
    assertThat(certificate.at("/spec/commonName").asText()).isEqualTo(svc + "." + ns + ".svc");
  }

  @Test
  void certificateIsSignedByTheConfiguredIssuerWithAFreshKeyForServerAuthentication() {
    JsonNode spec = certManager.get("Certificate", Chart.FULLNAME).path("spec");

    assertThat(spec.at("/issuerRef/name").asText()).isEqualTo("internal-ca");
    assertThat(spec.at("/issuerRef/kind").asText()).isEqualTo("ClusterIssuer");
    assertThat(spec.at("/issuerRef/group").asText()).isEqualTo("cert-manager.io");
    assertThat(spec.path("duration").asText()).isEqualTo("720h");
    assertThat(spec.path("renewBefore").asText()).isEqualTo("240h");
    assertThat(spec.at("/privateKey/rotationPolicy").asText()).isEqualTo("Always");
    assertThat(spec.at("/privateKey/encoding").asText()).isEqualTo("PKCS8");
    assertThat(texts(spec.path("usages"))).contains("server auth").doesNotContain("client auth");
  }

  @Test
  void certificateNamesOnlyTheServiceWithoutTheHeadlessOneAndKeepsTheDefaultSecretName() {
    JsonNode spec =
        Chart.render(
                "required.yaml",
                Map.of("tls.certManager.enabled", true, "tls.certManager.issuerRef.name", "ca"))
            .get("Certificate", Chart.FULLNAME)
            .path("spec");

    assertThat(spec.path("secretName").asText()).isEqualTo(Chart.FULLNAME + "-tls");
    assertThat(texts(spec.path("dnsNames")))
        .hasSize(4)
        .noneMatch(name -> name.contains("headless"));
    assertThat(spec.at("/issuerRef/kind").asText()).isEqualTo("Issuer");
  }

  @Test
  void aCommonNameLongerThanX509AllowsIsLeftOut() {
    JsonNode spec =
        Chart.render("cert-manager.yaml", Map.of("fullnameOverride", "b".repeat(60)))
            .single("Certificate")
            .path("spec");

    assertThat(spec.has("commonName")).isFalse();
    assertThat(texts(spec.path("dnsNames")))
        .contains("b".repeat(60) + "." + Chart.NAMESPACE + ".svc");
  }

  @Test
  void certManagerWithoutAnIssuerIsRefusedByName() {
    assertThatThrownBy(
            () -> Chart.template("required.yaml", Map.of("tls.certManager.enabled", true)).call())
        .hasMessageContaining(
            "tls.certManager.issuerRef.name is required when tls.certManager.enabled is true");
  }

  @Test
  void notesNameTheSecretAndWhoMakesIt() {
    assertThat(Chart.installOutput("required.yaml"))
        .contains("Secret " + Chart.FULLNAME + "-tls")
        .contains("The Secret is not made by this chart")
        .contains(Chart.FULLNAME + "." + Chart.NAMESPACE + ".svc:9090 (TLS)")
        .contains("https://" + Chart.FULLNAME + "." + Chart.NAMESPACE + ".svc:8443/admin/v1")
        .contains("gRPC health over TLS")
        .doesNotContainIgnoringCase("plaintext")
        .doesNotContainIgnoringCase("plain text")
        .doesNotContain("tls.enabled");
    assertThat(Chart.installOutput("cert-manager.yaml"))
        .contains("Secret broker-tls")
        .contains("cert-manager writes and renews it")
        .contains("ClusterIssuer internal-ca");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "Additional property certificate is not allowed",
        "tls.certManager.duration",
        "tls.certManager.dnsNames"
      })
  void schemaRejectsMalformedTlsValues(String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template("invalid-tls.yaml", Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining(expectedInMessage);
  }

  /**
   * A former {@code tls.enabled} is refused rather than ignored, whatever its value: {@code false}
   * would otherwise look as if it worked while the broker kept serving TLS, and {@code true} would
   * hide that the key is gone.
   */
  @ParameterizedTest(name = "tls.enabled={0}")
  @ValueSource(booleans = {false, true})
  void tlsCannotBeTurnedOffSoTheSchemaRefusesTlsEnabled(boolean enabled) {
    assertThatThrownBy(() -> Chart.template("required.yaml", Map.of("tls.enabled", enabled)).call())
        .as("the schema names the key that is gone")
        .hasMessageContaining("schema")
        .hasMessageContaining("tls: Additional property enabled is not allowed");
  }

  /**
   * The chart's {@code credbroker.tls} keys and values are exactly broker-service's {@code Tls} and
   * its defaults.
   */
  @Test
  void tlsSettingsAreTheBrokersPropertiesWithItsDefaults() throws IOException {
    Map<String, Map<String, Optional<String>>> broker =
        BrokerSettingsTest.BrokerPropertiesSource.read();
    Map<String, Optional<String>> tls = broker.get("Tls");
    JsonNode rendered = defaults.applicationConfig().at("/credbroker/tls");

    assertThat(broker.get("BrokerProperties"))
        .as("BrokerProperties has a tls section")
        .containsKey("tls");
    assertThat(tls).as("record BrokerProperties.Tls").isNotNull();
    assertThat(fieldNames(rendered))
        .as("credbroker.tls keys the chart renders")
        .isEqualTo(new TreeSet<>(tls.keySet()));
    rendered
        .fieldNames()
        .forEachRemaining(
            key ->
                assertThat(rendered.path(key).asText())
                    .as(key)
                    .isEqualTo(tls.get(key).orElseThrow()));
  }

  private static Set<String> fieldNames(JsonNode node) {
    Set<String> names = new TreeSet<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static JsonNode podSpec(RenderedChart chart) {
    return chart.get("Deployment", Chart.FULLNAME).at("/spec/template/spec");
  }

  private static JsonNode named(JsonNode list, String name) {
    return StreamSupport.stream(list.spliterator(), false)
        .filter(item -> item.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + name + " in " + list));
  }
}
