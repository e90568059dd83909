package io.credbroker.broker.setup;

/**
 * Setup could not be completed. The message names the step and the reason; it never carries a
 * password or token.
 */
public final class SetupException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public SetupException(String message) {
    super(message);
  }

  public SetupException(String message, Throwable cause) {
    super(message, cause);
  }
}
