package io.credbroker.devstack.kubernetes;

import java.util.List;
import java.util.Map;

/**
 * Who a request or a reviewed token stands for, as {@code authentication.k8s.io/v1 UserInfo} names
 * it. {@code extra} values are lists, as on the wire.
 */
record UserInfo(String username, String uid, List<String> groups, Map<String, List<String>> extra) {

  static final String ADMIN = "admin";
  static final String MASTERS = "system:masters";
  static final String AUTHENTICATED = "system:authenticated";

  UserInfo {
    groups = List.copyOf(groups);
    extra = Map.copyOf(extra);
  }

  static UserInfo admin() {
    return new UserInfo(ADMIN, "", List.of(MASTERS, AUTHENTICATED), Map.of());
  }

  boolean isPrivileged() {
    return groups.contains(MASTERS);
  }
}
