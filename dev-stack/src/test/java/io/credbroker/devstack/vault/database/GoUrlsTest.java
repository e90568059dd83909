package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GoUrlsTest {

  @Test
  void literalPasswordIsFoundAndRedacted() {
    String url = "postgresql://admin:hunter2@db:5432/app?sslmode=disable";

    assertThat(GoUrls.hasPassword(url)).isTrue();
    assertThat(GoUrls.redacted(url))
        .isEqualTo("postgresql://admin:xxxxx@db:5432/app?sslmode=disable");
  }

  @Test
  void templatedUrlIsLeftAlone() {
    String url = "postgresql://{{username}}:{{password}}@db:5432/app";

    assertThat(GoUrls.hasPassword(url)).isFalse();
    assertThat(GoUrls.redacted(url)).isEqualTo(url);
  }

  @Test
  void urlWithoutPasswordHasNothingToRedact() {
    assertThat(GoUrls.hasPassword("postgresql://admin@db/app")).isFalse();
    assertThat(GoUrls.hasPassword("host=db user=admin")).isFalse();
  }
}
