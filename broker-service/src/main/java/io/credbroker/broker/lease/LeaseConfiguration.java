package io.credbroker.broker.lease;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.TokenAuthenticator;
import io.credbroker.broker.cluster.ClusterRefusals;
import io.credbroker.broker.cluster.ReplicaFencingEvent;
import io.credbroker.broker.cluster.ReplicaHeartbeat;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.vault.VaultDatabaseCredentials;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/** Wires the lease lifecycle: issuing, the shared scheduler that keeps leases alive, and ending. */
@Configuration(proxyBeanMethods = false)
class LeaseConfiguration {

  /** The bulkhead of pods' releases revoked in Vault at once (see {@link #leaseService}). */
  static final String RELEASE_REVOCATIONS = "lease-release-revocations";

  @Bean
  LeaseMetrics leaseMetrics(MeterRegistry meterRegistry, Bindings bindings) {
    return new LeaseMetrics(
        meterRegistry, bindings.all().stream().map(Binding::databaseRole).toList());
  }

  /** The claim of dead replicas' credentials, which the replica's heartbeat runs. */
  @Bean
  DeadReplicaClaims credentialTakeover() {
    return new DeadReplicaClaims();
  }

  @Bean
  CredentialStore credentialStore(JdbcClient jdbc) {
    return new CredentialStore(jdbc);
  }

  @Bean
  CredentialQueries credentialQueries(JdbcClient jdbc) {
    return new CredentialQueries(jdbc);
  }

  @Bean
  RevocationRetryQueue revocationRetryQueue(JdbcClient jdbc) {
    return new RevocationRetryQueue(jdbc);
  }

  /**
   * Pods' releases are revoked in Vault at once up to {@code
   * credbroker.lease.max-concurrent-release-revocations}, beyond it by the revocation queue: a
   * bulkhead that never waits, registered as {@value #RELEASE_REVOCATIONS} so that Resilience4j's
   * Micrometer binding reports it like the Vault ones ({@code
   * resilience4j_bulkhead_available_concurrent_calls{name="lease-release-revocations"}}).
   */
  @Bean
  LeaseService leaseService(
      VaultDatabaseCredentials vault,
      CredentialStore store,
      CredentialQueries credentials,
      RevocationRetryQueue retryQueue,
      ReplicaId replicaId,
      LeaseMetrics metrics,
      BrokerProperties properties,
      BulkheadRegistry bulkheads,
      Clock clock) {
    return new LeaseService(
        vault,
        store,
        credentials,
        retryQueue,
        replicaId,
        clock,
        metrics,
        properties.lease(),
        bulkheads.bulkhead(
            RELEASE_REVOCATIONS,
            BulkheadConfig.custom()
                .maxConcurrentCalls(properties.lease().maxConcurrentReleaseRevocations())
                .maxWaitDuration(Duration.ZERO)
                .build()));
  }

  @Bean
  LeaseKeeper leaseKeeper(
      CredentialStore store,
      CredentialQueries credentials,
      LeaseService leaseService,
      VaultDatabaseCredentials vault,
      RevocationRetryQueue retryQueue,
      Bindings bindings,
      ObjectProvider<CredentialStreams> streams,
      ReplicaId replicaId,
      BrokerProperties properties,
      LeaseMetrics metrics,
      PodDepartures podDepartures,
      ObjectProvider<PodAdmission> admission,
      ClusterRefusals refusals,
      Clock clock) {
    return new LeaseKeeper(
        store,
        credentials,
        leaseService,
        vault,
        retryQueue,
        bindings,
        streams.getIfAvailable(CredentialStreams::none),
        replicaId,
        clock,
        properties.lease(),
        metrics,
        podDepartures,
        admission.getIfAvailable(PodAdmission::admitAll),
        leaseService.ownedLeases(),
        refusals);
  }

  /**
   * While this replica is fenced (its state database unreachable), its scheduler renews the leases
   * it noted in memory, and nothing else; it serves its state database's schedule again once its
   * heartbeat is written.
   */
  @Bean
  ApplicationListener<ReplicaFencingEvent> renewWhileFenced(LeaseKeeper leaseKeeper) {
    return event -> leaseKeeper.fenced(event.fencing() != ReplicaHeartbeat.Fencing.SERVING);
  }

  /**
   * What happens to a deleted pod's credentials and streams. A departed pod's UID is remembered a
   * little longer than a token review is cached, after which Kubernetes rejects its token itself.
   */
  @Bean
  PodDepartures podDepartures(
      CredentialStore store,
      ObjectProvider<CredentialStreams> streams,
      BrokerProperties properties,
      MeterRegistry meterRegistry,
      Clock clock) {
    return new PodDepartures(
        store,
        streams.getIfAvailable(CredentialStreams::none),
        clock,
        properties.lease().drainGrace(),
        properties.kubernetes().cacheMaxTtl().plus(java.time.Duration.ofMinutes(5)),
        meterRegistry);
  }

  @Bean
  LeaseReconciler leaseReconciler(
      VaultDatabaseCredentials vault,
      CredentialQueries credentials,
      Bindings bindings,
      JdbcClient jdbc,
      TransactionTemplate transactions,
      LeaseMetrics metrics,
      BrokerProperties properties,
      Clock clock) {
    return new LeaseReconciler(
        vault,
        credentials,
        bindings,
        jdbc,
        transactions,
        clock,
        metrics,
        properties.lease().reconcile());
  }

  /** Once the broker is up: can the issuing tokens' lifetime cover the rotation margin? */
  @Bean
  ApplicationListener<ApplicationReadyEvent> issuingTokenCheck(LeaseService leaseService) {
    return event -> leaseService.checkIssuingTokenLifetime();
  }

  @Bean
  UnboundCredentials unboundCredentials(
      CredentialQueries credentials,
      CredentialStore store,
      Bindings bindings,
      BrokerProperties properties,
      LeaseMetrics metrics,
      Clock clock) {
    return new UnboundCredentials(
        credentials, store, bindings, clock, properties.lease().drainGrace(), metrics);
  }

  /**
   * Once the broker is up: end the live credentials, cluster-wide, that this replica's bindings no
   * longer allow (the configuration changed since they were issued). On a thread of its own, so
   * that a slow state database does not hold back readiness.
   */
  @Bean
  ApplicationListener<ApplicationReadyEvent> unboundCredentialSweep(UnboundCredentials unbound) {
    return event -> {
      DaemonThreads.named("unbound-credential-sweep").newThread(unbound::sweep).start();
    };
  }

  @Bean
  PodLimits podLimits(BrokerProperties properties) {
    return new PodLimits(properties.limits(), Ticker.systemTicker());
  }

  /**
   * Pod blocks come from the revocation feature when it is present; otherwise every pod is
   * admitted.
   */
  @Bean
  CredentialIssuer credentialIssuer(
      TokenAuthenticator authenticator,
      Bindings bindings,
      LeaseService leaseService,
      MeterRegistry meterRegistry,
      ObjectProvider<PodAdmission> admission,
      PodLimits podLimits,
      PodDepartures podDepartures) {
    return new CredentialIssuer(
        authenticator,
        bindings,
        leaseService,
        meterRegistry,
        admission.getIfAvailable(PodAdmission::admitAll),
        podLimits,
        podDepartures);
  }
}
