package io.credbroker.devstack.kubernetes;

/**
 * What an authorizer decides on, as {@code authorizer.Attributes}: a resource request (verb, API
 * group, resource, subresource, name, namespace; empty strings when not set) or a non-resource
 * request (verb and path).
 */
record RequestAttributes(
    boolean resourceRequest,
    String verb,
    String apiGroup,
    String resource,
    String subresource,
    String name,
    String namespace,
    String path) {

  static RequestAttributes resource(
      String verb,
      String apiGroup,
      String resource,
      String subresource,
      String name,
      String namespace) {
    return new RequestAttributes(true, verb, apiGroup, resource, subresource, name, namespace, "");
  }

  static RequestAttributes nonResource(String verb, String path) {
    return new RequestAttributes(false, verb, "", "", "", "", "", path);
  }

  /**
   * The 403 message the real server writes, e.g. {@code pods "x" is forbidden: User "u" cannot get
   * resource "pods" in API group "" in the namespace "ns"}.
   */
  String forbiddenMessage(String username) {
    if (!resourceRequest) {
      return "forbidden: User \"" + username + "\" cannot " + verb + " path \"" + path + "\"";
    }
    String fullResource = subresource.isEmpty() ? resource : resource + "/" + subresource;
    String subject = ApiException.qualified(resource, apiGroup);
    if (!name.isEmpty()) {
      subject += " \"" + name + "\"";
    }
    String scope =
        namespace.isEmpty() ? "at the cluster scope" : "in the namespace \"" + namespace + "\"";
    return subject
        + " is forbidden: User \""
        + username
        + "\" cannot "
        + verb
        + " resource \""
        + fullResource
        + "\" in API group \""
        + apiGroup
        + "\" "
        + scope;
  }
}
