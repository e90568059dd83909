package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class PasswordsTest {

  @RepeatedTest(50)
  void defaultPasswordsFollowVaultsDefaultRules() {
    String password = Passwords.generate();

    assertThat(password).hasSize(20).matches("[a-zA-Z0-9-]+");
    assertThat(password)
        .matches(".*[a-z].*")
        .matches(".*[A-Z].*")
        .matches(".*[0-9].*")
        .contains("-");
  }

  @Test
  void passwordsAreNotRepeated() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      seen.add(Passwords.generate());
    }
    assertThat(seen).hasSize(1000);
  }

  @Test
  void scramVerifierHasPostgresFormatAndDependsOnTheSalt() {
    byte[] salt = new byte[16];
    String verifier = Passwords.scramSha256Verifier("secret", salt);

    assertThat(verifier)
        .matches("SCRAM-SHA-256\\$4096:[A-Za-z0-9+/=]{24}\\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}");
    assertThat(verifier).isEqualTo(Passwords.scramSha256Verifier("secret", salt));
    assertThat(Passwords.scramSha256Verifier("secret")).isNotEqualTo(verifier);
    assertThat(verifier).doesNotContain("secret");
  }
}
