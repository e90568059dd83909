package io.credbroker.broker.admin;

import com.github.benmanes.caffeine.cache.Ticker;
import io.credbroker.broker.auth.Fabric8TokenReviewer;
import io.credbroker.broker.config.BrokerProperties;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.swagger.v3.oas.annotations.OpenAPIDefinition;
import io.swagger.v3.oas.annotations.enums.SecuritySchemeType;
import io.swagger.v3.oas.annotations.info.Info;
import io.swagger.v3.oas.annotations.security.SecurityScheme;
import io.swagger.v3.oas.annotations.servers.Server;
import java.time.Clock;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/** Wires the admin API's authentication and authorisation, and names it in the OpenAPI document. */
@Configuration(proxyBeanMethods = false)
@OpenAPIDefinition(
    info =
        @Info(
            title = "credential-broker admin API",
            version = "v1",
            description =
                "Revoke a pod, a credential, or every pod of a service account, namespace or"
                    + " database role; lift a pod's block; find who holds which PostgreSQL user; read"
                    + " the revocation retry queue and the audit trail (lists page by cursor within a"
                    + " time window). Authenticated with a Kubernetes bearer token (TokenReview),"
                    + " authorised by Kubernetes RBAC (SubjectAccessReview for resource credentials in"
                    + " API group credbroker.io, verbs get, list, revoke and unblock). Every change is"
                    + " audited with the caller's Kubernetes user name. Errors are RFC 9457 problem"
                    + " details."),
    // Relative, so that the document does not depend on the address it was fetched from.
    servers = @Server(url = "/", description = "this broker"))
@SecurityScheme(
    name = AdminConfiguration.SECURITY_SCHEME,
    type = SecuritySchemeType.HTTP,
    scheme = "bearer",
    description = "A Kubernetes token, e.g. from kubectl create token")
class AdminConfiguration {

  static final String SECURITY_SCHEME = "kubernetesBearer";

  @Bean
  WebMvcConfigurer adminAuthentication(AdminAccess access) {
    AdminAuthentication authentication = new AdminAuthentication(access);
    return new WebMvcConfigurer() {
      @Override
      public void addInterceptors(InterceptorRegistry registry) {
        // It picks the admin API's handlers itself (by their controller), so no path pattern.
        registry.addInterceptor(authentication);
      }
    };
  }

  @Bean
  AdminAccess adminAccess(
      KubernetesClient kubernetesClient, BrokerProperties properties, Clock clock) {
    BrokerProperties.Admin admin = properties.admin();
    return new AdminAccess(
        new Fabric8TokenReviewer(kubernetesClient),
        new Fabric8AccessReviewer(kubernetesClient),
        admin.audiences(),
        admin.authenticationCacheTtl(),
        admin.authorizationCacheTtl(),
        clock,
        Ticker.systemTicker());
  }
}
