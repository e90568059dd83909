package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class MaxTtlsTest {

  private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  private static final Duration CACHE = Duration.ofMinutes(10);
  private static final Binding DB1 = LeaseTestSettings.DB1;

  private final VaultDatabaseCredentials vault = mock(VaultDatabaseCredentials.class);
  private final MaxTtls maxTtls = new MaxTtls(vault, CACHE);

  @Test
  void aMaxTtlVaultCannotTellWhenItIsReadAgainKeepsTheOneReadBefore() {
    when(vault.maxTtl(DB1.vaultMount(), DB1.vaultRole()))
        .thenReturn(Duration.ofSeconds(300))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"))
        .thenReturn(Duration.ofSeconds(600));

    assertThat(maxTtls.of(DB1, NOW)).isEqualTo(Duration.ofSeconds(299));
    // The cache ran out while Vault is unreachable: the value read before still holds.
    assertThat(maxTtls.of(DB1, NOW.plus(CACHE).plusSeconds(1))).isEqualTo(Duration.ofSeconds(299));
    // Not asked again at every issue during the outage, but after another cache period.
    assertThat(maxTtls.of(DB1, NOW.plus(CACHE).plusSeconds(2))).isEqualTo(Duration.ofSeconds(299));
    verify(vault, times(2)).maxTtl(DB1.vaultMount(), DB1.vaultRole());
    assertThat(maxTtls.of(DB1, NOW.plus(CACHE.multipliedBy(2)).plusSeconds(2)))
        .isEqualTo(Duration.ofSeconds(599));
  }

  @Test
  void aMaxTtlNeverReadStaysUnknownUntilVaultTells() {
    when(vault.maxTtl(DB1.vaultMount(), DB1.vaultRole()))
        .thenThrow(new BrokerException(Reason.VAULT_UNAVAILABLE, "Vault is unavailable"))
        .thenReturn(Duration.ofSeconds(300));

    assertThat(maxTtls.of(DB1, NOW)).isNull();
    assertThat(maxTtls.of(DB1, NOW.plusSeconds(1))).isNull();
    assertThat(maxTtls.of(DB1, NOW.plus(CACHE).plusSeconds(1))).isEqualTo(Duration.ofSeconds(299));
  }
}
