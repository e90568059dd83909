package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyNamesTest {

  @Test
  void sanitizeTrimsLowercasesDeduplicatesAndSorts() {
    assertThat(PolicyNames.sanitize(List.of(" B", "a", "b", ""), false)).containsExactly("a", "b");
  }

  @Test
  void sanitizeAddsDefaultOnlyWhenAskedAndAbsent() {
    assertThat(PolicyNames.sanitize(List.of("app"), true)).containsExactly("app", "default");
    assertThat(PolicyNames.sanitize(List.of(), true)).containsExactly("default");
    assertThat(PolicyNames.sanitize(List.of("default", "app"), true))
        .containsExactly("app", "default");
    assertThat(PolicyNames.sanitize(List.of("app"), false)).containsExactly("app");
  }

  @Test
  void rootSwallowsEveryOtherPolicy() {
    assertThat(PolicyNames.sanitize(List.of("app", "ROOT", "x"), true)).containsExactly("root");
  }

  @Test
  void globMatchesLikeGoGlob() {
    assertThat(PolicyNames.glob("*", "anything")).isTrue();
    assertThat(PolicyNames.glob("db-*", "db-app")).isTrue();
    assertThat(PolicyNames.glob("db-*", "xdb-app")).isFalse();
    assertThat(PolicyNames.glob("*-read", "app-read")).isTrue();
    assertThat(PolicyNames.glob("a*c*e", "abcde")).isTrue();
    assertThat(PolicyNames.glob("a*c*e", "abcdf")).isFalse();
    assertThat(PolicyNames.glob("exact", "exact")).isTrue();
    assertThat(PolicyNames.glob("", "")).isTrue();
    assertThat(PolicyNames.containsGlob(List.of("x", "app-*"), "app-1")).isTrue();
  }

  @Test
  void goQuotedListReadsLikeFmtQ() {
    assertThat(PolicyNames.goQuoted(List.of("a", "b"))).isEqualTo("[\"a\" \"b\"]");
    assertThat(PolicyNames.goQuoted(List.of())).isEqualTo("[]");
  }
}
