package io.credbroker.devstack.kubernetes;

/** The core/v1 resources the stand-in stores. */
enum ResourceKind {
  NAMESPACE("namespaces", "Namespace", false),
  SERVICE_ACCOUNT("serviceaccounts", "ServiceAccount", true),
  POD("pods", "Pod", true);

  final String resource;
  final String kind;
  final boolean namespaced;

  ResourceKind(String resource, String kind, boolean namespaced) {
    this.resource = resource;
    this.kind = kind;
    this.namespaced = namespaced;
  }

  String listKind() {
    return kind + "List";
  }
}
