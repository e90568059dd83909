package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TtlCalculatorTest {

  private final Instant issued = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void incrementWithinMaxIsGrantedWithoutWarning() {
    var r =
        TtlCalculator.renew(
            Duration.ofMinutes(10),
            Duration.ofHours(1),
            Duration.ofHours(24),
            issued,
            issued.plusSeconds(60));
    assertThat(r.ttl()).isEqualTo(Duration.ofMinutes(10));
    assertThat(r.warning()).isNull();
  }

  @Test
  void zeroIncrementMeansTheDefault() {
    var r =
        TtlCalculator.renew(
            Duration.ZERO, Duration.ofHours(1), Duration.ofHours(24), issued, issued);
    assertThat(r.ttl()).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void renewalBeyondMaxIsCappedFromIssueTimeWithWarning() {
    // max 1h from issue, 47m29s already gone: 12m31s remain.
    Instant now = issued.plusSeconds(3600 - 751);
    var r =
        TtlCalculator.renew(
            Duration.ofHours(1), Duration.ofHours(1), Duration.ofHours(1), issued, now);
    assertThat(r.ttl()).isEqualTo(Duration.ofSeconds(751));
    assertThat(r.warning())
        .isEqualTo(
            "TTL of \"1h\" exceeded the effective max_ttl of \"12m31s\"; TTL value is capped accordingly");
  }

  @Test
  void whatRemainsOfTheMaxIsCountedBetweenWholeSecondsAsVaultDoes() {
    // Issued at .1 s, renewed at 40.9 s with a 100 s max: Vault truncates both times first and
    // grants 60 s; subtracting the exact times would leave 59.2 s, one second short.
    Instant issuedLate = issued.plusMillis(100);
    var r =
        TtlCalculator.renew(
            Duration.ofHours(1),
            Duration.ofHours(1),
            Duration.ofSeconds(100),
            issuedLate,
            issued.plusMillis(40_900));
    assertThat(r.ttl()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void renewalPastMaxIsRefused() {
    assertThatThrownBy(
            () ->
                TtlCalculator.renew(
                    Duration.ofHours(1),
                    Duration.ofHours(1),
                    Duration.ofHours(1),
                    issued,
                    issued.plusSeconds(3600)))
        .isInstanceOfSatisfying(VaultException.class, e -> assertThat(e.status()).isEqualTo(400));
  }

  private static final Duration SYSTEM = Duration.ofHours(768);

  @Test
  void calculateGrantsTheRequestedTtlWithinTheMounts() {
    var c =
        TtlCalculator.calculate(
            SYSTEM,
            SYSTEM,
            Duration.ZERO,
            Duration.ofMinutes(10),
            Duration.ZERO,
            Duration.ZERO,
            Duration.ZERO,
            issued,
            issued);
    assertThat(c.ttl()).isEqualTo(Duration.ofMinutes(10));
    assertThat(c.warnings()).isEmpty();
  }

  @Test
  void calculateFallsBackToTheMountDefault() {
    var c =
        TtlCalculator.calculate(
            Duration.ofHours(1),
            SYSTEM,
            Duration.ZERO,
            Duration.ZERO,
            Duration.ZERO,
            Duration.ZERO,
            Duration.ZERO,
            issued,
            issued);
    assertThat(c.ttl()).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void calculateCapsAtTheExplicitMaxWithVaultsWarning() {
    var c =
        TtlCalculator.calculate(
            SYSTEM,
            SYSTEM,
            Duration.ZERO,
            Duration.ofHours(2),
            Duration.ZERO,
            Duration.ZERO,
            Duration.ofMinutes(30),
            issued,
            issued);
    assertThat(c.ttl()).isEqualTo(Duration.ofMinutes(30));
    assertThat(c.warnings())
        .containsExactly(
            "TTL of \"2h\" exceeded the effective max_ttl of \"30m\"; TTL value is capped accordingly");
  }

  @Test
  void calculateCapsAtTheMountMax() {
    var c =
        TtlCalculator.calculate(
            SYSTEM,
            SYSTEM,
            Duration.ZERO,
            Duration.ofHours(800),
            Duration.ZERO,
            Duration.ZERO,
            Duration.ZERO,
            issued,
            issued);
    assertThat(c.ttl()).isEqualTo(SYSTEM);
    assertThat(c.warnings())
        .containsExactly(
            "TTL of \"800h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly");
  }

  @Test
  void calculateCountsTheMaxFromTheStartInWholeSeconds() {
    // Issued at 0.9 s, renewed at 11.4 s: Vault truncates both to 0 s and 11 s, so 19 s remain of
    // 30.
    Instant start = issued.plusMillis(900);
    var c =
        TtlCalculator.calculate(
            SYSTEM,
            SYSTEM,
            Duration.ofHours(1),
            Duration.ZERO,
            Duration.ZERO,
            Duration.ZERO,
            Duration.ofSeconds(30),
            start,
            start.plusMillis(10_500));
    assertThat(c.ttl()).isEqualTo(Duration.ofSeconds(19));
  }

  @Test
  void periodicTtlIsThePeriodCappedAtTheMaxAndBoundOnlyByTheExplicitMax() {
    var capped =
        TtlCalculator.calculate(
            SYSTEM,
            Duration.ofHours(1),
            Duration.ZERO,
            Duration.ZERO,
            Duration.ofHours(2),
            Duration.ZERO,
            Duration.ZERO,
            issued,
            issued.plus(Duration.ofDays(100)));
    assertThat(capped.ttl()).isEqualTo(Duration.ofHours(1));
    assertThat(capped.warnings())
        .containsExactly(
            "period of \"2h\" exceeded the effective max_ttl of \"1h\"; period value is capped accordingly");
    var bounded =
        TtlCalculator.calculate(
            SYSTEM,
            SYSTEM,
            Duration.ZERO,
            Duration.ZERO,
            Duration.ofHours(1),
            Duration.ZERO,
            Duration.ofMinutes(90),
            issued,
            issued.plus(Duration.ofMinutes(60)));
    assertThat(bounded.ttl()).isEqualTo(Duration.ofMinutes(30));
  }

  @Test
  void calculatePastTheMaxIsVaultsInternalError() {
    assertThatThrownBy(
            () ->
                TtlCalculator.calculate(
                    SYSTEM,
                    SYSTEM,
                    Duration.ZERO,
                    Duration.ZERO,
                    Duration.ZERO,
                    Duration.ZERO,
                    Duration.ofSeconds(30),
                    issued,
                    issued.plusSeconds(30)))
        .isInstanceOfSatisfying(
            VaultException.class,
            e -> {
              assertThat(e.status()).isEqualTo(500);
              assertThat(e.errors())
                  .containsExactly(VaultException.multiError("past the max TTL, cannot renew"));
            });
  }
}
