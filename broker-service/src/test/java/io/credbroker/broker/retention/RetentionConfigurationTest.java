package io.credbroker.broker.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.config.BrokerProperties;
import java.time.Duration;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;

class RetentionConfigurationTest {

  private final ApplicationContextRunner context =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class))
          .withUserConfiguration(Bind.class);

  @Test
  void deadReplicasAreKeptADayByDefaultWellPastTheTakeoverAndTheGraces() {
    withProperties(
        properties -> {
          assertThat(properties.retention().deadReplicas()).isEqualTo(Duration.ofDays(1));
          assertThatCode(
                  () -> RetentionConfiguration.requireDeadReplicasOutliveTheirUse(properties))
              .doesNotThrowAnyException();
        });
  }

  @Test
  void deadReplicasNoLongerThanStaleAfterPlusTheGraceLimitAreRefusedAtStartup() {
    withProperties(
        properties ->
            assertThatThrownBy(
                    () -> RetentionConfiguration.requireDeadReplicasOutliveTheirUse(properties))
                .hasMessageContaining("credbroker.retention.dead-replicas (PT2H)")
                .hasMessageContaining("(PT2H15S)"),
        "credbroker.retention.dead-replicas=2h",
        "credbroker.lease.reconnect-grace-limit=2h");
  }

  @Test
  void deadReplicasUnderAnHourAreRefusedAtStartupNamingTheProperty() {
    context
        .withPropertyValues("credbroker.retention.dead-replicas=59m")
        .run(
            ctx ->
                assertThat(ctx)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("credbroker.retention.dead-replicas"));
  }

  private void withProperties(Consumer<BrokerProperties> check, String... values) {
    context
        .withPropertyValues(values)
        .run(ctx -> check.accept(ctx.getBean(BrokerProperties.class)));
  }

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties(BrokerProperties.class)
  static class Bind {}
}
