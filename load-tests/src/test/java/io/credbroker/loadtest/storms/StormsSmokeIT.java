package io.credbroker.loadtest.storms;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.StackSettings;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The three storms, tiny, on one stack of two real broker processes: rollout, a rolling update (the
 * rollout replacing running pods), then renewals, then failover (which kills the second replica, so
 * it comes last). Checks what every run must show, whatever the machine's load: every pod got its
 * credential, renewals ran, every pod came back after the kill. Never checks timings.
 */
class StormsSmokeIT {

  private static final int ROLLOUT_PODS = 6;
  private static final int RENEWAL_CREDENTIALS = 4;
  private static final int FAILOVER_STREAMS = 4;

  private static LoadStack stack;
  private static StormReport rollout;
  private static StormReport rollingUpdate;
  private static StormReport renewals;
  private static StormReport failover;

  @BeforeAll
  static void runTheStorms() {
    Path brokerJar =
        Path.of(
            System.getProperty(
                "credbroker.broker-jar", "../broker-service/target/credential-broker.jar"));
    assertThat(brokerJar)
        .as("the broker jar; build it with ./mvnw -pl broker-service -am package -DskipTests")
        .isRegularFile();
    Map<String, String> limits = new java.util.HashMap<>();
    limits.put("credbroker.limits.token-reviews-per-second", "100");
    stack =
        LoadStack.start(
            new StackSettings(
                Path.of("target", "storms-smoke-" + System.currentTimeMillis()),
                brokerJar,
                "256m",
                // Short, so that the renewal scenario sees renewals within seconds.
                Duration.ofSeconds(12),
                Duration.ofHours(1),
                Duration.ofMinutes(5),
                Duration.ofSeconds(30),
                true,
                limits,
                List.of(),
                Duration.ofMinutes(3),
                2));
    PrintStream progress = System.err;
    Duration max = Duration.ofMinutes(2);
    rollout =
        new RolloutScenario(
                stack,
                new RolloutScenario.Options(
                    ROLLOUT_PODS, Duration.ofSeconds(1), 1, 5, max, Duration.ZERO, false),
                progress)
            .run();
    rollingUpdate =
        new RolloutScenario(
                stack,
                new RolloutScenario.Options(
                    ROLLOUT_PODS, Duration.ofSeconds(1), 1, 5, max, Duration.ZERO, true),
                progress)
            .run();
    renewals =
        new RenewalScenario(
                stack,
                new RenewalScenario.Options(
                    RENEWAL_CREDENTIALS, 1, 4, Duration.ofSeconds(12), 10, max),
                progress)
            .run();
    failover =
        new FailoverScenario(
                stack, new FailoverScenario.Options(FAILOVER_STREAMS, 2, 4, max), progress)
            .run();
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  @Test
  void everyPodOfTheRolloutGotOneCredentialAndNoDeadlineError() {
    Map<String, Object> f = rollout.figures();
    assertThat(f).containsEntry("all_completed", true).containsEntry("pods_holding", ROLLOUT_PODS);
    assertThat(f).containsEntry("deadline_exceeded", 0);
    assertThat((Double) f.get("vault_ceiling_creations_per_s")).isPositive();
    assertThat((Double) f.get("time_until_all_hold_s")).isPositive();
    assertThat(f.get("dynamic_roles_created")).isEqualTo((long) ROLLOUT_PODS);
    assertThat((String) f.get("cleanup")).contains("0 dynamic roles left");
  }

  @Test
  void aRollingUpdateGaveEveryNewPodOneCredentialAndDroppedEveryRunningPodsRole() {
    Map<String, Object> f = rollingUpdate.figures();
    assertThat(f).containsEntry("all_completed", true).containsEntry("pods_holding", ROLLOUT_PODS);
    assertThat(f).containsEntry("replaced_pods", ROLLOUT_PODS);
    assertThat(f).containsEntry("deadline_exceeded", 0);
    // Every running pod released its credential as it shut down: none of their roles is left,
    // and the new pods' roles are all that was created.
    assertThat(f).containsEntry("old_roles_all_gone", true);
    assertThat(f.get("dynamic_roles_created")).isEqualTo((long) ROLLOUT_PODS);
    @SuppressWarnings("unchecked")
    Map<String, Long> counters = (Map<String, Long>) f.get("broker_counters");
    assertThat(counters).containsEntry("revoked_release", (long) ROLLOUT_PODS);
    assertThat((Double) f.get("vault_ceiling_revocations_per_s")).isPositive();
    assertThat((Double) f.get("time_until_old_pods_released_s")).isPositive();
    assertThat((String) f.get("cleanup")).contains("0 dynamic roles left");
  }

  @Test
  void renewalsRanThroughTheBrokerAndReachedThePods() {
    Map<String, Object> f = renewals.figures();
    assertThat(f)
        .containsEntry("all_opened", true)
        .containsEntry("pods_holding", (long) RENEWAL_CREDENTIALS);
    assertThat((Double) f.get("broker_renewals_per_s")).isPositive();
    assertThat((Double) f.get("client_renewal_events_per_s")).isPositive();
    assertThat((Double) f.get("vault_ceiling_renewals_per_s")).isPositive();
    // Whether a lease expired before its renewal depends on the machine's load: reported only.
    assertThat(f).containsKey("max_expired_live_credentials");
    assertThat((Integer) f.get("lag_samples")).isPositive();
    assertThat((String) f.get("cleanup")).contains("0 dynamic roles left");
  }

  @Test
  void everyPodCameBackAfterTheReplicaWasKilled() {
    Map<String, Object> f = failover.figures();
    assertThat(f)
        .containsEntry("all_opened", true)
        .containsEntry("streams_on_killed_replica", (long) FAILOVER_STREAMS)
        .containsEntry("all_resumed", true);
    assertThat((Integer) f.get("same_credential") + (Integer) f.get("new_credential"))
        .isEqualTo(FAILOVER_STREAMS);
    assertThat((String) f.get("cleanup")).contains("0 dynamic roles left");
  }
}
