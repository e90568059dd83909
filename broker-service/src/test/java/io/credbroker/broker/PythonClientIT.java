package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python walkthrough client ({@code docs/clients/watch_credential.py}) against the real broker,
 * with stubs generated from the proto by grpcio-tools as the walkthrough says: it obtains a
 * credential over TLS with the pod's token, and releases it on SIGTERM. Needs {@code
 * /usr/bin/python3} with grpcio and grpcio-tools (Debian's python3-grpcio and python3-grpc-tools,
 * which .ci/run installs); without them the test is skipped and says so.
 */
class PythonClientIT {

  private static final String PYTHON = "/usr/bin/python3";
  private static final Path WALKTHROUGH = Path.of("../docs/clients/watch_credential.py");
  private static final Path PROTO_ROOT = Path.of("../api-proto/src/main/proto");
  private static final Pattern ISSUED =
      Pattern.compile(
          "\\{\"event\": \"issued\", \"credential_id\": \"([^\"]+)\", \"username\": \"([^\"]+)\"}");

  @TempDir static Path workDir;
  @TempDir Path dir;
  private static BrokerFixture fixture;

  @BeforeAll
  static void startBroker() throws Exception {
    assumeThat(run(List.of(PYTHON, "-c", "import grpc, grpc_tools.protoc"), Path.of(".")))
        .as("%s with grpcio and grpcio-tools (Debian: python3-grpcio python3-grpc-tools)", PYTHON)
        .isZero();
    fixture = BrokerFixture.start(workDir);
  }

  @AfterAll
  static void stopBroker() {
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void pythonClientObtainsACredentialAndReleasesItOnSigterm() throws Exception {
    Path generated = Files.createDirectories(dir.resolve("gen"));
    // The include path of the well-known types differs between pip's and Debian's grpcio-tools.
    String include =
        "import grpc_tools, os, sys; from grpc_tools import protoc;"
            + " sys.exit(protoc.main(['protoc', '-I"
            + PROTO_ROOT.toAbsolutePath()
            + "',"
            + " '-I' + os.path.join(os.path.dirname(grpc_tools.__file__), '_proto'),"
            + " '--python_out="
            + generated
            + "', '--grpc_python_out="
            + generated
            + "',"
            + " 'credbroker/v1/credential_broker.proto']))";
    assertThat(run(List.of(PYTHON, "-c", include), dir)).as("protoc").isZero();
    Path token = dir.resolve("token");
    fixture.devStack.kubernetes().createPod("public", "python-client", "application");
    Files.writeString(
        token,
        fixture
            .devStack
            .kubernetes()
            .issueToken(
                "public",
                "application",
                "python-client",
                List.of("credbroker"),
                Duration.ofMinutes(10)));

    ProcessBuilder builder =
        new ProcessBuilder(
                PYTHON,
                WALKTHROUGH.toAbsolutePath().toString(),
                "--target",
                "127.0.0.1:" + fixture.grpcPort,
                "--ca-file",
                fixture.devStack.caCertPath().toString(),
                "--token-file",
                token.toString(),
                "db1")
            .redirectError(dir.resolve("stderr.log").toFile());
    builder.environment().put("PYTHONPATH", generated.toString());
    Process client = builder.start();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8))) {
      String first = out.readLine();
      assertThat(first).as("first line; stderr: %s", stderr()).isNotNull();
      Matcher issued = ISSUED.matcher(first);
      assertThat(issued.matches()).as(first).isTrue();
      String credentialId = issued.group(1);
      String username = issued.group(2);
      assertThat(fixture.roleExists(username)).isTrue();
      CredentialRecord record = fixture.record(credentialId);
      assertThat(record.kind()).isEqualTo(CredentialKind.STREAM);
      assertThat(record.state()).isEqualTo(CredentialState.ACTIVE);

      // SIGTERM with kill: Process.destroy() would also close the pipe the client reports on.
      assertThat(new ProcessBuilder("kill", "-TERM", Long.toString(client.pid())).start().waitFor())
          .isZero();

      assertThat(client.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(client.exitValue()).as("exit status; stderr: %s", stderr()).isZero();
      assertThat(out.readLine()).contains("\"released\"").contains(credentialId);
      assertThat(fixture.roleExists(username)).isFalse();
      assertThat(fixture.record(credentialId).state()).isEqualTo(CredentialState.RELEASED);
    } finally {
      client.destroyForcibly();
    }
  }

  private String stderr() throws IOException {
    return Files.readString(dir.resolve("stderr.log"));
  }

  private static int run(List<String> command, Path workDir)
      throws IOException, InterruptedException {
    Process process =
        new ProcessBuilder(new ArrayList<>(command))
            .directory(workDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      return -1;
    }
    return process.exitValue();
  }
}
