package io.credbroker.loadtest.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ClassHistogramTest {

  private static final String BEFORE =
      """
      12345:
       num     #instances         #bytes  class name (module)
      -------------------------------------------------------
         1:         10000         800000  [B (java.base@17.0.15)
         2:          5000         120000  java.lang.String (java.base@17.0.15)
         3:            10            480  java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask (java.base@17.0.15)
      Total         15010         920480
      """;

  private static final String AFTER =
      """
      12345:
       num     #instances         #bytes  class name (module)
      -------------------------------------------------------
         1:         12000        1000000  [B (java.base@17.0.15)
         2:          6000         144000  java.lang.String (java.base@17.0.15)
         3:            10            480  java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask (java.base@17.0.15)
         4:          2000          64000  io.credbroker.broker.grpc.WatchStream
         5:             1             16  io.credbroker.broker.grpc.WatchStream
      Total         20011        1208496
      """;

  @Test
  void readsTheTotalAndEveryClassMergingClassesOfSeveralLoaders() {
    ClassHistogram h = ClassHistogram.parse(AFTER);

    assertThat(h.totalBytes()).isEqualTo(1_208_496);
    assertThat(h.totalInstances()).isEqualTo(20_011);
    assertThat(h.instancesOf("io.credbroker.broker.grpc.WatchStream")).isEqualTo(2001);
    assertThat(
            h.instancesOf("java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask"))
        .isEqualTo(10);
    assertThat(h.instancesOf("absent.Class")).isZero();
  }

  @Test
  void growthIsListedLargestFirst() {
    ClassHistogram before = ClassHistogram.parse(BEFORE);
    ClassHistogram after = ClassHistogram.parse(AFTER);

    assertThat(after.largestGrowthSince(before, 3))
        .containsExactly(
            new ClassHistogram.Delta("[B", 2000, 200_000),
            new ClassHistogram.Delta("io.credbroker.broker.grpc.WatchStream", 2001, 64_016),
            new ClassHistogram.Delta("java.lang.String", 1000, 24_000));
  }

  @Test
  void outputWithoutATotalIsRefused() {
    assertThatThrownBy(() -> ClassHistogram.parse("12345:\nCould not attach"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no Total line");
  }
}
