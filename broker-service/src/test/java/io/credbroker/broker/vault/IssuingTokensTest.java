package io.credbroker.broker.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Which issuing token credentials are created with, and when Vault cannot create a new one. */
class IssuingTokensTest {

  private static final Instant START = Instant.parse("2026-12-05T12:00:00Z");
  private static final Duration TTL = Duration.ofSeconds(100);

  private final AtomicReference<Instant> now = new AtomicReference<>(START);
  private final AtomicInteger created = new AtomicInteger();
  private final AtomicReference<RuntimeException> vaultFails = new AtomicReference<>();
  private final IssuingTokens tokens =
      new IssuingTokens(
          () -> {
            RuntimeException failure = vaultFails.get();
            if (failure != null) {
              throw failure;
            }
            return new IssuingToken(
                "hvs.token-" + created.incrementAndGet(),
                "accessor-" + created.get(),
                TTL,
                now.get().plus(TTL));
          },
          new Clock() {
            @Override
            public ZoneOffset getZone() {
              return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
              return this;
            }

            @Override
            public Instant instant() {
              return now.get();
            }
          });

  @Test
  void aTokenIsUsedUntilHalfItsLifeHasPassedThenReplaced() {
    IssuingToken first = tokens.current();
    now.set(START.plusSeconds(49));
    assertThat(tokens.current()).isSameAs(first);

    now.set(START.plusSeconds(51));
    assertThat(tokens.current().accessor()).isEqualTo("accessor-2");
  }

  @Test
  void whileVaultCannotCreateOneAnOldTokenIsUsedOnlyWhileAQuarterOfItsLifeIsLeft() {
    IssuingToken first = tokens.current();
    vaultFails.set(new IllegalStateException("the token role is gone"));

    now.set(START.plusSeconds(70));
    assertThat(tokens.current()).isSameAs(first);

    // 20 s left of 100: a credential issued now would die with its token within 20 s.
    now.set(START.plusSeconds(80));
    assertThatThrownBy(tokens::current).hasMessage("the token role is gone");
  }
}
