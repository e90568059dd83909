package io.credbroker.broker.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CreationBacklogTest {

  private static final Duration FLOOR = Duration.ofSeconds(1);
  private static final Duration CEILING = Duration.ofMinutes(2);

  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private CreationBacklog backlog(int limit) {
    return new CreationBacklog(limit, FLOOR, CEILING, now::get);
  }

  private void advance(Duration by) {
    now.addAndGet(by.toNanos());
  }

  @Test
  void beforeAnyCreationCompletedEveryRefusalGetsTheFloor() {
    CreationBacklog backlog = backlog(4);

    for (int i = 0; i < 10; i++) {
      assertThat(backlog.refused()).isEqualTo(FLOOR);
    }
  }

  @Test
  void refusalsAtOnceAreAskedBackTwiceAsFastAsSlotsFreeUp() {
    // Two slots, creations taking 2 s: a slot frees every second; callers are asked back every
    // half second, so that a slot never waits for one.
    CreationBacklog backlog = new CreationBacklog(2, Duration.ZERO, CEILING, now::get);
    backlog.completed(Duration.ofSeconds(2).toNanos());
    backlog.completed(Duration.ofSeconds(2).toNanos());

    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(500));
    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(1000));
    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(1500));
    advance(Duration.ofMillis(250));
    // The queue has moved on by a quarter second: the fourth caller is 1.75 s from its turn.
    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(1750));
  }

  @Test
  void theIntervalIsTheMeanOfTheLastLimitCreations() {
    CreationBacklog backlog = new CreationBacklog(2, Duration.ZERO, CEILING, now::get);
    backlog.completed(Duration.ofMillis(100).toNanos());
    backlog.completed(Duration.ofSeconds(4).toNanos());
    backlog.completed(Duration.ofSeconds(6).toNanos());

    // The last two took 4 s and 6 s: 5 s each over two slots, a slot every 2.5 s, asked every 1.25.
    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(1250));
    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(2500));
  }

  @Test
  void noDelayIsShorterThanTheFloor() {
    // Eight slots, creations taking 1.6 s: callers are asked back every 100 ms, ten within the
    // floor.
    CreationBacklog backlog = backlog(8);
    for (int i = 0; i < 8; i++) {
      backlog.completed(Duration.ofMillis(1600).toNanos());
    }

    for (int i = 0; i < 10; i++) {
      assertThat(backlog.refused()).isEqualTo(FLOOR);
    }
    assertThat(backlog.refused()).isEqualTo(Duration.ofMillis(1100));
  }

  @Test
  void theQueueDrainsAsTimePasses() {
    CreationBacklog backlog = backlog(1);
    backlog.completed(Duration.ofSeconds(4).toNanos());
    for (int i = 0; i < 5; i++) {
      backlog.refused();
    }

    advance(Duration.ofSeconds(30));

    assertThat(backlog.refused()).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void noDelayExceedsTheCeilingAndTheQueueDoesNotRunAheadOfIt() {
    CreationBacklog backlog = backlog(1);
    backlog.completed(Duration.ofSeconds(100).toNanos());
    assertThat(backlog.refused()).isEqualTo(Duration.ofSeconds(50));
    assertThat(backlog.refused()).isEqualTo(Duration.ofSeconds(100));
    assertThat(backlog.refused()).isEqualTo(CEILING);
    assertThat(backlog.refused()).isEqualTo(CEILING);

    // Callers beyond the ceiling were not queued past it: once it has passed, the queue is empty.
    advance(CEILING);
    assertThat(backlog.refused()).isEqualTo(Duration.ofSeconds(50));
  }

  @Test
  void aLimitBelowOneOrACeilingBelowTheFloorIsRefused() {
    assertThatThrownBy(() -> new CreationBacklog(0, FLOOR, CEILING, now::get))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new CreationBacklog(1, CEILING, FLOOR, now::get))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
