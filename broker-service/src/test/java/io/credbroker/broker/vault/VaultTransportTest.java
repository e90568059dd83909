package io.credbroker.broker.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.credbroker.broker.config.LoopbackHosts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.cloud.vault.config.VaultProperties;
import org.springframework.context.annotation.Configuration;

/** The broker talks to Vault in clear text on its own machine only. */
class VaultTransportTest {

  private final ApplicationContextRunner context =
      new ApplicationContextRunner().withUserConfiguration(Bind.class);

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://vault.example:8200",
        "http://10.0.0.5:8200",
        "HTTP://vault.vault.svc:8200",
        "http://localhost.example:8200",
        "http://127.0.0.1.nip.io:8200"
      })
  void plainHttpToAnotherMachineIsRefusedAtStartup(String uri) {
    context
        .withPropertyValues("spring.cloud.vault.uri=" + uri)
        .run(
            ctx ->
                assertThat(ctx)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining(uri)
                    .hasMessageContaining("clear text")
                    .hasMessageContaining("https://"));
  }

  @Test
  void aRefusedAddressIsNamedWithoutItsUserInfo() {
    context
        .withPropertyValues("spring.cloud.vault.uri=http://admin:s3cret-pw@vault.example:8200/v1")
        .run(
            ctx ->
                assertThat(ctx)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("Vault address http://vault.example:8200 is plain HTTP")
                    .hasMessageNotContaining("s3cret-pw"));
  }

  @Test
  void plainHttpFromSchemeAndHostIsRefusedToo() {
    context
        .withPropertyValues(
            "spring.cloud.vault.scheme=http", "spring.cloud.vault.host=vault.example")
        .run(
            ctx ->
                assertThat(ctx)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("http://vault.example:8200"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "https://vault.example:8200",
        "http://127.0.0.1:8200",
        "http://127.3.4.5:8200",
        "http://localhost:8200",
        "http://[::1]:8200"
      })
  void tlsAnywhereAndPlainHttpOnThisMachineStart(String uri) {
    context
        .withPropertyValues("spring.cloud.vault.uri=" + uri)
        .run(ctx -> assertThat(ctx).hasNotFailed());
  }

  @Test
  void onlyLiteralLoopbackAddressesAndLocalhostAreThisMachine() {
    assertThat(LoopbackHosts.isLoopback("127.0.0.1")).isTrue();
    assertThat(LoopbackHosts.isLoopback("[::1]")).isTrue();
    assertThat(LoopbackHosts.isLoopback("LOCALHOST")).isTrue();
    assertThat(LoopbackHosts.isLoopback("10.0.0.1")).isFalse();
    assertThat(LoopbackHosts.isLoopback("[::2]")).isFalse();
    assertThat(LoopbackHosts.isLoopback("vault")).isFalse();
    assertThat(LoopbackHosts.isLoopback("")).isFalse();
    assertThat(LoopbackHosts.isLoopback(null)).isFalse();
    assertThatCode(() -> LoopbackHosts.isLoopback("999.1.1.1")).doesNotThrowAnyException();
    assertThat(LoopbackHosts.isLoopback("999.1.1.1")).isFalse();
  }

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties(VaultProperties.class)
  static class Bind {
    Bind(VaultProperties vault) {
      VaultConfiguration.requireTlsBeyondThisMachine(vault);
    }
  }
}
