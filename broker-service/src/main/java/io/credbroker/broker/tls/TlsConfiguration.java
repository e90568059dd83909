package io.credbroker.broker.tls;

import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.KeyManagerFactorySpi;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.TrustManagerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.ssl.SslBundleRegistrar;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundleKey;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslManagerBundle;
import org.springframework.boot.ssl.SslOptions;
import org.springframework.boot.ssl.SslStoreBundle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * One serving key for both APIs, renewed without a restart.
 *
 * <p>Bundle {@value #SERVER_BUNDLE} ({@code spring.ssl.bundle.pem.server}) reads the PEM files and
 * is reloaded by Spring Boot when they change; the admin API's Tomcat follows such reloads itself.
 * spring-grpc takes a bundle's key managers once, at startup, so the gRPC server is given bundle
 * {@value #GRPC_BUNDLE} instead, whose key manager looks the server bundle up at every handshake
 * ({@link FollowingKeyManager}).
 */
@Configuration(proxyBeanMethods = false)
class TlsConfiguration {

  /** The bundle of the serving key and certificate, from {@code credbroker.tls.*}. */
  static final String SERVER_BUNDLE = "server";

  /** The bundle spring-grpc serves with ({@code spring.grpc.server.ssl.bundle}). */
  static final String GRPC_BUNDLE = "credbroker-grpc";

  @Bean
  SslBundleRegistrar grpcServerBundle(ObjectProvider<SslBundles> bundles) {
    return registry ->
        registry.registerBundle(
            GRPC_BUNDLE,
            following(new FollowingKeyManager(() -> bundles.getObject().getBundle(SERVER_BUNDLE))));
  }

  /** A bundle whose only key manager is {@code keyManager}; its trust material is the JVM's. */
  static SslBundle following(FollowingKeyManager keyManager) {
    return SslBundle.of(
        SslStoreBundle.NONE,
        SslBundleKey.NONE,
        SslOptions.NONE,
        SslBundle.DEFAULT_PROTOCOL,
        SslManagerBundle.of(fixed(keyManager), defaultTrustManagers()));
  }

  private static KeyManagerFactory fixed(KeyManager keyManager) {
    KeyManagerFactorySpi spi =
        new KeyManagerFactorySpi() {
          @Override
          protected void engineInit(KeyStore keyStore, char[] password) {}

          @Override
          protected void engineInit(ManagerFactoryParameters parameters) {}

          @Override
          protected KeyManager[] engineGetKeyManagers() {
            return new KeyManager[] {keyManager};
          }
        };
    return new KeyManagerFactory(spi, null, "credbroker-following") {};
  }

  private static TrustManagerFactory defaultTrustManagers() {
    try {
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init((KeyStore) null);
      return factory;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot load the JVM's trusted certificates", e);
    }
  }
}
