package io.credbroker.broker.cli;

/** A failure to show the operator as one line, without a stack trace: exit code 1. */
final class CliException extends RuntimeException {

  CliException(String message) {
    super(message);
  }
}
