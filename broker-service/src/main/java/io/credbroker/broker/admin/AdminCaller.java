package io.credbroker.broker.admin;

import java.util.Objects;

/**
 * An operator whose token Kubernetes accepted and whose RBAC allowed the call. Holds no token.
 *
 * @param username the Kubernetes user name, as written to the audit trail
 */
record AdminCaller(String username) {

  AdminCaller {
    Objects.requireNonNull(username, "username");
  }
}
