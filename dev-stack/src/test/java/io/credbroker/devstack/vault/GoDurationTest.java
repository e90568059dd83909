package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class GoDurationTest {

  @Test
  void parsesSecondsNumbersNumericStringsAndGoDurations() {
    assertThat(GoDuration.parse(IntNode.valueOf(3600), Duration.ZERO))
        .isEqualTo(Duration.ofHours(1));
    assertThat(GoDuration.parse(TextNode.valueOf("3600"), Duration.ZERO))
        .isEqualTo(Duration.ofHours(1));
    assertThat(GoDuration.parse("1h")).isEqualTo(Duration.ofHours(1));
    assertThat(GoDuration.parse("1h30m10s")).isEqualTo(Duration.ofSeconds(5410));
    assertThat(GoDuration.parse("1.5h")).isEqualTo(Duration.ofMinutes(90));
    assertThat(GoDuration.parse("2d")).isEqualTo(Duration.ofHours(48));
    assertThat(GoDuration.parse("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(GoDuration.parse("")).isEqualTo(Duration.ZERO);
  }

  @Test
  void missingFieldFallsBack() {
    assertThat(GoDuration.parse(null, Duration.ofSeconds(7))).isEqualTo(Duration.ofSeconds(7));
  }

  @Test
  void garbageIsABadRequest() {
    assertThatThrownBy(() -> GoDuration.parse("soon"))
        .isInstanceOfSatisfying(
            VaultException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.errors()).containsExactly("time: invalid duration \"soon\"");
            });
    assertThatThrownBy(() -> GoDuration.parse("1h garbage")).isInstanceOf(VaultException.class);
  }

  @Test
  void formatsLikeGoWithoutZeroUnits() {
    assertThat(GoDuration.format(Duration.ofHours(1))).isEqualTo("1h");
    assertThat(GoDuration.format(Duration.ofSeconds(751))).isEqualTo("12m31s");
    assertThat(GoDuration.format(Duration.ofSeconds(3598))).isEqualTo("59m58s");
    assertThat(GoDuration.format(Duration.ofHours(768))).isEqualTo("768h");
    assertThat(GoDuration.format(Duration.ofSeconds(3601))).isEqualTo("1h1s");
    assertThat(GoDuration.format(Duration.ZERO)).isEqualTo("0s");
  }

  @Test
  void cappedWarningHasVaultsWording() {
    assertThat(GoDuration.cappedWarning(Duration.ofHours(1), Duration.ofSeconds(751)))
        .isEqualTo(
            "TTL of \"1h\" exceeded the effective max_ttl of \"12m31s\"; TTL value is capped accordingly");
  }
}
