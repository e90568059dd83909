package io.credbroker.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Runs both scenarios, small, through the command line against a real broker process and checks
 * that every call succeeded and the report adds up. Never checks timings: the machine is shared.
 */
class LoadTestSmokeIT {

  private static final int REQUESTS = 20;
  private static final int PODS = 4;
  private static final int STREAMS = 50;

  private static JsonNode report;
  private static String reportText;

  @BeforeAll
  static void runBothScenarios() throws Exception {
    Path brokerJar =
        Path.of(
            System.getProperty(
                "credbroker.broker-jar", "../broker-service/target/credential-broker.jar"));
    assertThat(brokerJar)
        .as(
            "the broker jar is built by broker-service before this module; build it with"
                + " ./mvnw -pl broker-service -am package -DskipTests")
        .isRegularFile();
    Path workDir = Path.of("target", "load-smoke-" + System.currentTimeMillis());
    Path reportFile = workDir.resolve("smoke-report.json");

    int exitCode =
        LoadTestMain.execute(
            "all",
            "--broker-jar",
            brokerJar.toString(),
            "--work-dir",
            workDir.toString(),
            "--report",
            reportFile.toString(),
            "--requests",
            Integer.toString(REQUESTS),
            "--concurrency",
            "1,2",
            "--warmup",
            "5",
            "--pods",
            Integer.toString(PODS),
            "--streams",
            Integer.toString(STREAMS),
            "--connections",
            "5",
            "--stream-warmup",
            "5",
            "--max-duration",
            "2m");

    assertThat(exitCode).as("exit code; the broker log is in " + workDir).isZero();
    reportText = Files.readString(reportFile);
    report = new ObjectMapper().readTree(reportText);
  }

  @Test
  void everyIssuanceSucceededThroughTheBrokerAndDirectly() {
    JsonNode levels = report.path("issuance").path("levels");
    assertThat(levels).hasSize(2);
    for (JsonNode level : levels) {
      assertThat(level.path("brokerOk").asInt()).isEqualTo(REQUESTS);
      assertThat(level.path("vaultOk").asInt()).isEqualTo(REQUESTS);
      assertThat(level.path("brokerFailed").asInt()).isZero();
      assertThat(level.path("vaultFailed").asInt()).isZero();
      assertThat(level.path("completed").asBoolean()).isTrue();
      assertThat(level.path("broker").path("count").asLong()).isEqualTo(REQUESTS);
      assertThat(level.path("vault").path("count").asLong()).isEqualTo(REQUESTS);
      assertThat(level.path("broker").path("p50Ms").asDouble()).isPositive();
      assertThat(level.path("vault").path("p50Ms").asDouble()).isPositive();
    }
    assertThat(levels.get(0).path("concurrency").asInt()).isEqualTo(1);
    assertThat(levels.get(1).path("concurrency").asInt()).isEqualTo(2);
  }

  @Test
  void everyBrokerCredentialWasReleasedAndTheBrokersCpuTimeMeasured() {
    JsonNode issuance = report.path("issuance");
    long issued = 0;
    for (JsonNode level : issuance.path("levels")) {
      issued += level.path("brokerOk").asLong();
      assertThat(level.path("brokerCpu").path("cpuMs").asDouble()).isPositive();
      assertThat(level.path("brokerCpu").path("msPerOperation").asDouble()).isPositive();
    }
    JsonNode releases = issuance.path("releases");
    // Every credential still held is released: every level's, and the first warm-up's unless the
    // warm-up rounds at the measured concurrency released it already (each round releases all).
    assertThat(releases.path("released").asLong()).isGreaterThanOrEqualTo(issued);
    assertThat(releases.path("failed").asInt()).isZero();
    assertThat(releases.path("latency").path("count").asLong())
        .isEqualTo(releases.path("released").asLong());
    assertThat(releases.path("brokerCpu").path("cpuMs").asDouble()).isPositive();
    assertThat(issuance.path("cleanup").path("released").asInt()).isZero();
  }

  @Test
  void theBrokerReviewedEachTokenAtMostOnce() {
    JsonNode reviews = report.path("issuance").path("tokenReviews");
    assertThat(reviews.path("distinctTokens").asInt()).isEqualTo(PODS);
    assertThat(reviews.path("reviews").asLong()).isBetween(1L, (long) PODS);
    assertThat(reviews.path("cacheHits").asLong()).isPositive();
    assertThat(reviews.path("withinBudget").asBoolean()).isTrue();
  }

  @Test
  void everyStreamGotItsFirstEventAndTheBrokerCountedIt() {
    JsonNode streams = report.path("streams");
    assertThat(streams.path("opened").asInt()).isEqualTo(STREAMS);
    assertThat(streams.path("failed").asInt()).isZero();
    assertThat(streams.path("firstEvent").path("count").asLong()).isEqualTo(STREAMS);
    assertThat(streams.path("activeStreamsReported").asLong()).isEqualTo(STREAMS);
    assertThat(streams.path("withStreams").path("liveBytes").asLong())
        .isGreaterThan(streams.path("baseline").path("liveBytes").asLong() / 2)
        .isPositive();
    assertThat(streams.path("withStreams").path("liveThreads").asLong()).isPositive();
    assertThat(streams.path("largestGrowth")).isNotEmpty();
    assertThat(streams.path("largestConnectionGrowth")).isNotEmpty();
    assertThat(streams.path("beforePods").path("liveBytes").asLong()).isPositive();
  }

  @Test
  void cleanupLeftNoDynamicRoleBehind() {
    assertThat(report.path("issuance").path("cleanup").path("dynamicRolesLeft").asLong()).isZero();
    assertThat(report.path("streams").path("cleanup").path("dynamicRolesLeft").asLong()).isZero();
  }

  @Test
  void theReportHoldsNoToken() {
    // Service-account tokens are JWTs ("eyJ..."); Vault lease ids name the creds path.
    assertThat(reportText).doesNotContain("eyJ").doesNotContain("database/creds/db1/");
    assertThat(report.path("machine").path("cores").asInt()).isPositive();
  }
}
