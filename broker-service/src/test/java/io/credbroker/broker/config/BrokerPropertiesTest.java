package io.credbroker.broker.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;

class BrokerPropertiesTest {

  private final ApplicationContextRunner context =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class))
          .withUserConfiguration(Bind.class);

  @Test
  void safeDefaultsApplyWhenNothingIsConfigured() {
    context.run(
        ctx -> {
          BrokerProperties properties = ctx.getBean(BrokerProperties.class);
          assertThat(properties.kubernetes().audience()).isEqualTo("credbroker");
          assertThat(properties.kubernetes().allowUnboundTokens()).isFalse();
          assertThat(properties.kubernetes().kubeconfig()).isNull();
          assertThat(properties.kubernetes().maxConcurrentRequests()).isGreaterThan(5);
          assertThat(properties.grpc().heartbeatInterval()).isEqualTo(Duration.ofSeconds(30));
          assertThat(properties.grpc().callThreads()).isEqualTo(64);
          assertThat(properties.bindings()).isEmpty();
        });
  }

  @Test
  void grpcCallThreadsAreReadFromTheConfigurationTree() {
    context
        .withPropertyValues("credbroker.grpc.call-threads=8")
        .run(
            ctx ->
                assertThat(ctx.getBean(BrokerProperties.class).grpc().callThreads()).isEqualTo(8));
  }

  @Test
  void vaultCreationsInFlightAreBoundedByDefaultAndConfigurable() {
    context.run(
        ctx ->
            assertThat(ctx.getBean(BrokerProperties.class).vault().maxConcurrentCreations())
                .isEqualTo(8));
    context
        .withPropertyValues("credbroker.vault.max-concurrent-creations=3")
        .run(
            ctx ->
                assertThat(ctx.getBean(BrokerProperties.class).vault().maxConcurrentCreations())
                    .isEqualTo(3));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "-1"})
  void vaultCreationsInFlightBelowOneAreRefusedAtStartupNamingTheProperty(String limit) {
    context
        .withPropertyValues("credbroker.vault.max-concurrent-creations=" + limit)
        .run(
            ctx ->
                assertThat(ctx)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("maxConcurrentCreations"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "-4"})
  void grpcCallThreadsBelowOneAreRefusedAtStartupNamingTheProperty(String threads) {
    context
        .withPropertyValues("credbroker.grpc.call-threads=" + threads)
        .run(ctx -> assertThat(ctx).getFailure().rootCause().hasMessageContaining("callThreads"));
  }

  @Test
  void bindingIsReadWithItsDefaults() {
    context
        .withPropertyValues(
            "credbroker.bindings[0].database-role=db1",
            "credbroker.bindings[0].vault-role=db1",
            "credbroker.bindings[0].namespaces[0]=public",
            "credbroker.bindings[0].service-accounts[0]=application",
            "credbroker.bindings[0].connection.host=db.internal",
            "credbroker.bindings[0].connection.database=db1")
        .run(
            ctx -> {
              BrokerProperties.Binding binding =
                  ctx.getBean(BrokerProperties.class).bindings().get(0);
              assertThat(binding.vaultMount()).isEqualTo("database");
              assertThat(binding.connection().port()).isEqualTo(5432);
              assertThat(binding.connection().sslmode()).isEqualTo("verify-full");
            });
  }

  @Test
  void bindingWithoutServiceAccountsIsRefusedAtStartup() {
    context
        .withPropertyValues(
            "credbroker.bindings[0].database-role=db1",
            "credbroker.bindings[0].vault-role=db1",
            "credbroker.bindings[0].namespaces[0]=public",
            "credbroker.bindings[0].connection.host=db.internal",
            "credbroker.bindings[0].connection.database=db1")
        .run(ctx -> assertThat(ctx).hasFailed());
  }

  @Test
  void unknownSslModeIsRefusedAtStartup() {
    context
        .withPropertyValues(
            "credbroker.bindings[0].database-role=db1",
            "credbroker.bindings[0].vault-role=db1",
            "credbroker.bindings[0].namespaces[0]=public",
            "credbroker.bindings[0].service-accounts[0]=application",
            "credbroker.bindings[0].connection.host=db.internal",
            "credbroker.bindings[0].connection.database=db1",
            "credbroker.bindings[0].connection.sslmode=sometimes")
        .run(ctx -> assertThat(ctx).hasFailed());
  }

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties(BrokerProperties.class)
  static class Bind {}
}
