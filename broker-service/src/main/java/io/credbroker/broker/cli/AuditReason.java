package io.credbroker.broker.cli;

import picocli.CommandLine.Option;

/** The reason an operator gives for a change ({@code --reason}, required), for the audit trail. */
final class AuditReason {

  @Option(names = "--reason", required = true, description = "why, for the audit trail")
  String text = "";
}
