package io.credbroker.broker.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessResourceFailureException;

class PodBlocksTest {

  private final RevocationStore store = mock(RevocationStore.class);
  private final AtomicLong nanos = new AtomicLong();
  private final PodBlocks blocks = new PodBlocks(store, Duration.ofSeconds(30), nanos::get);

  @Test
  void answerIsCachedUntilABlockNotificationDropsIt() {
    when(store.isBlocked("uid-1")).thenReturn(false, true);

    assertThat(blocks.isBlocked("uid-1")).isFalse();
    assertThat(blocks.isBlocked("uid-1")).isFalse();
    verify(store, times(1)).isBlocked("uid-1");

    blocks.invalidate("uid-1");

    assertThat(blocks.isBlocked("uid-1")).isTrue();
  }

  @Test
  void lostNotificationIsBoundedByTheCacheTtl() {
    when(store.isBlocked("uid-2")).thenReturn(false, true);
    assertThat(blocks.isBlocked("uid-2")).isFalse();

    nanos.addAndGet(Duration.ofSeconds(31).toNanos());

    assertThat(blocks.isBlocked("uid-2")).isTrue();
  }

  @Test
  void unreachableStateStoreRefusesThePodInsteadOfAdmittingIt() {
    when(store.isBlocked("uid-3")).thenThrow(new DataAccessResourceFailureException("down"));

    assertThatThrownBy(() -> blocks.isBlocked("uid-3"))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(BrokerException.Reason.STATE_STORE_UNAVAILABLE));
  }
}
