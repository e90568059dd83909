package io.credbroker.loadtest.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StackSettingsTest {

  @Test
  void brokerHeapIsReadWithItsUnit() {
    assertThat(settings("512m").brokerHeapBytes()).isEqualTo(512L << 20);
    assertThat(settings("2g").brokerHeapBytes()).isEqualTo(2L << 30);
    assertThat(settings("65536k").brokerHeapBytes()).isEqualTo(64L << 20);
    assertThat(settings("1048576").brokerHeapBytes()).isEqualTo(1L << 20);
  }

  @Test
  void aHeapThatIsNotAnXmxValueIsRefused() {
    assertThatThrownBy(() -> settings("512 MiB"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("broker heap must look like 512m");
  }

  @Test
  void aTtlLongerThanTheMaxTtlIsRefused() {
    assertThatThrownBy(
            () ->
                new StackSettings(
                    Path.of("w"),
                    Path.of("b.jar"),
                    "512m",
                    Duration.ofHours(2),
                    Duration.ofHours(1),
                    Duration.ofMinutes(5),
                    Duration.ofSeconds(30),
                    true,
                    Map.of(),
                    List.of(),
                    Duration.ofMinutes(1),
                    1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not exceed the max TTL");
  }

  private static StackSettings settings(String heap) {
    return new StackSettings(
        Path.of("w"),
        Path.of("b.jar"),
        heap,
        Duration.ofHours(1),
        Duration.ofHours(24),
        Duration.ofMinutes(5),
        Duration.ofSeconds(30),
        true,
        Map.of(),
        List.of(),
        Duration.ofMinutes(1),
        1);
  }
}
