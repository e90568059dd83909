package io.credbroker.broker.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;

class AdminRevocationPropertiesTest {

  private final ApplicationContextRunner context =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class))
          .withUserConfiguration(Bind.class);

  @Test
  void operatorTokensDefaultToTheApiServersAudienceAndBlocksToAShortCache() {
    context.run(
        ctx -> {
          BrokerProperties properties = ctx.getBean(BrokerProperties.class);
          assertThat(properties.admin().audiences()).isEmpty();
          assertThat(properties.admin().authorizationCacheTtl()).isEqualTo(Duration.ofSeconds(5));
          assertThat(properties.revocation().notificationChannel()).isEqualTo("credbroker_events");
          assertThat(properties.revocation().blockCacheTtl()).isEqualTo(Duration.ofSeconds(30));
        });
  }

  @Test
  void notificationChannelThatIsNotAPlainIdentifierIsRefusedAtStartup() {
    context
        .withPropertyValues("credbroker.revocation.notification-channel=events; DROP TABLE x")
        .run(ctx -> assertThat(ctx).hasFailed());
  }

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties(BrokerProperties.class)
  static class Bind {}
}
