package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SetupReportTest {

  @Test
  void runWithoutChangesSaysSo() {
    SetupReport report =
        new SetupReport(
            false,
            List.of(
                new StepResult("postgres", "group role \"db1_grp\"", Outcome.UNCHANGED, ""),
                new StepResult("vault", "role database/roles/db1", Outcome.UNCHANGED, "")));
    assertThat(report.changed()).isFalse();
    assertThat(report.render())
        .contains("unchanged")
        .contains("No changes: everything was already set up.");
  }

  @Test
  void dryRunSpeaksInTheConditionalAndCountsPlannedChanges() {
    SetupReport report =
        new SetupReport(
            true,
            List.of(
                new StepResult(
                    "postgres", "database \"db1\"", Outcome.CREATED, "CREATE DATABASE \"db1\""),
                new StepResult(
                    "vault", "role database/roles/db1", Outcome.UPDATED, "differs: max_ttl"),
                new StepResult("vault", "policy credential-broker", Outcome.UNCHANGED, "")));
    String text = report.render();
    assertThat(text)
        .startsWith("Dry run: nothing is changed.")
        .contains(
            "would create",
            "would update",
            "CREATE DATABASE \"db1\"",
            "differs: max_ttl",
            "2 of 3 steps would change.");
    assertThat(report.stepsOf("vault")).hasSize(2);
  }

  @Test
  void planOfConnectionConfigMasksThePassword() {
    VaultSetupOptions options = VaultSetupOptionsTest.options();
    java.util.Map<String, Object> shown =
        new java.util.LinkedHashMap<>(VaultSetup.desiredConnection(options));
    shown.put("password", "hunter2-really-secret");
    String detail = VaultSetup.describe(shown, List.of("username"));
    assertThat(detail)
        .doesNotContain("hunter2")
        .contains(
            "password=" + Secret.MASK,
            "differs: username",
            "connection_url=postgresql://{{username}}:{{password}}@127.0.0.1:5432/db1?sslmode=disable");
  }
}
