package io.credbroker.broker.setup;

import java.util.ArrayList;
import java.util.List;

/**
 * What a setup run did (or, in a dry run, would do), step by step, in order.
 *
 * @param dryRun whether nothing was changed on purpose
 * @param steps every step, including unchanged ones
 */
public record SetupReport(boolean dryRun, List<StepResult> steps) {

  public SetupReport {
    steps = List.copyOf(steps);
  }

  /** Whether any step changed (or would change) something. */
  public boolean changed() {
    return steps.stream().anyMatch(s -> s.outcome().isChange());
  }

  /** The steps of one system, {@code postgres} or {@code vault}. */
  public List<StepResult> stepsOf(String system) {
    return steps.stream().filter(s -> s.system().equals(system)).toList();
  }

  /** This report followed by the steps of another one. */
  public SetupReport plus(SetupReport other) {
    List<StepResult> all = new ArrayList<>(steps);
    all.addAll(other.steps);
    return new SetupReport(dryRun || other.dryRun, all);
  }

  /** The human-readable plan or result, one line per step and a summary; holds no secret. */
  public String render() {
    return renderHeader() + renderSteps() + renderSummary();
  }

  String renderHeader() {
    return dryRun ? "Dry run: nothing is changed.\n" : "";
  }

  /** One line per step, followed by the details of the steps that change something. */
  String renderSteps() {
    StringBuilder out = new StringBuilder();
    for (StepResult step : steps) {
      out.append(
          String.format(
              "%-8s  %-80s  %s%n", step.system(), step.subject(), step.outcome().describe(dryRun)));
      if (!step.detail().isEmpty() && step.outcome().isChange()) {
        for (String line : step.detail().split("\n")) {
          out.append("            ").append(line).append('\n');
        }
      }
    }
    return out.toString();
  }

  String renderSummary() {
    long changes = steps.stream().filter(s -> s.outcome().isChange()).count();
    if (changes == 0) {
      return "No changes: everything was already set up.\n";
    }
    return changes
        + " of "
        + steps.size()
        + " steps "
        + (dryRun ? "would change" : "changed")
        + ".\n";
  }
}
