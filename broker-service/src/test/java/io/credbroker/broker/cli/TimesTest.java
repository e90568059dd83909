package io.credbroker.broker.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class TimesTest {

  private final Clock clock = Clock.fixed(Instant.parse("2026-12-02T03:00:00Z"), ZoneOffset.UTC);

  @Test
  void aDurationMeansThatLongBeforeNow() {
    assertThat(Times.parse("90m", "--since", clock)).isEqualTo("2026-12-02T01:30:00Z");
    assertThat(Times.parse("2d", "--since", clock)).isEqualTo("2026-11-30T03:00:00Z");
  }

  @Test
  void anRfc3339TimeIsSentInUtc() {
    assertThat(Times.parse("2026-12-02T04:00:00+01:00", "--until", clock))
        .isEqualTo("2026-12-02T03:00:00Z");
    assertThat(Times.parse(null, "--until", clock)).isNull();
  }

  @Test
  void anythingElseIsRefusedNamingTheOption() {
    assertThatThrownBy(() -> Times.parse("yesterday", "--since", clock))
        .isInstanceOf(CliException.class)
        .hasMessageContaining("--since");
  }
}
