package io.credbroker.broker.setup;

import java.util.Objects;

/**
 * The outcome of one setup step.
 *
 * @param system {@code postgres} or {@code vault}
 * @param subject what the step is about, e.g. {@code group role "db1_grp"}
 * @param outcome created, updated or unchanged
 * @param detail why it changes (fields that differ, statements planned); never holds a secret, may
 *     be empty
 */
public record StepResult(String system, String subject, Outcome outcome, String detail) {

  public StepResult {
    Objects.requireNonNull(system, "system");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(detail, "detail");
  }
}
