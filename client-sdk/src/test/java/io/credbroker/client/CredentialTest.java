package io.credbroker.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class CredentialTest {

  private static Credential credential(String password) {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    return new Credential(
        "c1",
        "db1",
        "v-db1-app-x1",
        password,
        now,
        now.plusSeconds(60),
        now.plusSeconds(600),
        true,
        "jdbc:postgresql://db:5432/db1",
        "db",
        5432,
        "db1",
        "require");
  }

  @Test
  void toStringNeverShowsThePassword() {
    Credential credential = credential("s3cr3t-Passw0rd");

    assertThat(credential.toString())
        .doesNotContain("s3cr3t-Passw0rd")
        .contains("password=****", "username=v-db1-app-x1", "credentialId=c1");
  }

  @Test
  void renewalKeepsEverythingButTheExpiry() {
    Credential credential = credential("pw");
    Instant later = credential.expireTime().plusSeconds(300);

    Credential renewed = credential.withExpireTime(later);

    assertThat(renewed.expireTime()).isEqualTo(later);
    assertThat(renewed.withExpireTime(credential.expireTime())).isEqualTo(credential);
  }

  @Test
  void blankIdentityOrImpossiblePortIsRejected() {
    assertThatThrownBy(
            () -> new Credential(" ", "db1", "u", "pw", null, null, null, false, "", "", 0, "", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("credentialId");
    assertThatThrownBy(
            () -> new Credential("c1", "db1", "", "pw", null, null, null, false, "", "", 0, "", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("username");
    assertThatThrownBy(
            () ->
                new Credential(
                    "c1", "db1", "u", "pw", null, null, null, false, "", "", 70_000, "", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("port");
  }
}
