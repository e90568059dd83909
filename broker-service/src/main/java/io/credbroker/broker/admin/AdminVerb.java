package io.credbroker.broker.admin;

/**
 * The RBAC verbs the admin API asks about, on resource {@code credentials} in API group {@code
 * credbroker.io}, in the namespace acted in (an empty namespace, i.e. a ClusterRoleBinding, for
 * calls across namespaces): {@code get} and {@code list} to read, {@code revoke} to revoke pods and
 * credentials (one or in bulk), {@code unblock} to lift a pod's block. The chart's {@code
 * <release>-viewer} ClusterRole grants get and list, {@code <release>-revoker} all four: whoever
 * may revoke may also undo a revocation made in error, and every lifting is audited with its
 * reason.
 */
enum AdminVerb {
  GET("get"),
  LIST("list"),
  REVOKE("revoke"),
  UNBLOCK("unblock");

  static final String API_GROUP = "credbroker.io";
  static final String RESOURCE = "credentials";

  private final String rbacName;

  AdminVerb(String rbacName) {
    this.rbacName = rbacName;
  }

  String rbacName() {
    return rbacName;
  }
}
