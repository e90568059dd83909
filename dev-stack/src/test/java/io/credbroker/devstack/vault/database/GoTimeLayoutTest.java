package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.ZoneId;
import java.time.ZonedDateTime;
import org.junit.jupiter.api.Test;

class GoTimeLayoutTest {

  private static final ZonedDateTime T =
      ZonedDateTime.of(2026, 3, 7, 15, 4, 5, 123_000_000, ZoneId.of("UTC"));

  @Test
  void referenceElementsAreReplaced() {
    assertThat(GoTimeLayout.format(T, "2006-01-02 15:04:05")).isEqualTo("2026-03-07 15:04:05");
    assertThat(GoTimeLayout.format(T, "Jan _2 3:4:5 PM MST")).isEqualTo("Mar  7 3:4:5 PM UTC");
    assertThat(GoTimeLayout.format(T, "Monday January 2 06")).isEqualTo("Saturday March 7 26");
    assertThat(GoTimeLayout.format(T, "20060102150405.000")).isEqualTo("20260307150405.123");
    assertThat(GoTimeLayout.format(T, "15:04:05.999999")).isEqualTo("15:04:05.123");
    assertThat(GoTimeLayout.format(T, "Z07:00 -07:00 -0700")).isEqualTo("Z +00:00 +0000");
  }

  @Test
  void offsetsFollowTheZone() {
    ZonedDateTime berlin = T.withZoneSameInstant(ZoneId.of("Europe/Berlin"));

    assertThat(GoTimeLayout.format(berlin, GoTimeLayout.EXPIRATION))
        .isEqualTo("2026-03-07 16:04:05+0100");
    assertThat(GoTimeLayout.format(berlin, "MST")).isEqualTo("CET");
  }

  @Test
  void literalTextIsKept() {
    assertThat(GoTimeLayout.format(T, "day of x")).isEqualTo("day of x");
  }
}
