package io.credbroker.broker.admin;

/**
 * The RBAC verbs the admin API asks about, on resource {@code credentials} in API group {@code
 * credbroker.io} (the chart's {@code <release>-viewer} and {@code <release>-revoker} ClusterRoles
 * grant them).
 */
enum AdminVerb {
  GET("get"),
  LIST("list"),
  REVOKE("revoke");

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
