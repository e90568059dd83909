package io.credbroker.broker.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.broker.CredentialBrokerApplication;
import io.credbroker.broker.image.OciImage.Layer;
import io.credbroker.broker.image.OciImage.LayerFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image that Jib builds in {@code package}: the production definition on {@code
 * scratch} instead of the JRE base, written as an OCI tar to {@code target/jib-image.tar} without
 * any registry. Everything the build adds on top of the base is checked here: config, layers,
 * files, and that the entrypoint really starts the broker's main class and runs {@code setup}. The
 * base image itself (the JRE, {@code /etc/passwd}, {@code sleep}) is not in the tar and not
 * checked.
 */
@DisabledIfSystemProperty(
    named = "credbroker.image.tar.skip",
    matches = "true",
    disabledReason = "built with -Dimage.tar.skip=true or -Djib.skip=true: no image tar to check")
class ContainerImageIT {

  private static final String MAIN_CLASS = CredentialBrokerApplication.class.getName();

  /** The image's layers, unpacked. */
  @TempDir static Path rootfs;

  @TempDir static Path work;
  private static OciImage image;

  @BeforeAll
  static void readImage() throws IOException {
    String tar = System.getProperty("credbroker.image.tar");
    assertThat(tar)
        .as("system property credbroker.image.tar (set by failsafe in broker-service/pom.xml)")
        .isNotNull();
    assertThat(Path.of(tar)).as("written by the jib:buildTar execution of package").isRegularFile();
    image = OciImage.read(Path.of(tar), rootfs);
  }

  @Test
  void everyBlobMatchesItsDigestAndEveryLayerItsDiffId() {
    // OciImage.read checks each digest while it reads; here only what it found.
    assertThat(image.manifest().path("mediaType").asText())
        .isEqualTo("application/vnd.oci.image.manifest.v1+json");
    assertThat(image.layers())
        .hasSize(image.config().path("rootfs").path("diff_ids").size())
        .isNotEmpty();
    assertThat(image.config().path("os").asText()).isEqualTo("linux");
  }

  @Test
  void runsAsANumericUserAndGroupThatAreNotRoot() {
    String user = image.containerConfig().path("User").asText();
    assertThat(user).matches("[0-9]+:[0-9]+");
    String[] ids = user.split(":");
    assertThat(Long.parseLong(ids[0])).as("uid").isNotZero();
    assertThat(Long.parseLong(ids[1])).as("gid").isNotZero();
  }

  @Test
  void entrypointRunsTheBrokerMainClassWithContainerAwareJvmFlags() {
    List<String> entrypoint = strings(image.containerConfig().path("Entrypoint"));
    assertThat(entrypoint.get(0)).isEqualTo("java");
    assertThat(entrypoint)
        .contains(
            "-XX:MaxRAMPercentage=75", "-XX:+ExitOnOutOfMemoryError", "-Djava.io.tmpdir=/tmp");
    assertThat(entrypoint).endsWith("-cp", "@/app/jib-classpath-file", MAIN_CLASS);
    // No default arguments: Kubernetes `args: [setup, ...]` land straight after the main class.
    assertThat(strings(image.containerConfig().path("Cmd"))).isEmpty();
    assertThat(image.file("/app/jib-main-class-file").text().strip()).isEqualTo(MAIN_CLASS);
  }

  @Test
  void exposesTheGrpcAndHttpPorts() {
    List<String> ports = new ArrayList<>();
    image.containerConfig().path("ExposedPorts").fieldNames().forEachRemaining(ports::add);
    assertThat(ports).containsExactlyInAnyOrder("9090/tcp", "8443/tcp", "8080/tcp");
  }

  @Test
  void carriesOpenContainersLabels() {
    JsonNode labels = image.containerConfig().path("Labels");
    assertThat(labels.path("org.opencontainers.image.title").asText())
        .isEqualTo("credential-broker");
    assertThat(labels.path("org.opencontainers.image.version").asText()).isNotBlank();
  }

  @Test
  void holdsTheApplicationClassesResourcesAndDependencies() {
    assertThat(image.file("/app/classes/io/credbroker/broker/CredentialBrokerApplication.class"))
        .isNotNull();
    assertThat(image.file("/app/classes/io/credbroker/broker/setup/SetupCommand.class"))
        .isNotNull();
    assertThat(image.file("/app/resources/application.yaml")).isNotNull();
    assertThat(image.file("/app/resources/db/migration/V1__credentials.sql")).isNotNull();
    assertThat(image.file("/app/resources/setup/broker-policy.hcl")).isNotNull();
    assertThat(image.paths()).anyMatch(path -> path.matches("/app/libs/api-proto-[^/]+\\.jar"));
    for (String dependency :
        List.of(
            "spring-boot",
            "spring-boot-autoconfigure",
            "grpc-netty",
            "grpc-services",
            "postgresql",
            "flyway-core",
            "spring-vault-core",
            "kubernetes-client",
            "picocli")) {
      assertThat(image.paths())
          .as(dependency)
          .anyMatch(path -> path.matches("/app/libs/" + dependency + "-[0-9][^/]*\\.jar"));
    }
  }

