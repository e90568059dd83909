package io.credbroker.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoadTestMainTest {

  @TempDir Path dir;

  @Test
  void missingBrokerJarFailsBeforeStartingAnythingWithTheBuildCommand() {
    Path workDir = dir.resolve("work");
    String err =
        stderrOf(
            () ->
                assertThat(
                        LoadTestMain.execute(
                            "issuance",
                            "--broker-jar",
                            dir.resolve("nope.jar").toString(),
                            "--work-dir",
                            workDir.toString()))
                    .isEqualTo(1));

    assertThat(err)
        .contains("nope.jar does not exist")
        .contains("./mvnw -q -pl broker-service -am install -DskipTests");
    assertThat(workDir).doesNotExist();
  }

  @Test
  void badOptionsAreRefusedBeforeStartingAnything() {
    Path workDir = dir.resolve("work");
    String err =
        stderrOf(
            () ->
                assertThat(
                        LoadTestMain.execute(
                            "streams",
                            "--streams",
                            "0",
                            "--broker-jar",
                            dir.resolve("nope.jar").toString(),
                            "--work-dir",
                            workDir.toString()))
                    .isEqualTo(1));

    assertThat(err).contains("streams must be between 1 and 200000");
    assertThat(workDir).doesNotExist();
  }

  @Test
  void aDurationThatIsNotOneIsAUsageError() {
    String err =
        stderrOf(
            () ->
                assertThat(LoadTestMain.execute("issuance", "--max-duration", "soon"))
                    .isEqualTo(2));

    assertThat(err).contains("'soon' is not a duration");
  }

  @Test
  void noScenarioIsAUsageError() {
    String err = stderrOf(() -> assertThat(LoadTestMain.execute()).isEqualTo(2));

    assertThat(err)
        .contains("name a scenario: issuance, streams, all, rollout, failover or renewals");
  }

  private static String stderrOf(Runnable action) {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      action.run();
    } finally {
      System.setErr(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }
}
