package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class GoDurationsTest {

  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  @Test
  void acceptsGoDurationsSecondsAndDays() throws Exception {
    assertThat(GoDurations.parseSeconds(JSON.textNode("1h"))).isEqualTo(Duration.ofHours(1));
    assertThat(GoDurations.parseSeconds(JSON.textNode("90s"))).isEqualTo(Duration.ofSeconds(90));
    assertThat(GoDurations.parseSeconds(JSON.textNode("1h30m"))).isEqualTo(Duration.ofMinutes(90));
    assertThat(GoDurations.parseSeconds(JSON.textNode("1.5h"))).isEqualTo(Duration.ofMinutes(90));
    assertThat(GoDurations.parseSeconds(JSON.textNode("3600"))).isEqualTo(Duration.ofHours(1));
    assertThat(GoDurations.parseSeconds(JSON.numberNode(3600))).isEqualTo(Duration.ofHours(1));
    assertThat(GoDurations.parseSeconds(JSON.textNode("2d"))).isEqualTo(Duration.ofDays(2));
    assertThat(GoDurations.parseSeconds(JSON.textNode("500ms"))).isEqualTo(Duration.ofMillis(500));
  }

  @Test
  void missingOrEmptyMeansZero() throws Exception {
    assertThat(GoDurations.parseSeconds((com.fasterxml.jackson.databind.JsonNode) null)).isZero();
    assertThat(GoDurations.parseSeconds(JSON.textNode(""))).isZero();
    assertThat(GoDurations.parseSeconds(JSON.textNode("0"))).isZero();
  }

  @Test
  void rejectsWhatGoRejects() {
    assertThatThrownBy(() -> GoDurations.parseSeconds(JSON.textNode("1x")))
        .hasMessage("time: unknown unit \"x\" in duration \"1x\"");
    assertThatThrownBy(() -> GoDurations.parseGo("1h30"))
        .hasMessage("time: missing unit in duration \"1h30\"");
    assertThatThrownBy(() -> GoDurations.parseSeconds(JSON.textNode("abc")))
        .hasMessage("time: invalid duration \"abc\"");
    assertThatThrownBy(() -> GoDurations.parseSeconds(JSON.arrayNode()))
        .isInstanceOf(GoDurations.InvalidDurationException.class);
  }
}
