package io.credbroker.devstack.vault;

import java.util.List;

/**
 * An error Vault would answer with: an HTTP status and the {@code errors} array of the body. Thrown
 * by handlers and engines; the core renders it as {@code {"errors":[...]}}.
 */
public class VaultException extends RuntimeException {

  private final int status;
  private final List<String> errors;

  public VaultException(int status, List<String> errors) {
    super(status + " " + errors);
    this.status = status;
    this.errors = List.copyOf(errors);
  }

  public int status() {
    return status;
  }

  public List<String> errors() {
    return errors;
  }

  /**
   * 400 with the message as the only error, as Vault's handlers answer a logical error response.
   */
  public static VaultException badRequest(String message) {
    return new VaultException(400, List.of(message));
  }

  /** 500 with a plain Go error wrapped in a multierror, as Vault answers a backend failure. */
  public static VaultException backendError(String message) {
    return new VaultException(500, List.of(multiError(message)));
  }

  /** 403 for a request the token's policies do not allow. */
  public static VaultException permissionDenied() {
    return new VaultException(403, List.of(multiError("permission denied")));
  }

  /** 403 for a missing, unknown, expired or revoked token: Vault reports both errors. */
  public static VaultException invalidToken() {
    return new VaultException(
        403, List.of("2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"));
  }

  /** 404 with an empty errors array, Vault's answer to a read of nothing. */
  public static VaultException notFound() {
    return new VaultException(404, List.of());
  }

  /** 404 for a path the backend has no route for (logical.ErrUnsupportedPath). */
  public static VaultException unsupportedPath() {
    return new VaultException(404, List.of(multiError("unsupported path")));
  }

  /** 405 for an operation the path does not offer (logical.ErrUnsupportedOperation). */
  public static VaultException unsupportedOperation() {
    return new VaultException(405, List.of(multiError("unsupported operation")));
  }

  /** Refuses with {@link #unsupportedOperation} unless the operation is a write. */
  static void requireWrite(Operation op) {
    if (op != Operation.UPDATE && op != Operation.CREATE) {
      throw unsupportedOperation();
    }
  }

  /** Vault's hashicorp/go-multierror rendering of a single error. */
  public static String multiError(String message) {
    return "1 error occurred:\n\t* " + message + "\n\n";
  }
}
