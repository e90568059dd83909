package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class UsernameTemplateTest {

  private static final Clock FIXED =
      Clock.fixed(Instant.parse("2026-01-01T12:34:56.789Z"), ZoneOffset.UTC);

  private static String render(String template, String displayName, String roleName)
      throws Exception {
    return UsernameTemplate.parse(template, FIXED).generate(displayName, roleName);
  }

  @Test
  void defaultTemplateProducesVaultShapedNames() throws Exception {
    String name = render(UsernameTemplate.DEFAULT, "kubernetes-public-application", "db1");

    assertThat(name).matches("v-kubernet-db1-[0-9A-Za-z]{20}-1767270896");
    assertThat(name).hasSizeLessThanOrEqualTo(63);
  }

  @Test
  void defaultTemplateTruncatesLongRoleNamesToEightBytes() throws Exception {
    String name = render(UsernameTemplate.DEFAULT, "root", "readonly-reporting");

    assertThat(name).startsWith("v-root-readonly-");
  }

  @Test
  void twoNamesFromTheSameTemplateDifferInTheirRandomPart() throws Exception {
    UsernameTemplate template = UsernameTemplate.parse(UsernameTemplate.DEFAULT, FIXED);

    assertThat(template.generate("root", "db1")).isNotEqualTo(template.generate("root", "db1"));
  }

  @Test
  void pipesPassTheValueAsLastArgument() throws Exception {
    assertThat(render("{{ .RoleName | replace \"-\" \"_\" | uppercase }}", "x", "app-rw"))
        .isEqualTo("APP_RW");
    assertThat(render("{{ .DisplayName | lowercase | truncate 3 }}", "ROOTUSER", "r"))
        .isEqualTo("roo");
  }

  @Test
  void textAroundActionsIsKeptAndTrimMarkersEatWhitespace() throws Exception {
    assertThat(render("pre-{{.RoleName}}-post", "d", "r")).isEqualTo("pre-r-post");
    assertThat(render("a   {{- .RoleName -}}   b", "d", "r")).isEqualTo("arb");
  }

  @Test
  void truncateSha256KeepsThePrefixAndHashesTheRest() throws Exception {
    String out = render("{{ .RoleName | truncate_sha256 12 }}", "d", "abcdefghijklmnop");

    // 4 bytes kept, then the first 8 hex chars of sha256("efghijklmnop").
    assertThat(out).isEqualTo("abcdc1bd5d19");
    assertThat(render("{{ .RoleName | truncate_sha256 12 }}", "d", "short")).isEqualTo("short");
  }

  @Test
  void timeFunctionsUseTheClock() throws Exception {
    assertThat(render("{{unix_time}}", "d", "r")).isEqualTo("1767270896");
    assertThat(render("{{unix_time_millis}}", "d", "r")).isEqualTo("1767270896789");
    assertThat(render("{{ timestamp \"2006-01-02T15:04:05Z07:00\" }}", "d", "r"))
        .isEqualTo("2026-01-01T12:34:56Z");
  }

  @Test
  void printfFormatsLikeGo() throws Exception {
    assertThat(render("{{ printf \"%s-%d-%05d\" .RoleName 7 42 }}", "d", "r"))
        .isEqualTo("r-7-00042");
    assertThat(render("{{ printf \"%s-%s\" .RoleName }}", "d", "r")).isEqualTo("r-%!s(MISSING)");
    assertThat(render("{{ printf \"%d\" .RoleName }}", "d", "r")).isEqualTo("%!d(string=r)");
  }

  @Test
  void uuidAndBase64AndSha256Work() throws Exception {
    assertThat(render("{{uuid}}", "d", "r"))
        .matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    assertThat(render("{{ .RoleName | base64 }}", "d", "db1")).isEqualTo("ZGIx");
    assertThat(render("{{ .RoleName | sha256 }}", "d", "abc"))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }

  @Test
  void unknownFunctionIsAParseError() {
    assertThatThrownBy(() -> UsernameTemplate.parse("{{ nope 3 }}"))
        .isInstanceOf(UsernameTemplate.TemplateException.class)
        .hasMessage("template: template:1: function \"nope\" not defined");
  }

  @Test
  void unclosedActionIsAParseError() {
    assertThatThrownBy(() -> UsernameTemplate.parse("{{ .RoleName "))
        .isInstanceOf(UsernameTemplate.TemplateException.class)
        .hasMessageContaining("unclosed action");
  }

  @Test
  void unknownFieldFailsWhenRendered() throws Exception {
    UsernameTemplate template = UsernameTemplate.parse("{{ .Nope }}");

    assertThatThrownBy(() -> template.generate("d", "r"))
        .hasMessageContaining("can't evaluate field Nope in type dbplugin.UsernameMetadata");
  }

  @Test
  void truncateToZeroFailsLikeVault() throws Exception {
    UsernameTemplate template = UsernameTemplate.parse("{{ .RoleName | truncate 0 }}");

    assertThatThrownBy(() -> template.generate("d", "r"))
        .hasMessageContaining("error calling truncate: max length must be > 0 but was 0");
  }

  @Test
  void wrongArgumentTypeFails() throws Exception {
    UsernameTemplate template = UsernameTemplate.parse("{{ .RoleName | truncate \"8\" }}");

    assertThatThrownBy(() -> template.generate("d", "r"))
        .hasMessageContaining("wrong type for value; expected int; got string");
  }

  @Test
  void emptyTemplateIsRefused() {
    assertThatThrownBy(() -> UsernameTemplate.parse("")).hasMessage("missing template");
  }

  @Test
  void controlStructuresAreRefusedAtParseTime() {
    assertThatThrownBy(() -> UsernameTemplate.parse("{{ if .RoleName }}x{{ end }}"))
        .isInstanceOf(UsernameTemplate.TemplateException.class);
  }
}
