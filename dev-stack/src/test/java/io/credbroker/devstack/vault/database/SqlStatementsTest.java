package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SqlStatementsTest {

  @Test
  void elementsAreSplitNaivelyOnSemicolons() {
    List<String> queries =
        SqlStatements.queries(
            List.of(
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';"
                    + " GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";  ;"),
            true);

    assertThat(queries)
        .containsExactly(
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\"");
  }

  @Test
  void splittingIgnoresQuotesLikeThePlugin() {
    assertThat(SqlStatements.queries(List.of("COMMENT ON ROLE x IS 'a;b'"), true))
        .containsExactly("COMMENT ON ROLE x IS 'a", "b'");
  }

  @Test
  void aDoBlockWithEndRunsWholeForCreation() {
    String block = "DO $$ BEGIN CREATE ROLE \"{{name}}\"; GRANT x TO \"{{name}}\"; END $$;";

    assertThat(SqlStatements.queries(List.of(block), true)).containsExactly(block);
  }

  @Test
  void renewalStatementsAreAlwaysSplitEvenWithEnd() {
    String block = "DO $$ BEGIN SELECT 1; END $$";

    assertThat(SqlStatements.queries(List.of(block), false)).hasSize(2);
  }

  @Test
  void endInsideQuotesDoesNotCountAsABlock() {
    assertThat(SqlStatements.containsMultilineStatement("SELECT 'END'; SELECT 2")).isFalse();
    assertThat(SqlStatements.containsMultilineStatement("SELECT \"END\"")).isFalse();
    assertThat(SqlStatements.containsMultilineStatement("APPEND; SENDER")).isFalse();
    assertThat(SqlStatements.containsMultilineStatement("BEGIN x; END")).isTrue();
  }

  @Test
  void base64ElementsAreDecodedFirst() {
    String sql = "CREATE ROLE \"{{name}}\"; GRANT r TO \"{{name}}\";";
    String encoded = Base64.getEncoder().encodeToString(sql.getBytes(StandardCharsets.UTF_8));

    assertThat(SqlStatements.queries(List.of(encoded), true))
        .containsExactly("CREATE ROLE \"{{name}}\"", "GRANT r TO \"{{name}}\"");
  }

  @Test
  void jsonArrayElementsAreQueriesAsWritten() {
    assertThat(SqlStatements.queries(List.of("[\"SELECT 1; SELECT 2\", \" SELECT 3 \"]"), true))
        .containsExactly("SELECT 1; SELECT 2", "SELECT 3");
  }

  @Test
  void placeholdersAreReplacedWithoutEscaping() {
    assertThat(
            SqlStatements.substitute(
                "CREATE ROLE \"{{name}}\" PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'",
                Map.of("name", "v-a", "password", "p'w", "expiration", "2026-01-01 00:00:00+0000")))
        .isEqualTo("CREATE ROLE \"v-a\" PASSWORD 'p'w' VALID UNTIL '2026-01-01 00:00:00+0000'");
  }

  @Test
  void expirationUsesTheGoLayoutWithNumericOffset() {
    assertThat(
            GoTimeLayout.format(
                Instant.parse("2026-01-01T13:00:05Z").atZone(ZoneOffset.UTC),
                GoTimeLayout.EXPIRATION))
        .isEqualTo("2026-01-01 13:00:05+0000");
    assertThat(
            GoTimeLayout.format(
                Instant.parse("2026-01-01T13:00:05Z").atZone(ZoneOffset.ofHoursMinutes(-5, -30)),
                GoTimeLayout.EXPIRATION))
        .isEqualTo("2026-01-01 07:30:05-0530");
  }

  @Test
  void emptyElementsYieldNoQueries() {
    assertThat(SqlStatements.queries(List.of("", "  ;  ; "), true)).isEmpty();
  }
}
