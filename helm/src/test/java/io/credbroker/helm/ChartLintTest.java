package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ChartLintTest {

  @Test
  void chartPassesHelmLint() {
    LintResult result = Chart.lint(false);

    assertThat(result.isFailed()).as("lint messages: %s", result.getMessages()).isFalse();
    assertThat(result.getMessages()).noneMatch(m -> m.contains("[ERROR]"));
  }

  @Test
  void chartPassesStrictHelmLintWithoutWarnings() {
    LintResult result = Chart.lint(true);

    assertThat(result.isFailed()).as("lint messages: %s", result.getMessages()).isFalse();
    assertThat(result.getMessages())
        .noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "required.yaml",
        "bindings.yaml",
        "tuning.yaml",
        "egress.yaml",
        "pod-options.yaml",
        "no-topology-spread.yaml",
        "setup.yaml",
        "setup-options.yaml",
        "ports.yaml",
        "cert-manager.yaml"
      })
  void chartWithEveryOptionOfAValuesFilePassesStrictLint(String valuesFile) {
    LintResult result = Chart.lint(valuesFile, true);

    assertThat(result.isFailed()).as("lint messages: %s", result.getMessages()).isFalse();
    assertThat(result.getMessages())
        .noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
  }
}
