package io.credbroker.broker.grpc;

import io.credbroker.broker.config.BrokerProperties;
import io.credbroker.broker.cluster.OwnershipLostEvent;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialRevokedEvent;
import io.credbroker.broker.lease.LeaseService;
import io.grpc.BindableService;
import io.grpc.ServerInterceptor;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import org.springframework.context.ApplicationListener;
import org.springframework.context.PayloadApplicationEvent;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.grpc.server.GlobalServerInterceptor;
import org.springframework.grpc.server.exception.GrpcExceptionHandler;
import org.springframework.grpc.server.lifecycle.GrpcServerShutdownEvent;

/**
 * Wires the gRPC API into spring-grpc, which serves every {@link BindableService} bean next to the
 * health and reflection services.
 */
@Configuration(proxyBeanMethods = false)
class GrpcConfiguration {

  @Bean(destroyMethod = "close")
  WatchStreams watchStreams(BrokerProperties properties, MeterRegistry meterRegistry) {
    return new WatchStreams(properties.grpc().heartbeatInterval(), Clock.systemUTC(), meterRegistry);
  }

  @Bean
  BindableService credentialBrokerService(
      CredentialIssuer issuer, LeaseService leaseService, WatchStreams watchStreams) {
    return new CredentialBrokerService(issuer, leaseService, watchStreams, Clock.systemUTC());
  }

  /** Ends the local stream of a credential that was revoked (by an operator, on any replica). */
  @Bean
  ApplicationListener<PayloadApplicationEvent<CredentialRevokedEvent>> endRevokedStreams(
      WatchStreams watchStreams) {
    return event ->
        watchStreams.revoked(event.getPayload().credentialId(), event.getPayload().reason());
  }

  /**
   * Another replica presumed this one dead and took over its credentials: its streams no longer get
   * renewals here, so they are ended with UNAVAILABLE and their clients resume where the credentials
   * now live.
   */
  @Bean
  ApplicationListener<OwnershipLostEvent> endStreamsOnOwnershipLoss(WatchStreams watchStreams) {
    return event -> watchStreams.closeAll();
  }

  @Bean
  @GlobalServerInterceptor
  ServerInterceptor bearerTokenInterceptor() {
    return new BearerTokenInterceptor();
  }

  @Bean
  GrpcExceptionHandler grpcErrorMapper() {
    return new GrpcErrorMapper();
  }

  /**
   * Open streams never end on their own, so the server's graceful shutdown would wait its whole grace
   * period for them; ending them first lets clients move to another replica at once.
   */
  @Bean
  ApplicationListener<GrpcServerShutdownEvent> closeStreamsOnShutdown(WatchStreams watchStreams) {
    return event -> watchStreams.closeAll();
  }
}
