package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.config.BrokerProperties;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PodLimitsTest {

  private static final PodIdentity POD = new PodIdentity("public", "application", "app-1", "uid-1");
  private static final PodIdentity OTHER_POD =
      new PodIdentity("public", "application", "app-2", "uid-2");

  private final AtomicLong nanos = new AtomicLong();
  private final Ticker ticker = nanos::get;
  private final PodLimits limits =
      new PodLimits(
          new BrokerProperties.Limits(2, Duration.ofMinutes(1), 3, 6, 1000, 100, 64), ticker);

  @Test
  void aPodHoldsAtMostTheConfiguredStreamsPerDatabaseRoleAndAnEndedStreamFreesItsSlot() {
    UUID first = UUID.randomUUID();
    UUID second = UUID.randomUUID();
    limits.openStream(POD, "db1", first);
    limits.openStream(POD, "db1", second);

    assertThatThrownBy(() -> limits.openStream(POD, "db1", UUID.randomUUID()))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.TOO_MANY_STREAMS);
              assertThat(e.retryAfter()).isPositive();
            });
    // Other roles and other pods have slots of their own.
    limits.openStream(POD, "db2", UUID.randomUUID());
    limits.openStream(OTHER_POD, "db1", UUID.randomUUID());

    limits.streamEnded(first);
    limits.streamEnded(first);
    limits.openStream(POD, "db1", UUID.randomUUID());
    assertThatThrownBy(() -> limits.openStream(POD, "db1", UUID.randomUUID()))
        .isInstanceOf(BrokerException.class);
    assertThat(limits.openStreams()).isEqualTo(4);
  }

  @Test
  void aPodObtainsItsBurstThenOneCredentialPerRefillInterval() {
    for (int i = 0; i < 3; i++) {
      limits.issuance(POD);
    }
    assertThatThrownBy(() -> limits.issuance(POD))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.ISSUANCE_RATE_EXCEEDED);
              // 6 a minute: one every 10 s.
              assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(10));
            });
    limits.issuance(OTHER_POD);

    nanos.addAndGet(Duration.ofSeconds(10).toNanos());
    limits.issuance(POD);
    assertThatThrownBy(() -> limits.issuance(POD)).isInstanceOf(BrokerException.class);
  }

  @Test
  void anIssuanceThatCreatedNothingIsGivenBackButNeverBeyondTheBurst() {
    for (int i = 0; i < 3; i++) {
      limits.issuance(POD);
      limits.issuanceNotUsed(POD);
    }
    // Three refusals given back: the whole burst is still there, and no more.
    for (int i = 0; i < 3; i++) {
      limits.issuance(POD);
    }
    assertThatThrownBy(() -> limits.issuance(POD)).isInstanceOf(BrokerException.class);

    limits.issuanceNotUsed(POD);
    limits.issuanceNotUsed(POD);
    limits.issuanceNotUsed(POD);
    limits.issuanceNotUsed(POD);
    for (int i = 0; i < 3; i++) {
      limits.issuance(POD);
    }
    assertThatThrownBy(() -> limits.issuance(POD)).isInstanceOf(BrokerException.class);
    // A pod without a bucket gets none by giving back.
    limits.issuanceNotUsed(OTHER_POD);
    for (int i = 0; i < 3; i++) {
      limits.issuance(OTHER_POD);
    }
    assertThatThrownBy(() -> limits.issuance(OTHER_POD)).isInstanceOf(BrokerException.class);
  }

  @Test
  void aRequestedTtlBelowTheMinimumIsRaisedToItAndOthersAreKept() {
    assertThat(limits.effectiveTtl(Duration.ofSeconds(1))).isEqualTo(Duration.ofMinutes(1));
    assertThat(limits.effectiveTtl(Duration.ofMinutes(5))).isEqualTo(Duration.ofMinutes(5));
    assertThat(limits.effectiveTtl(null)).isNull();
  }
}
