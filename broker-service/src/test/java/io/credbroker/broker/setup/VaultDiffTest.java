package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.broker.setup.VaultDiff.Field;
import io.credbroker.broker.setup.VaultDiff.Kind;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VaultDiffTest {

  @Test
  void ttlWrittenAsSecondsEqualsTtlReadBackAsNumberOrString() {
    List<Field> fields = List.of(Field.required("default_ttl", Kind.SCALAR));
    assertThat(
            VaultDiff.differences(
                Map.of("default_ttl", 3600L), Map.of("default_ttl", 3600), fields))
        .isEmpty();
    assertThat(
            VaultDiff.differences(
                Map.of("default_ttl", 3600L), Map.of("default_ttl", "3600"), fields))
        .isEmpty();
    assertThat(
            VaultDiff.differences(Map.of("default_ttl", 3600L), Map.of("default_ttl", 60), fields))
        .containsExactly("default_ttl");
  }

  @Test
  void statementsCompareInOrderButBoundNamesDoNot() {
    List<Field> fields =
        List.of(
            Field.required("creation_statements", Kind.LIST), Field.required("names", Kind.SET));
    Map<String, Object> desired =
        Map.of("creation_statements", List.of("a", "b"), "names", List.of("x", "y"));
    assertThat(
            VaultDiff.differences(
                desired,
                Map.of("creation_statements", List.of("a", "b"), "names", List.of("y", "x")),
                fields))
        .isEmpty();
    assertThat(
            VaultDiff.differences(
                desired,
                Map.of("creation_statements", List.of("b", "a"), "names", List.of("x", "y")),
                fields))
        .containsExactly("creation_statements");
    assertThat(
            VaultDiff.differences(
                desired, Map.of("creation_statements", List.of("a", "b"), "names", "x, y"), fields))
        .isEmpty();
  }

  @Test
  void allowedRolesOnlyNeedToContainOurRoleSoOtherRolesSurvive() {
    List<Field> fields = List.of(Field.required("allowed_roles", Kind.SUPERSET));
    assertThat(
            VaultDiff.differences(
                Map.of("allowed_roles", List.of("db1")),
                Map.of("allowed_roles", List.of("other", "db1")),
                fields))
        .isEmpty();
    assertThat(
            VaultDiff.differences(
                Map.of("allowed_roles", List.of("db1")),
                Map.of("allowed_roles", List.of("other")),
                fields))
        .containsExactly("allowed_roles");
    assertThat(VaultDiff.union(List.of("db1"), List.of("other"))).containsExactly("other", "db1");
  }

  @Test
  void missingRequiredFieldDiffersButMissingOptionalFieldIsUnknownNotDifferent() {
    List<Field> fields =
        List.of(
            Field.required("connection_url", Kind.SCALAR),
            Field.optional("password_authentication", Kind.SCALAR));
    Map<String, Object> desired =
        Map.of("connection_url", "postgresql://x", "password_authentication", "scram-sha-256");
    assertThat(VaultDiff.differences(desired, Map.of("connection_url", "postgresql://x"), fields))
        .isEmpty();
    assertThat(
            VaultDiff.differences(
                desired, Map.of("password_authentication", "scram-sha-256"), fields))
        .containsExactly("connection_url");
    assertThat(
            VaultDiff.differences(
                desired,
                Map.of("connection_url", "postgresql://x", "password_authentication", "password"),
                fields))
        .containsExactly("password_authentication");
  }

  @Test
  void trailingNewlinesOfPemOrPolicyTextDoNotCountAsChange() {
    List<Field> fields = List.of(Field.required("kubernetes_ca_cert", Kind.SCALAR));
    assertThat(
            VaultDiff.differences(
                Map.of("kubernetes_ca_cert", "-----BEGIN CERTIFICATE-----\nx\n"),
                Map.of("kubernetes_ca_cert", "-----BEGIN CERTIFICATE-----\nx"),
                fields))
        .isEmpty();
  }
}