  @Test
  void leavesOutTheDevProfile() {
    assertThat(image.paths()).noneMatch(path -> path.contains("application-dev"));
  }

  @Test
  void dependenciesAndClassesAreInSeparateLayersSoACodeChangePushesOnlySmallLayers() {
    Layer classes =
        image.layerOf("/app/classes/io/credbroker/broker/CredentialBrokerApplication.class");
    Layer libraries =
        image.layerOf(
            image.paths().stream()
                .filter(path -> path.startsWith("/app/libs/spring-boot-"))
                .findFirst()
                .orElseThrow());
    assertThat(classes).isNotSameAs(libraries);
    assertThat(classes.files().keySet()).noneMatch(path -> path.endsWith(".jar"));
    assertThat(libraries.files().keySet()).noneMatch(path -> path.startsWith("/app/classes/"));
  }

  @Test
  void classpathNamesOnlyWhatTheImageHolds() {
    List<String> classpath =
        Arrays.asList(image.file("/app/jib-classpath-file").text().strip().split(":"));
    assertThat(classpath).startsWith("/app/resources", "/app/classes");
    assertThat(classpath).allSatisfy(entry -> assertThat(image.paths()).contains(entry));
    List<String> jars =
        image.paths().stream().filter(path -> path.startsWith("/app/libs/")).toList();
    assertThat(classpath).containsAll(jars);
  }

  @Test
  void everyFileBelongsToRootAndIsReadOnlyForTheRuntimeUser() {
    // The broker writes only to /tmp (an emptyDir): with a read-only root file system nothing under
    // /app changes.
    for (Layer layer : image.layers()) {
      for (LayerFile file : layer.files().values()) {
        assertThat(file.uid()).as(file.path()).isZero();
        assertThat(file.gid()).as(file.path()).isZero();
        assertThat(file.mode() & 0022).as("group/other write bits of " + file.path()).isZero();
        assertThat(file.mode() & 0004).as("world-readable " + file.path()).isNotZero();
      }
    }
    assertThat(image.paths()).allMatch(path -> path.equals("/app") || path.startsWith("/app/"));
  }

  @Test
  void isReproducible() {
    // Fixed times instead of the build's clock: the same sources give the same layers and image
    // digest.
    assertThat(Instant.parse(image.config().path("created").asText())).isEqualTo(Instant.EPOCH);
    for (Layer layer : image.layers()) {
      assertThat(layer.files().values())
          .allSatisfy(file -> assertThat(file.modified()).isBefore(Instant.EPOCH.plusSeconds(2)));
    }
  }

  @Test
  void sameImageRunsSetupWhenSetupIsTheFirstArgument() throws Exception {
    // The image's own entrypoint, run from its extracted layers with this JDK in place of the base
    // image's JRE:
    // paths under /app point into the extracted root instead.
    List<String> command = new ArrayList<>();
    for (String argument : strings(image.containerConfig().path("Entrypoint"))) {
      command.add(reroot(argument));
    }
    command.set(0, Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of("setup", "--help"));

    Path output = work.resolve("setup-help.log");
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(rootfs.toFile())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile());
    builder.environment().remove("CLASSPATH");
    builder.environment().remove("JAVA_TOOL_OPTIONS");
    Process process = builder.start();
    boolean exited = process.waitFor(60, TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly();
    }
    String printed = Files.readString(output);
    assertThat(exited).as("setup --help ends within 60 s; printed:%n%s", printed).isTrue();
    assertThat(process.exitValue()).as(printed).isZero();
    assertThat(printed).contains("Usage: setup", "--postgres-url", "--vault-address", "--dry-run");
    // picocli answered, not Spring Boot: no application context was started.
    assertThat(printed).doesNotContain(":: Spring Boot ::", "Starting CredentialBrokerApplication");
  }

  /**
   * An argument of the entrypoint with the image's paths under /app moved into the extracted root;
   * an argument file ({@code @/app/jib-classpath-file}) is replaced by a copy whose paths are moved
   * the same way.
   */
  private static String reroot(String argument) throws IOException {
    String root = Matcher.quoteReplacement(rootfs.toString());
    if (argument.startsWith("@/")) {
      String rerooted =
          image
              .file(argument.substring(1))
              .text()
              .replaceAll("(^|:)/app(?=/|:|$)", "$1" + root + "/app");
      Path copy =
          Files.writeString(
              work.resolve("argfile-" + Path.of(argument).getFileName()),
              rerooted,
              StandardCharsets.UTF_8);
      return "@" + copy;
    }
    return argument.replaceAll("^/app(?=/|$)", root + "/app");
  }

  private static List<String> strings(JsonNode array) {
    List<String> strings = new ArrayList<>();
    array.forEach(element -> strings.add(element.asText()));
    return strings;
  }
}
