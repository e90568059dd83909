package io.credbroker.devstack.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RbacPolicyTest {

  private static final List<String> SA_GROUPS =
      List.of("system:serviceaccounts", "system:authenticated");

  @Test
  void brokerServiceAccountMayCreateTokenReviewsThroughAuthDelegator() throws Exception {
    RbacPolicy policy = defaultPolicy();

    RbacPolicy.Decision decision =
        policy.authorize(
            "system:serviceaccount:credbroker:credential-broker",
            SA_GROUPS,
            RequestAttributes.resource(
                "create", "authentication.k8s.io", "tokenreviews", "", "", ""));

    assertThat(decision.allowed()).isTrue();
    assertThat(decision.reason())
        .isEqualTo(
            "RBAC: allowed by ClusterRoleBinding \"credential-broker:auth-delegator\""
                + " of ClusterRole \"system:auth-delegator\" to ServiceAccount \"credential-broker/credbroker\"");
  }

  @Test
  void applicationServiceAccountMayNotCreateTokenReviewsAndGetsNoReason() throws Exception {
    RbacPolicy.Decision decision =
        defaultPolicy()
            .authorize(
                "system:serviceaccount:public:application",
                SA_GROUPS,
                RequestAttributes.resource(
                    "create", "authentication.k8s.io", "tokenreviews", "", "", ""));

    assertThat(decision.allowed()).isFalse();
    assertThat(decision.reason()).isEmpty();
  }

  @Test
  void viewerRoleDoesNotGrantRevoke() {
    RbacPolicy policy =
        policy(
            """
        kind: ClusterRole
        metadata: {name: credbroker-viewer}
        rules: [{apiGroups: [credbroker.io], resources: [credentials], verbs: [get, list]}]
        ---
        kind: ClusterRoleBinding
        metadata: {name: viewers}
        roleRef: {kind: ClusterRole, name: credbroker-viewer}
        subjects: [{kind: Group, name: oncall}]
        """);

    assertThat(
            policy
                .authorize(
                    "bob",
                    List.of("oncall"),
                    RequestAttributes.resource(
                        "list", "credbroker.io", "credentials", "", "", "public"))
                .allowed())
        .isTrue();
    assertThat(
            policy
                .authorize(
                    "bob",
                    List.of("oncall"),
                    RequestAttributes.resource(
                        "revoke", "credbroker.io", "credentials", "", "", "public"))
                .allowed())
        .isFalse();
  }

  @Test
  void roleBindingToClusterRoleGrantsOnlyInsideItsNamespace() {
    RbacPolicy policy =
        policy(
            """
        kind: ClusterRole
        metadata: {name: pod-reader}
        rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
        ---
        kind: RoleBinding
        metadata: {name: read-pods, namespace: team}
        roleRef: {kind: ClusterRole, name: pod-reader}
        subjects: [{kind: User, name: alice}]
        """);
    RequestAttributes inTeam = RequestAttributes.resource("get", "", "pods", "", "p", "team");
    RequestAttributes elsewhere = RequestAttributes.resource("get", "", "pods", "", "p", "other");

    RbacPolicy.Decision decision = policy.authorize("alice", List.of(), inTeam);

    assertThat(decision.allowed()).isTrue();
    assertThat(decision.reason())
        .isEqualTo(
            "RBAC: allowed by RoleBinding \"read-pods/team\" of ClusterRole \"pod-reader\" to User \"alice\"");
    assertThat(policy.authorize("alice", List.of(), elsewhere).allowed()).isFalse();
  }

  @Test
  void wildcardsSubresourcesAndResourceNamesMatchLikeRuleAllows() {
    RbacPolicy policy =
        policy(
            """
        kind: Role
        metadata: {name: r, namespace: ns}
        rules:
          - {apiGroups: ["*"], resources: ["*/log"], verbs: [get]}
          - {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create], resourceNames: [app]}
        ---
        kind: RoleBinding
        metadata: {name: b, namespace: ns}
        roleRef: {kind: Role, name: r}
        subjects: [{kind: ServiceAccount, name: ci}]
        """);
    String ci = "system:serviceaccount:ns:ci";

    assertThat(
            policy
                .authorize(
                    ci, SA_GROUPS, RequestAttributes.resource("get", "", "pods", "log", "x", "ns"))
                .allowed())
        .isTrue();
    assertThat(
            policy
                .authorize(
                    ci, SA_GROUPS, RequestAttributes.resource("get", "", "pods", "", "x", "ns"))
                .allowed())
        .isFalse();
    assertThat(
            policy
                .authorize(
                    ci,
                    SA_GROUPS,
                    RequestAttributes.resource(
                        "create", "", "serviceaccounts", "token", "app", "ns"))
                .allowed())
        .isTrue();
    assertThat(
            policy
                .authorize(
                    ci,
                    SA_GROUPS,
                    RequestAttributes.resource(
                        "create", "", "serviceaccounts", "token", "other", "ns"))
                .allowed())
        .isFalse();
    assertThat(
            policy
                .authorize(
                    "system:serviceaccount:elsewhere:ci",
                    SA_GROUPS,
                    RequestAttributes.resource("get", "", "pods", "log", "x", "ns"))
                .allowed())
        .isFalse();
  }

  @Test
  void nonResourceUrlsMatchExactlyOrByTrailingStar() throws Exception {
    RbacPolicy policy = defaultPolicy();
    List<String> authenticated = List.of("system:authenticated");

    assertThat(
            policy
                .authorize(
                    "u",
                    authenticated,
                    RequestAttributes.nonResource("get", "/apis/authentication.k8s.io/v1"))
                .allowed())
        .isTrue();
    assertThat(
            policy
                .authorize("u", authenticated, RequestAttributes.nonResource("get", "/metrics"))
                .allowed())
        .isFalse();
    assertThat(
            policy
                .authorize("u", authenticated, RequestAttributes.nonResource("post", "/api"))
                .allowed())
        .isFalse();
  }

  @Test
  void unknownKindIsRejectedWithTheKindNamed() {
    assertThatThrownBy(() -> policy("kind: Deployment\nmetadata: {name: d}\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unsupported kind \"Deployment\"");
  }

  @Test
  void clusterRoleBindingToARoleIsRejected() {
    assertThatThrownBy(
            () ->
                policy(
                    "kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: Role, name: r}\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("needs roleRef with kind ClusterRole");
  }

  @Test
  void forbiddenMessagesReadLikeTheRealServers() {
    assertThat(
            RequestAttributes.resource(
                    "create", "authentication.k8s.io", "tokenreviews", "", "", "")
                .forbiddenMessage("system:serviceaccount:public:application"))
        .isEqualTo(
            "tokenreviews.authentication.k8s.io is forbidden: User \"system:serviceaccount:public:application\""
                + " cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope");
    assertThat(
            RequestAttributes.resource("get", "", "pods", "", "web", "public")
                .forbiddenMessage("bob"))
        .isEqualTo(
            "pods \"web\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group \"\" in the"
                + " namespace \"public\"");
  }

  private static RbacPolicy defaultPolicy() throws Exception {
    try (InputStream in = KubernetesApiServer.class.getResourceAsStream("default-rbac.yaml")) {
      return RbacPolicy.load(in, "default-rbac.yaml");
    }
  }

  private static RbacPolicy policy(String yaml) {
    return RbacPolicy.load(
        new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "test.yaml");
  }
}
