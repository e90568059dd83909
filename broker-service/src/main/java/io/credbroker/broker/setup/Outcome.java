package io.credbroker.broker.setup;

/** What a setup step did, or in a dry run what it would do. */
public enum Outcome {
  CREATED("created", "would create"),
  UPDATED("updated", "would update"),
  UNCHANGED("unchanged", "unchanged");

  private final String done;
  private final String planned;

  Outcome(String done, String planned) {
    this.done = done;
    this.planned = planned;
  }

  /** The word the command prints for this outcome. */
  public String describe(boolean dryRun) {
    return dryRun ? planned : done;
  }

  /** Whether the step changes (or changed) anything. */
  public boolean isChange() {
    return this != UNCHANGED;
  }
}
