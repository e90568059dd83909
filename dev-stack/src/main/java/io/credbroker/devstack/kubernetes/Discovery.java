package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The discovery documents ({@code /version}, {@code /api}, {@code /api/v1}, {@code /apis}, {@code
 * /apis/<group>[/v1]}) for exactly what the stand-in serves, so that kubectl and client-go build
 * their REST mappings unchanged. Stateless.
 */
final class Discovery {

  private static final List<String> CRUD = List.of("create", "delete", "get", "list");

  private Discovery() {}

  /**
   * What a 1.33 API server answers on {@code /version}: apimachinery's {@code version.Info} as
   * {@code effectiveVersion.Info()} (k8s.io/component-base/compatibility) fills it, in the struct's
   * field order, with the emulation version (the binary's own by default) and the minimum
   * compatibility version (one minor back).
   */
  static ObjectNode version() {
    ObjectNode v = Json.MAPPER.createObjectNode();
    v.put("major", "1");
    v.put("minor", "33");
    v.put("emulationMajor", "1");
    v.put("emulationMinor", "33");
    v.put("minCompatibilityMajor", "1");
    v.put("minCompatibilityMinor", "32");
    v.put("gitVersion", KubernetesApi.GIT_VERSION);
    v.put("gitCommit", "0000000000000000000000000000000000000000");
    v.put("gitTreeState", "clean");
    v.put("buildDate", "2025-04-23T00:00:00Z");
    v.put("goVersion", "go1.24.2");
    v.put("compiler", "gc");
    v.put("platform", "linux/amd64");
    return v;
  }

  static ObjectNode apiVersions(@Nullable String hostHeader) {
    ObjectNode v = Json.MAPPER.createObjectNode();
    v.put("kind", "APIVersions");
    v.putArray("versions").add("v1");
    ArrayNode addresses = v.putArray("serverAddressByClientCIDRs");
    addresses
        .addObject()
        .put("clientCIDR", "0.0.0.0/0")
        .put("serverAddress", hostHeader == null ? "" : hostHeader);
    return v;
  }

  static ObjectNode coreResources() {
    ObjectNode list = resourceList("v1");
    ArrayNode resources = list.putArray("resources");
    resource(resources, "namespaces", "namespace", false, "Namespace", CRUD, List.of("ns"));
    resource(resources, "pods", "pod", true, "Pod", CRUD, List.of("po"))
        .putArray("categories")
        .add("all");
    resource(
        resources,
        "serviceaccounts",
        "serviceaccount",
        true,
        "ServiceAccount",
        CRUD,
        List.of("sa"));
    resource(
            resources,
            "serviceaccounts/token",
            "",
            true,
            "TokenRequest",
            List.of("create"),
            List.of())
        .put("group", KubernetesApi.AUTHN_GROUP)
        .put("version", "v1");
    return list;
  }

  static ObjectNode groupList() {
    ObjectNode list = Json.MAPPER.createObjectNode();
    list.put("kind", "APIGroupList");
    list.put("apiVersion", "v1");
    ArrayNode groups = list.putArray("groups");
    for (String group : List.of(KubernetesApi.AUTHN_GROUP, KubernetesApi.AUTHZ_GROUP)) {
      groups.add(groupBody(group));
    }
    return list;
  }

  static ObjectNode group(String name) {
    ObjectNode group = groupBody(name);
    ObjectNode out = Json.MAPPER.createObjectNode();
    out.put("kind", "APIGroup");
    out.put("apiVersion", "v1");
    out.setAll(group);
    return out;
  }

  static ObjectNode groupResources(String group) {
    ObjectNode list = resourceList(group + "/v1");
    ArrayNode resources = list.putArray("resources");
    List<String> create = List.of("create");
    if (group.equals(KubernetesApi.AUTHN_GROUP)) {
      resource(
          resources,
          "selfsubjectreviews",
          "selfsubjectreview",
          false,
          "SelfSubjectReview",
          create,
          List.of());
      resource(resources, "tokenreviews", "tokenreview", false, "TokenReview", create, List.of());
    } else {
      resource(
          resources,
          "localsubjectaccessreviews",
          "localsubjectaccessreview",
          true,
          "LocalSubjectAccessReview",
          create,
          List.of());
      resource(
          resources,
          "selfsubjectaccessreviews",
          "selfsubjectaccessreview",
          false,
          "SelfSubjectAccessReview",
          create,
          List.of());
      resource(
          resources,
          "subjectaccessreviews",
          "subjectaccessreview",
          false,
          "SubjectAccessReview",
          create,
          List.of());
    }
    return list;
  }

  private static ObjectNode groupBody(String name) {
    ObjectNode group = Json.MAPPER.createObjectNode();
    group.put("name", name);
    ObjectNode version =
        Json.MAPPER.createObjectNode().put("groupVersion", name + "/v1").put("version", "v1");
    group.putArray("versions").add(version);
    group.set("preferredVersion", version.deepCopy());
    return group;
  }

  private static ObjectNode resourceList(String groupVersion) {
    ObjectNode list = Json.MAPPER.createObjectNode();
    list.put("kind", "APIResourceList");
    list.put("apiVersion", "v1");
    list.put("groupVersion", groupVersion);
    return list;
  }

  private static ObjectNode resource(
      ArrayNode resources,
      String name,
      String singular,
      boolean namespaced,
      String kind,
      List<String> verbs,
      List<String> shortNames) {
    ObjectNode r = resources.addObject();
    r.put("name", name);
    r.put("singularName", singular);
    r.put("namespaced", namespaced);
    r.put("kind", kind);
    ArrayNode v = r.putArray("verbs");
    verbs.forEach(v::add);
    if (!shortNames.isEmpty()) {
      ArrayNode s = r.putArray("shortNames");
      shortNames.forEach(s::add);
    }
    return r;
  }
}
