package io.credbroker.broker.setup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class DynamicRoleStatementsTest {

  /** Vault's rule: an element runs whole only if the word END appears outside single quotes. */
  private static boolean vaultRunsWhole(String statement) {
    String[] parts = statement.split("'", -1);
    for (int i = 0; i < parts.length; i += 2) {
      if (Pattern.compile("(?i)\\bEND\\b").matcher(parts[i]).find()) {
        return true;
      }
    }
    return false;
  }

  @Test
  void creationSplitsIntoCreateRoleAndGroupGrantWithoutPerRoleObjectGrants() {
    List<String> creation = DynamicRoleStatements.creation("db1_grp");
    assertThat(creation).hasSize(1);
    assertThat(vaultRunsWhole(creation.get(0))).isFalse();
    List<String> pieces =
        Arrays.stream(creation.get(0).split(";"))
            .map(String::strip)
            .filter(s -> !s.isEmpty())
            .toList();
    assertThat(pieces)
        .containsExactly(
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'",
            "GRANT \"db1_grp\" TO \"{{name}}\"");
    assertThat(creation.get(0)).doesNotContainIgnoringCase(" ON ");
  }

  @Test
  void revocationIsOneBlockVaultRunsWholeThatDropsTheRoleAfterHandingObjectsToTheGroup() {
    List<String> revocation = DynamicRoleStatements.revocation("db1_grp");
    assertThat(revocation).hasSize(1);
    String block = revocation.get(0);
    assertThat(block.chars().filter(c -> c == '\'').count() % 2).as("balanced quotes").isZero();
    assertThat(vaultRunsWhole(block)).isTrue();
    assertThat(block)
        .contains("'{{name}}'", "'db1_grp'")
        .containsSubsequence(
            "NOLOGIN",
            "pg_terminate_backend",
            "undropped_role",
            "BEGIN",
            "REASSIGN OWNED BY",
            "DROP OWNED BY",
            "DROP ROLE",
            "EXCEPTION WHEN OTHERS");
  }

  @Test
  void groupNameThatCouldBreakOutOfTheStatementIsRefused() {
    assertThatThrownBy(() -> DynamicRoleStatements.creation("g\"; DROP DATABASE x; --"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a valid name");
    assertThatThrownBy(() -> DynamicRoleStatements.revocation("g'x"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ownershipFunctionNamesTheGroupAsLiteralAndTriggerCoversEveryCreatingCommand() {
    assertThat(TargetDatabaseSetup.ownershipFunctionBody("db1_grp"))
        .contains("target_group constant name := 'db1_grp';")
        .doesNotContain("{{group}}");
    assertThat(TargetDatabaseSetup.createEventTrigger())
        .contains(
            "ON ddl_command_end",
            "'CREATE TABLE'",
            "'CREATE SEQUENCE'",
            "'CREATE FUNCTION'",
            "'CREATE PROCEDURE'",
            "'CREATE VIEW'",
            "'CREATE MATERIALIZED VIEW'",
            "'CREATE TYPE'",
            "'CREATE SCHEMA'")
        .doesNotContain("ALTER");
  }
}
