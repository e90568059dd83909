package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.credbroker.devstack.DevStack;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token store through hvac, the Python Vault client (Debian's python3-hvac 0.11.2 for {@code
 * /usr/bin/python3}): token roles, creation against a role, the accessor list, lookup and
 * revocation by accessor. The script ({@code hvac/hvac_token_store.py}) asserts on every answer and
 * prints one line per check. Skipped where hvac is not installed; {@code .ci/run} installs it.
 */
class HvacIT {

  private static final String PYTHON = "/usr/bin/python3";

  @TempDir static Path workDir;
  static DevStack stack;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(
        hvacInstalled(),
        "hvac is not importable by " + PYTHON + "; install it with: apt-get install python3-hvac");
    stack = DevStack.builder().workDir(workDir).start();
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  private static boolean hvacInstalled() throws InterruptedException {
    try {
      Process p = new ProcessBuilder(PYTHON, "-c", "import hvac").redirectErrorStream(true).start();
      p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void hvacManagesTokenRolesAndAccessorsUnchanged() throws Exception {
    ProcessBuilder pb = new ProcessBuilder(PYTHON, script().toString()).redirectErrorStream(true);
    Map<String, String> env = pb.environment();
    // The system interpreter with its own packages only: no virtualenv or pyenv settings.
    env.keySet().removeIf(k -> k.startsWith("PYTHON") || k.equals("VIRTUAL_ENV"));
    env.put("VAULT_ADDR", stack.vaultAddress());
    env.put("VAULT_TOKEN", stack.vaultRootToken());
    Process p = pb.start();
    String output;
    try (var in = p.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    System.out.print(output);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("hvac script finished").isTrue();
    assertThat(p.exitValue()).as(output).isZero();
    assertThat(output)
        .contains("ok: sys.is_sealed")
        .contains("ok: create(role_name) token is an orphan")
        .contains("ok: list_accessors names the new token's accessor")
        .contains("ok: lookup_accessor hides the token id")
        .contains("ok: revoke_accessor answers 204")
        .contains("hvac-token-store: all checks passed");
  }

  private static Path script() throws URISyntaxException {
    return Path.of(
        Objects.requireNonNull(
                HvacIT.class.getResource("/hvac/hvac_token_store.py"),
                "hvac/hvac_token_store.py on the test classpath")
            .toURI());
  }
}
