package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * RBAC rules loaded from YAML (ClusterRole, ClusterRoleBinding, Role, RoleBinding, and List of
 * them) and evaluated like kube-apiserver's RBAC authorizer: cluster role bindings first, then role
 * bindings in the request's namespace, first allowing rule wins, RBAC never denies.
 *
 * <p>The same YAML may carry Namespace and ServiceAccount objects, which the server creates at
 * start ({@link #seedObjects()}). Immutable after loading, so safe to share across threads.
 */
final class RbacPolicy {

  private static final YAMLMapper YAML = new YAMLMapper();

  private final Map<String, Role> clusterRoles;
  private final Map<String, Role> roles; // key: namespace/name
  private final List<Binding> clusterRoleBindings;
  private final List<Binding> roleBindings;
  private final List<ObjectNode> seedObjects;

  private RbacPolicy(
      Map<String, Role> clusterRoles,
      Map<String, Role> roles,
      List<Binding> clusterRoleBindings,
      List<Binding> roleBindings,
      List<ObjectNode> seedObjects) {
    this.clusterRoles = Map.copyOf(clusterRoles);
    this.roles = Map.copyOf(roles);
    this.clusterRoleBindings = List.copyOf(clusterRoleBindings);
    this.roleBindings = List.copyOf(roleBindings);
    this.seedObjects = List.copyOf(seedObjects);
  }

  /**
   * Parses one or more YAML documents.
   *
   * @param source names the input in error messages
   * @throws IllegalArgumentException for YAML that does not parse or an object it cannot use
   */
  static RbacPolicy load(InputStream yaml, String source) {
    Map<String, Role> clusterRoles = new LinkedHashMap<>();
    Map<String, Role> roles = new LinkedHashMap<>();
    List<Binding> clusterRoleBindings = new ArrayList<>();
    List<Binding> roleBindings = new ArrayList<>();
    List<ObjectNode> seeds = new ArrayList<>();
    List<JsonNode> documents = new ArrayList<>();
    try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(yaml)) {
      while (it.hasNextValue()) {
        JsonNode doc = it.nextValue();
        if (doc == null || doc.isNull() || doc.isMissingNode()) {
          continue;
        }
        if ("List".equals(doc.path("kind").asText())
            || doc.path("kind").asText().endsWith("List")) {
          doc.path("items").forEach(documents::add);
        } else {
          documents.add(doc);
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(
          "cannot read RBAC YAML from " + source + ": " + e.getMessage(), e);
    }
    for (JsonNode doc : documents) {
      String kind = doc.path("kind").asText("");
      String name = doc.path("metadata").path("name").asText("");
      String namespace = doc.path("metadata").path("namespace").asText("");
      if (name.isEmpty()) {
        throw new IllegalArgumentException(source + ": a " + kind + " without metadata.name");
      }
      switch (kind) {
        case "ClusterRole" -> clusterRoles.put(name, Role.parse(doc, source));
        case "Role" ->
            roles.put(
                requireNamespace(namespace, kind, name, source) + "/" + name,
                Role.parse(doc, source));
        case "ClusterRoleBinding" -> clusterRoleBindings.add(Binding.parse(doc, kind, "", source));
        case "RoleBinding" ->
            roleBindings.add(
                Binding.parse(doc, kind, requireNamespace(namespace, kind, name, source), source));
        case "Namespace", "ServiceAccount" -> seeds.add((ObjectNode) doc.deepCopy());
        default ->
            throw new IllegalArgumentException(
                source
                    + ": unsupported kind \""
                    + kind
                    + "\" ("
                    + name
                    + "); expected ClusterRole,"
                    + " ClusterRoleBinding, Role, RoleBinding, Namespace or ServiceAccount");
      }
    }
    return new RbacPolicy(clusterRoles, roles, clusterRoleBindings, roleBindings, seeds);
  }

  /** Namespaces and service accounts the YAML asks to exist. */
  List<ObjectNode> seedObjects() {
    return seedObjects.stream().map(ObjectNode::deepCopy).toList();
  }

  /** The RBAC decision for one user on one request. */
  Decision authorize(String username, List<String> groups, RequestAttributes request) {
    for (Binding binding : clusterRoleBindings) {
      Decision decision = evaluate(binding, username, groups, request);
      if (decision != null) {
        return decision;
      }
    }
    if (request.resourceRequest() && !request.namespace().isEmpty()) {
      for (Binding binding : roleBindings) {
        if (!binding.namespace.equals(request.namespace())) {
          continue;
        }
        Decision decision = evaluate(binding, username, groups, request);
        if (decision != null) {
          return decision;
        }
      }
    }
    return Decision.NO_OPINION;
  }

  private @Nullable Decision evaluate(
      Binding binding, String username, List<String> groups, RequestAttributes request) {
    Subject subject = binding.matchingSubject(username, groups);
    if (subject == null) {
      return null;
    }
    Role role =
        binding.roleKind.equals("ClusterRole")
            ? clusterRoles.get(binding.roleName)
            : roles.get(binding.namespace + "/" + binding.roleName);
    if (role == null) {
      return null;
    }
    for (Rule rule : role.rules) {
      if (rule.allows(request)) {
        String bindingName =
            binding.namespace.isEmpty() ? binding.name : binding.name + "/" + binding.namespace;
        return new Decision(
            true,
            "RBAC: allowed by "
                + binding.kind
                + " \""
                + bindingName
                + "\" of "
                + binding.roleKind
                + " \""
                + binding.roleName
                + "\" to "
                + subject.describe(binding.namespace));
      }
    }
    return null;
  }

  private static String requireNamespace(
      String namespace, String kind, String name, String source) {
    if (namespace.isEmpty()) {
      throw new IllegalArgumentException(
          source + ": " + kind + " " + name + " needs metadata.namespace");
    }
    return namespace;
  }

  /** An authorizer's answer; {@code reason} is empty when nothing matched. */
  record Decision(boolean allowed, String reason) {
    static final Decision NO_OPINION = new Decision(false, "");
  }

  private record Role(List<Rule> rules) {
    static Role parse(JsonNode doc, String source) {
      List<Rule> rules = new ArrayList<>();
      for (JsonNode rule : doc.path("rules")) {
        rules.add(Rule.parse(rule, source));
      }
      return new Role(List.copyOf(rules));
    }
  }

  /** One PolicyRule, matched as {@code rbac/v1 RuleAllows} does. */
  record Rule(
      List<String> verbs,
      List<String> apiGroups,
      List<String> resources,
      List<String> resourceNames,
      List<String> nonResourceUrls) {

    static Rule parse(JsonNode node, String source) {
      Rule rule =
          new Rule(
              strings(node.path("verbs")),
              strings(node.path("apiGroups")),
              strings(node.path("resources")),
              strings(node.path("resourceNames")),
              strings(node.path("nonResourceURLs")));
      if (rule.verbs.isEmpty()) {
        throw new IllegalArgumentException(source + ": a rule without verbs: " + node);
      }
      return rule;
    }

    boolean allows(RequestAttributes request) {
      if (!verbs.contains("*") && !verbs.contains(request.verb())) {
        return false;
      }
      if (!request.resourceRequest()) {
        return nonResourceUrlMatches(request.path());
      }
      return (apiGroups.contains("*") || apiGroups.contains(request.apiGroup()))
          && resourceMatches(request.resource(), request.subresource())
          && (resourceNames.isEmpty() || resourceNames.contains(request.name()));
    }

    private boolean resourceMatches(String resource, String subresource) {
      String combined = subresource.isEmpty() ? resource : resource + "/" + subresource;
      for (String r : resources) {
        if (r.equals("*") || r.equals(combined)) {
          return true;
        }
        if (!subresource.isEmpty() && r.equals("*/" + subresource)) {
          return true;
        }
      }
      return false;
    }

    private boolean nonResourceUrlMatches(String path) {
      for (String url : nonResourceUrls) {
        if (url.equals("*") || url.equals(path)) {
          return true;
        }
        if (url.endsWith("*") && path.startsWith(url.substring(0, url.length() - 1))) {
          return true;
        }
      }
      return false;
    }
  }

  private record Subject(String kind, String name, String namespace) {
    boolean appliesTo(String username, List<String> groups, String bindingNamespace) {
      return switch (kind) {
        case "User" -> name.equals(username);
        case "Group" -> groups.contains(name);
        case "ServiceAccount" -> {
          String ns = namespace.isEmpty() ? bindingNamespace : namespace;
          yield username.equals("system:serviceaccount:" + ns + ":" + name);
        }
        default -> false;
      };
    }

    /** {@code describeSubject} of the RBAC authorizer: service accounts as "name/namespace". */
    String describe(String bindingNamespace) {
      if (kind.equals("ServiceAccount")) {
        String ns = namespace.isEmpty() ? bindingNamespace : namespace;
        return kind + " \"" + name + "/" + ns + "\"";
      }
      return kind + " \"" + name + "\"";
    }
  }

  private static final class Binding {
    final String kind;
    final String name;
    final String namespace;
    final String roleKind;
    final String roleName;
    final List<Subject> subjects;

    private Binding(
        String kind,
        String name,
        String namespace,
        String roleKind,
        String roleName,
        List<Subject> subjects) {
      this.kind = kind;
      this.name = name;
      this.namespace = namespace;
      this.roleKind = roleKind;
      this.roleName = roleName;
      this.subjects = subjects;
    }

    static Binding parse(JsonNode doc, String kind, String namespace, String source) {
      String name = doc.path("metadata").path("name").asText();
      JsonNode roleRef = doc.path("roleRef");
      String roleKind = roleRef.path("kind").asText("");
      String roleName = roleRef.path("name").asText("");
      if (roleName.isEmpty()
          || !(roleKind.equals("ClusterRole")
              || (roleKind.equals("Role") && kind.equals("RoleBinding")))) {
        throw new IllegalArgumentException(
            source
                + ": "
                + kind
                + " "
                + name
                + " needs roleRef with kind "
                + (kind.equals("RoleBinding") ? "Role or ClusterRole" : "ClusterRole")
                + " and a name");
      }
      List<Subject> subjects = new ArrayList<>();
      for (JsonNode s : doc.path("subjects")) {
        String subjectKind = s.path("kind").asText("");
        if (!List.of("User", "Group", "ServiceAccount").contains(subjectKind)) {
          throw new IllegalArgumentException(
              source
                  + ": "
                  + kind
                  + " "
                  + name
                  + " has a subject of unknown kind \""
                  + subjectKind
                  + "\"");
        }
        subjects.add(
            new Subject(subjectKind, s.path("name").asText(""), s.path("namespace").asText("")));
      }
      return new Binding(kind, name, namespace, roleKind, roleName, List.copyOf(subjects));
    }

    @Nullable Subject matchingSubject(String username, List<String> groups) {
      for (Subject subject : subjects) {
        if (subject.appliesTo(username, groups, namespace)) {
          return subject;
        }
      }
      return null;
    }
  }

  private static List<String> strings(JsonNode node) {
    List<String> values = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(v -> values.add(v.asText()));
    } else if (node.isTextual()) {
      values.add(node.asText());
    }
    return List.copyOf(values);
  }
}
