package io.credbroker.broker.vault;

import io.credbroker.broker.config.LoopbackHosts;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.URI;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.Objects;
import org.apache.hc.client5.http.impl.DefaultRedirectStrategy;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.HttpRequest;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.ProtocolException;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.jspecify.annotations.Nullable;
import org.springframework.cloud.vault.config.VaultProperties;
import org.springframework.core.io.Resource;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;
import org.springframework.util.StringUtils;
import org.springframework.vault.client.ClientHttpRequestFactoryFactory;
import org.springframework.vault.support.ClientOptions;
import org.springframework.vault.support.SslConfiguration;
import org.springframework.vault.support.SslConfiguration.KeyStoreConfiguration;

/**
 * The HTTP client every Vault call goes through: Spring Vault's Apache HttpClient 5 setup
 * (timeouts, TLS from {@code spring.cloud.vault.ssl.*}, proxy route planner), with a connection
 * pool as large as the Vault bulkhead.
 *
 * <p>Spring Vault's pool allows 5 connections per route, so with one Vault address at most 5 calls
 * ran at once while the bulkhead admits far more: the rest queued for a connection inside the
 * client, and one that waited longer than {@code connection-timeout} failed as a Vault timeout
 * although Vault was healthy. The pool is therefore sized to the bulkhead's limit, so that the
 * bulkhead alone decides how many calls run at once.
 *
 * <p>Spring Vault builds the pool (and its TLS strategy) inside the client builder without a hook
 * to size it; the pool is taken from the builder rather than rebuilt, so that TLS stays exactly
 * Spring Vault's. If a Spring Vault or HttpClient upgrade changes that builder, the broker refuses
 * to start instead of running with a pool of 5.
 *
 * <p>Immutable after construction; the request factory and its pool are thread-safe. Lifecycle: the
 * request factory is closed (its pool with it) by Spring Vault's {@code ClientFactoryWrapper} when
 * the context closes.
 */
public final class VaultHttpClient {

  private final HttpComponentsClientHttpRequestFactory requestFactory;
  private final PoolingHttpClientConnectionManager pool;

  private VaultHttpClient(
      HttpComponentsClientHttpRequestFactory requestFactory,
      PoolingHttpClientConnectionManager pool) {
    this.requestFactory = requestFactory;
    this.pool = pool;
  }

  /**
   * Builds the client as Spring Cloud Vault would from {@code properties}, with a pool of {@code
   * maxConnections} connections (per route and in total).
   *
   * @throws IllegalArgumentException when {@code maxConnections} is below 1
   * @throws IllegalStateException when the TLS material cannot be loaded or Spring Vault's client
   *     builder no longer exposes its pool
   */
  public static VaultHttpClient create(VaultProperties properties, int maxConnections) {
    Objects.requireNonNull(properties, "properties");
    if (maxConnections < 1) {
      throw new IllegalArgumentException("the Vault connection pool needs at least 1 connection");
    }
    ClientOptions options =
        new ClientOptions(
            Duration.ofMillis(properties.getConnectionTimeout()),
            Duration.ofMillis(properties.getReadTimeout()));
    HttpClientBuilder builder;
    try {
      builder =
          ClientHttpRequestFactoryFactory.HttpComponents.getHttpClientBuilder(
              options, sslConfiguration(properties.getSsl()));
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException(
          "cannot set up TLS for Vault from spring.cloud.vault.ssl.*: " + e.getMessage(), e);
    }
    PoolingHttpClientConnectionManager pool = poolOf(builder);
    pool.setMaxTotal(maxConnections);
    pool.setDefaultMaxPerRoute(maxConnections);
    builder.setRedirectStrategy(new NoClearTextRedirects());
    return new VaultHttpClient(new HttpComponentsClientHttpRequestFactory(builder.build()), pool);
  }

  /** The request factory for Spring Vault's templates. */
  public HttpComponentsClientHttpRequestFactory requestFactory() {
    return requestFactory;
  }

  /** Connections one route (the Vault address) may hold at once. */
  public int maxConnectionsPerRoute() {
    return pool.getDefaultMaxPerRoute();
  }

  /** Connections the pool may hold at once over all routes. */
  public int maxConnections() {
    return pool.getMaxTotal();
  }

  /**
   * The same TLS settings Spring Cloud Vault derives from {@code spring.cloud.vault.ssl.*} (its own
   * method for this is not public): key and trust store with optional password and type, protocols
   * and cipher suites.
   */
  static SslConfiguration sslConfiguration(VaultProperties.Ssl ssl) {
    KeyStoreConfiguration keyStore =
        storeOf(ssl.getKeyStore(), ssl.getKeyStorePassword(), ssl.getKeyStoreType());
    KeyStoreConfiguration trustStore =
        storeOf(ssl.getTrustStore(), ssl.getTrustStorePassword(), ssl.getTrustStoreType());
    return new SslConfiguration(
        keyStore, trustStore, ssl.getEnabledProtocols(), ssl.getEnabledCipherSuites());
  }

  private static KeyStoreConfiguration storeOf(
      @Nullable Resource resource, @Nullable String password, @Nullable String type) {
    if (resource == null) {
      return KeyStoreConfiguration.unconfigured();
    }
    KeyStoreConfiguration store =
        StringUtils.hasText(password)
            ? KeyStoreConfiguration.of(resource, password.toCharArray())
            : KeyStoreConfiguration.of(resource);
    return StringUtils.hasText(type) ? store.withStoreType(type) : store;
  }

  private static PoolingHttpClientConnectionManager poolOf(HttpClientBuilder builder) {
    try {
      Field field = HttpClientBuilder.class.getDeclaredField("connManager");
      field.setAccessible(true);
      if (field.get(builder) instanceof PoolingHttpClientConnectionManager pool) {
        return pool;
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "Spring Vault's HTTP client builder no longer exposes its connection pool; the Vault pool"
              + " cannot be sized to the bulkhead",
          e);
    }
    throw new IllegalStateException(
        "Spring Vault's HTTP client builder holds no pooling connection manager; the Vault pool"
            + " cannot be sized to the bulkhead");
  }

  /**
   * Follows Vault's redirects as Spring Vault's client does (a standby that does not forward
   * requests answers 307 with the active node's {@code api_addr}), except to plain HTTP on another
   * machine: HttpClient sends the request again with its {@code X-Vault-Token} header (it strips
   * only {@code Authorization} and cookies), and a login's body holds the broker's service-account
   * token. The configured address is checked at startup ({@code VaultConfiguration}); a redirect
   * must not get around that.
   */
  static final class NoClearTextRedirects extends DefaultRedirectStrategy {

    @Override
    public URI getLocationURI(HttpRequest request, HttpResponse response, HttpContext context)
        throws HttpException {
      URI location = super.getLocationURI(request, response, context);
      if (LoopbackHosts.isClearTextBeyondThisMachine(location.getScheme(), location.getHost())) {
        throw new ProtocolException(
            "refusing Vault's redirect to "
                + LoopbackHosts.origin(location)
                + ": plain HTTP to another machine would carry the Vault token in clear text");
      }
      return location;
    }
  }
}
