package io.credbroker.broker.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class StateDatabaseClockTest {

  private static final Instant HOST = Instant.parse("2026-12-03T05:00:00Z");

  private final StateDatabaseClock clock =
      new StateDatabaseClock(Clock.fixed(HOST, ZoneOffset.UTC));

  @Test
  void readsTheDatabasesTimeFromTheMidpointOfTheRoundTrip() {
    // The host is 4 s ahead: the database read 04:59:56.050 halfway through a 100 ms round trip.
    boolean corrected =
        clock.observe(
            HOST, Instant.parse("2026-12-03T04:59:56.050Z"), HOST.plus(Duration.ofMillis(100)));

    assertThat(corrected).isTrue();
    assertThat(clock.offset()).isEqualTo(Duration.ofSeconds(-4));
    assertThat(clock.instant()).isEqualTo(Instant.parse("2026-12-03T04:59:56Z"));
    assertThat(clock.millis()).isEqualTo(clock.instant().toEpochMilli());
  }

  @Test
  void aSlowRoundTripLeavesTheLastCorrection() {
    clock.observe(HOST, HOST.plusSeconds(2), HOST);

    boolean corrected =
        clock.observe(
            HOST, HOST.minusSeconds(9), HOST.plus(StateDatabaseClock.MAX_ROUND_TRIP).plusMillis(2));

    assertThat(corrected).isFalse();
    assertThat(clock.offset()).isEqualTo(Duration.ofSeconds(2));
    assertThat(clock.observe(HOST, HOST, HOST.minusMillis(1))).as("time ran backwards").isFalse();
  }

  @Test
  void isUtcOnly() {
    assertThat(clock.getZone()).isEqualTo(ZoneOffset.UTC);
    assertThat(clock.withZone(ZoneOffset.UTC)).isSameAs(clock);
    assertThatThrownBy(() -> clock.withZone(ZoneId.of("Europe/Paris")))
        .isInstanceOf(UnsupportedOperationException.class);
  }
}
