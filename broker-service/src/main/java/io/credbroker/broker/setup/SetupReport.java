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
    StringBuilder out = new StringBuilder();
    if (dryRun) {
      out.append("Dry run: nothing is changed.\n");
    }
    for (StepResult step : steps) {
      out.append(String.format("%-8s  %-62s  %s%n", step.system(), step.subject(), step.outcome().describe(dryRun)));
      if (!step.detail().isEmpty() && (dryRun || step.outcome().isChange())) {
        for (String line : step.detail().split("\n")) {
          out.append("            ").append(line).append('\n');
        }
      }
    }
    long changes = steps.stream().filter(s -> s.outcome().isChange()).count();
    if (changes == 0) {
      out.append("No changes: everything was already set up.\n");
    } else if (dryRun) {
      out.append(changes).append(" of ").append(steps.size()).append(" steps would change.\n");
    } else {
      out.append(changes).append(" of ").append(steps.size()).append(" steps changed.\n");
    }
    return out.toString();
  }
}
