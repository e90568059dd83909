package io.credbroker.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.loadtest.stack.StackSettings;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class StackOptionsTest {

  @Test
  void stormsLeaveTheProductsLimitsAsTheyAreAndTheOtherScenariosLiftThem() {
    StackOptions options = parse("--broker-property", "credbroker.limits.issuance-burst=3");

    StackSettings storm = options.settings(3, false, null);
    StackSettings issuance = options.settings();

    assertThat(storm.liftLimits()).isFalse();
    assertThat(storm.replicas()).isEqualTo(3);
    assertThat(issuance.liftLimits()).isTrue();
    assertThat(issuance.replicas()).isEqualTo(1);
    // No limit of the broker's own written down here: only what the user gave.
    assertThat(storm.brokerProperties())
        .isEqualTo(issuance.brokerProperties())
        .isEqualTo(Map.of("credbroker.limits.issuance-burst", "3"));
  }

  private static StackOptions parse(String... args) {
    StackOptions options = new StackOptions();
    new CommandLine(options).parseArgs(args);
    options.workDir = Path.of("target", "unused");
    return options;
  }
}
