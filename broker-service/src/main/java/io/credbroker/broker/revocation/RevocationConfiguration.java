package io.credbroker.broker.revocation;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.CredentialRevokedEvent;
import io.credbroker.broker.lease.LeaseService;
import io.credbroker.broker.lease.RevocationRetryQueue;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/** Wires pod blocks, revocation, the audit trail and the cross-replica notifications. */
@Configuration(proxyBeanMethods = false)
class RevocationConfiguration {

  /**
   * Notifications sent while the listener was disconnected are lost; the replay after a reconnect
   * starts this much earlier than the last moment the listener knew itself connected. It allows for
   * clock differences between replicas and for the time between a credential's end (recorded before
   * Vault is asked) and its notification (sent once Vault has answered, after up to three attempts
   * of {@code spring.cloud.vault.read-timeout} each). Replaying a revocation twice is harmless.
   */
  private static final Duration REPLAY_MARGIN = Duration.ofMinutes(2);

  @Bean
  RevocationStore revocationStore(
      JdbcClient jdbcClient, CredentialQueries credentials, RevocationRetryQueue retryQueue) {
    return new RevocationStore(jdbcClient, credentials, retryQueue);
  }

  @Bean
  PodBlocks podBlocks(RevocationStore store, BrokerProperties properties) {
    return new PodBlocks(store, properties.revocation().blockCacheTtl(), Ticker.systemTicker());
  }

  @Bean
  RevocationNotifications revocationNotifications(
      JdbcClient jdbcClient,
      JdbcConnectionDetails connectionDetails,
      BrokerProperties properties,
      PodBlocks podBlocks,
      RevocationStore store,
      ApplicationEventPublisher events,
      Clock clock) {
    BrokerProperties.Revocation revocation = properties.revocation();
    return new RevocationNotifications(
        jdbcClient,
        RevocationNotifications.ConnectionFactory.driverManager(
            connectionDetails.getJdbcUrl(),
            connectionDetails.getUsername(),
            connectionDetails.getPassword()),
        revocation.notificationChannel(),
        revocation.listenerPollInterval(),
        revocation.listenerReconnectDelay(),
        message -> {
          if (message instanceof RevocationMessage.PodBlocked blocked) {
            podBlocks.invalidate(blocked.podUid());
          } else if (message instanceof RevocationMessage.PodUnblocked unblocked) {
            podBlocks.invalidate(unblocked.podUid());
          } else if (message instanceof RevocationMessage.CredentialRevoked revoked) {
            events.publishEvent(
                new CredentialRevokedEvent(revoked.credentialId(), revoked.reason()));
          }
        },
        missedSince -> {
          podBlocks.invalidateAll();
          for (RevocationMessage.CredentialRevoked revoked :
              store.revokedSince(missedSince.minus(REPLAY_MARGIN))) {
            events.publishEvent(
                new CredentialRevokedEvent(revoked.credentialId(), revoked.reason()));
          }
        },
        clock);
  }

  /**
   * 0 while this replica cannot hear other replicas' blocks and revocations (alert on it: its block
   * cache then only catches up by TTL, and its streams learn of revocations only after reconnect).
   */
  @Bean
  Gauge revocationListenerGauge(
      RevocationNotifications notifications, MeterRegistry meterRegistry) {
    return Gauge.builder(
            "credbroker.revocation.listener.connected", notifications, n -> n.listening() ? 1 : 0)
        .description("Whether the cross-replica revocation listener is connected (1) or not (0)")
        .register(meterRegistry);
  }

  /**
   * Not a bean of executor type on purpose: Spring Boot backs its own task executor off when one
   * exists.
   */
  @Bean(destroyMethod = "close")
  UndroppedRoles undroppedRoles(
      Bindings bindings,
      VaultDatabaseCredentials vault,
      BrokerProperties properties,
      MeterRegistry meterRegistry,
      Clock clock) {
    UndroppedRoles undroppedRoles = new UndroppedRoles(bindings, vault, clock, meterRegistry);
    undroppedRoles.start(properties.revocation().undroppedCheckInterval());
    return undroppedRoles;
  }

  @Bean
  RevocationService revocationService(
      RevocationStore store,
      LeaseService leaseService,
      RevocationNotifications notifications,
      TransactionTemplate transactionTemplate,
      ReplicaId replicaId,
      MeterRegistry meterRegistry,
      org.springframework.beans.factory.ObjectProvider<PodLookup> podLookup) {
    return new RevocationService(
        store,
        leaseService,
        notifications,
        transactionTemplate,
        replicaId,
        meterRegistry,
        podLookup.getIfAvailable(PodLookup::none));
  }
}
