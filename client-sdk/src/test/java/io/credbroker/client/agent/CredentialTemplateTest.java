package io.credbroker.client.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.client.Credential;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CredentialTemplateTest {

  static Credential credential(
      String username, String password, String host, int port, String database) {
    return new Credential(
        "0b6f1c1e-1111-4c3a-9d7e-2a1b3c4d5e6f",
        "db1",
        username,
        password,
        Instant.parse("2026-12-02T10:00:00Z"),
        Instant.parse("2026-12-02T11:00:00Z"),
        Instant.parse("2026-12-03T10:00:00Z"),
        true,
        "jdbc:postgresql://" + host + ":" + port + "/" + database,
        host,
        port,
        database,
        "require");
  }

  private static final Credential PLAIN =
      credential("v-db1-abc", "s3cret", "db.internal", 5432, "orders");

  @Test
  void placeholdersNameFieldsAndEscapingsWithOptionalSpaces() {
    CredentialTemplate template =
        CredentialTemplate.parse(
            "user={{username}} pass={{ password | json }} port={{port}} until={{max_expire_time}}\n");

    assertThat(template.render(PLAIN))
        .isEqualTo("user=v-db1-abc pass=s3cret port=5432 until=2026-12-03T10:00:00Z\n");
  }

  @Test
  void unknownFieldFailsAtParseTimeNamingTheLine() {
    assertThatThrownBy(() -> CredentialTemplate.parse("a\nb {{ pasword }}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 2")
        .hasMessageContaining("unknown field 'pasword'");
  }

  @Test
  void unknownEscapingAndUnclosedPlaceholderFailAtParseTime() {
    assertThatThrownBy(() -> CredentialTemplate.parse("{{ password | yaml }}"))
        .hasMessageContaining("unknown escaping 'yaml'");
    assertThatThrownBy(() -> CredentialTemplate.parse("x\n\n{{ password "))
        .hasMessageContaining("unclosed {{ on line 3");
  }

  @Test
  void textWithoutPlaceholdersIsKeptAsIs() {
    assertThat(CredentialTemplate.parse("no secrets } here {").render(PLAIN))
        .isEqualTo("no secrets } here {");
  }

  @Test
  void pgpassLineEscapesColonsAndBackslashesAndUsesAStarForAMissingHint() {
    Credential credential = credential("v-db1", "pa:ss\\wd", "", 0, "orders");

    assertThat(FileFormat.PGPASS.template().render(credential))
        .isEqualTo("*:*:orders:v-db1:pa\\:ss\\\\wd\n");
  }

  @Test
  void pgpassRefusesALineBreakInsteadOfWritingASecondLine() {
    Credential credential = credential("v-db1", "pass\nword", "h", 5432, "orders");

    assertThatThrownBy(() -> FileFormat.PGPASS.template().render(credential))
        .hasMessageContaining("field password")
        .hasMessageContaining("line break")
        .hasMessageNotContaining("pass\nword");
  }

  @Test
  void envRefusesALineBreakThatADotenvReaderWouldTakeForAnotherVariable() {
    Credential credential = credential("v-db1", "pw'\nPGHOST=evil.example\n#", "h", 5432, "orders");

    assertThatThrownBy(() -> FileFormat.ENV.template().render(credential))
        .hasMessageContaining("line break")
        .hasMessageNotContaining("evil.example");
  }

  @Test
  void pgpassWritesALiteralStarEscapedSoItIsNotAWildcard() {
    assertThat(Escaping.PGPASS.apply("*")).isEqualTo("\\*");
    assertThat(Escaping.PGPASS.apply("a*b")).isEqualTo("a*b");
  }

  @Test
  void envFileSingleQuotesValuesForShAndEncodesTheUrl() {
    Credential credential =
        credential("v-db1", "it's $HOME `x` \"q\"", "db.internal", 5432, "orders");

    String env = FileFormat.ENV.template().render(credential);

    assertThat(env).contains("PGPASSWORD='it'\\''s $HOME `x` \"q\"'\n");
    assertThat(env).contains("PGUSER='v-db1'\n");
    assertThat(env).contains("PGPORT='5432'\n");
    assertThat(env)
        .contains(
            "DATABASE_URL='postgresql://v-db1:it%27s%20%24HOME%20%60x%60%20%22q%22@db.internal:5432/orders?sslmode=require'");
  }

  @Test
  void jsonEscapesQuotesBackslashesAndControlCharactersAndWritesThePortAsANumber() {
    Credential credential =
        credential("v-db1", "a\"b\\c\nd\te\u0001", "db.internal", 5432, "orders");

    String json = FileFormat.JSON.template().render(credential);

    assertThat(json).contains("\"password\": \"a\\\"b\\\\c\\nd\\te\\u0001\"");
    assertThat(json).contains("\"port\": 5432,");
    assertThat(json).contains("\"credential_id\": \"0b6f1c1e-1111-4c3a-9d7e-2a1b3c4d5e6f\"");
  }

  @Test
  void jsonWritesAnUnknownPortAsNull() {
    assertThat(FileFormat.JSON.template().render(credential("u", "p", "h", 0, "d")))
        .contains("\"port\": null,");
  }

  @Test
  void conninfoQuotesOnlyValuesThatNeedItAndEscapesQuotesAndBackslashes() {
    Credential credential = credential("v-db1", "it's a \\secret", "db.internal", 5432, "orders");

    assertThat(FileFormat.CONNINFO.template().render(credential))
        .isEqualTo(
            "host=db.internal port=5432 dbname=orders user=v-db1 password='it\\'s a \\\\secret' sslmode=require\n");
    assertThat(Escaping.CONNINFO.apply("")).isEqualTo("''");
  }

  @Test
  void urlEscapingPercentEncodesReservedCharacters() {
    assertThat(Escaping.URL.apply("p@ss/w:rd?#% +")).isEqualTo("p%40ss%2Fw%3Ard%3F%23%25%20%2B");
  }
}
