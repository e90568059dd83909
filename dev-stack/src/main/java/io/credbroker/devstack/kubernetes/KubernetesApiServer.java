package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.credbroker.devstack.http.HttpEndpoint;
import io.credbroker.devstack.http.HttpFaults;
import io.credbroker.devstack.http.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kubernetes API server stand-in on HTTPS, wire-compatible with kube-apiserver for the paths the
 * broker, Vault's Kubernetes auth method, kubectl and client libraries use: discovery, core/v1
 * namespaces, service accounts and pods (get, list, create, delete, and watch over HTTP with
 * resourceVersion, bookmarks and 410 Gone; not over WebSocket), TokenRequest, TokenReview,
 * SubjectAccessReview (RBAC from YAML) and OIDC discovery. Development and tests only.
 *
 * <p>Lifecycle: {@link #start} binds, writes {@code <stateDir>/ca.crt} and {@code
 * <stateDir>/kubeconfig} and serves at once; {@link #close} frees the port. Objects live in memory
 * and are gone after a restart. The cluster CA, the service-account signing key and the admin token
 * are kept in {@code stateDir}, so a restarted server is still trusted by clients configured with
 * the old CA, kubeconfig or JWKS; tokens issued before a restart do not validate after it, because
 * the service accounts and pods they are bound to are recreated with new UIDs, as after a real
 * cluster rebuild.
 *
 * <p>Thread-safe: the in-process conveniences may be called from any thread while the server
 * serves; each does exactly what the corresponding REST call does.
 */
public final class KubernetesApiServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesApiServer.class);

  /** The audience tokens get when none is asked for, and the issuer of every token. */
  public static final String API_AUDIENCE = ServiceAccountTokens.ISSUER;

  static final String KUBECONFIG_FILE = "kubeconfig";
  static final String ADMIN_TOKEN_FILE = "admin-token";

  /**
   * The kubeconfig context of the dev stack's on-call engineer: user {@code jane@example.com}
   * (group {@code sre}), authenticated by a static token, bound to {@code credbroker-revoker}.
   */
  public static final String SRE_CONTEXT = "credbroker-dev-sre";

  /** The Kubernetes user name of {@link #SRE_CONTEXT}. */
  public static final String SRE_USER = StaticTokens.SRE.username();

  private static final String DEFAULT_RBAC = "default-rbac.yaml";
  private static final List<String> BOOTSTRAP_NAMESPACES =
      List.of("default", "kube-system", "kube-public", "public", "credbroker", "ops");
  private static final List<String> BOOTSTRAP_SERVICE_ACCOUNTS =
      List.of("public/application", "credbroker/credential-broker", "ops/sre");

  private final HttpEndpoint endpoint;
  private final URI url;
  private final Path kubeconfigPath;
  private final Path caCertPath;
  private final ClusterCertificates certificates;
  private final String adminToken;
  private final StaticTokens people;
  private final ClusterStore store;
  private final ServiceAccountTokens tokens;
  private final KubernetesApi api;

  private KubernetesApiServer(
      HttpEndpoint endpoint,
      URI url,
      Path kubeconfigPath,
      Path caCertPath,
      ClusterCertificates certificates,
      String adminToken,
      StaticTokens people,
      ClusterStore store,
      ServiceAccountTokens tokens,
      KubernetesApi api) {
    this.endpoint = endpoint;
    this.url = url;
    this.kubeconfigPath = kubeconfigPath;
    this.caCertPath = caCertPath;
    this.certificates = certificates;
    this.adminToken = adminToken;
    this.people = people;
    this.store = store;
    this.tokens = tokens;
    this.api = api;
  }

  /**
   * Starts the server.
   *
   * @param host the address to bind, e.g. {@code 127.0.0.1}; also the host in the kubeconfig
   * @param port the port, 0 for a free one
   * @param stateDir where the CA, signing key, admin token and kubeconfig are kept; created if
   *     missing
   * @param rbacFile YAML with ClusterRole/ClusterRoleBinding/Role/RoleBinding (and optionally
   *     Namespace/ServiceAccount) objects replacing the built-in dev RBAC, or null for the built-in
   *     one
   * @throws IllegalArgumentException when the RBAC file cannot be used
   * @throws UncheckedIOException when the state directory cannot be written or the port bound
   */
  public static KubernetesApiServer start(
      String host, int port, Path stateDir, @Nullable Path rbacFile) {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(stateDir, "stateDir");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0..65535, was " + port);
    }
    RbacPolicy rbac = loadRbac(rbacFile);
    try {
      Files.createDirectories(stateDir);
      Clock clock = Clock.systemUTC();
      ClusterCertificates certificates = ClusterCertificates.loadOrCreate(stateDir, host);
      ClusterStore store = new ClusterStore(clock);
      ServiceAccountTokens tokens = ServiceAccountTokens.loadOrCreate(stateDir, store, clock);
      String adminToken = loadOrCreateAdminToken(stateDir.resolve(ADMIN_TOKEN_FILE));
      StaticTokens people = StaticTokens.loadOrCreate(stateDir, List.of(StaticTokens.SRE));
      bootstrap(store, rbac);

      String[] jwksUri = new String[1];
      KubernetesApi api =
          new KubernetesApi(store, tokens, rbac, adminToken, people, clock, ignored -> jwksUri[0]);
      HttpEndpoint endpoint =
          HttpEndpoint.start(
              new InetSocketAddress(host, port), certificates.sslContext(), "kube-api", api);
      URI url = URI.create("https://" + uriHost(host) + ":" + endpoint.port());
      jwksUri[0] = url + "/openid/v1/jwks";
      Path kubeconfig = stateDir.resolve(KUBECONFIG_FILE);
      StateFiles.writePrivate(
          kubeconfig,
          kubeconfigYaml(
              url,
              certificates.caPem(),
              adminToken,
              people.tokenOf(StaticTokens.SRE.kubeconfigUser())));
      log.info("Kubernetes API stand-in listening on {} (kubeconfig {})", url, kubeconfig);
      return new KubernetesApiServer(
          endpoint,
          url,
          kubeconfig,
          stateDir.resolve(ClusterCertificates.CA_CERT_FILE),
          certificates,
          adminToken,
          people,
          store,
          tokens,
          api);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the state directory " + stateDir, e);
    }
  }

  /** {@code https://host:port}. */
  public URI url() {
    return url;
  }

  public int port() {
    return endpoint.port();
  }

  /**
   * Delays or error answers injected in front of the whole API (see {@link HttpFaults}), e.g. the
   * 429 that API Priority and Fairness answers when a client's flow is over its share. A watch
   * already streaming is not affected.
   */
  public HttpFaults faults() {
    return endpoint.faults();
  }

  /**
   * A kubeconfig for user {@code admin} (group {@code system:masters}, the current context) and, in
   * context {@link #SRE_CONTEXT}, for the person {@link #SRE_USER}; owner-readable only.
   */
  public Path kubeconfigPath() {
    return kubeconfigPath;
  }

  /** The cluster CA certificate (PEM) that signed the serving certificate. */
  public Path caCertPath() {
    return caCertPath;
  }

  /**
   * Issues a serving certificate signed by the cluster CA ({@link #caCertPath}) for {@code
   * commonName} and {@code names} (DNS names and IP addresses) into {@code dir}, as files named
   * like the keys of a Kubernetes TLS Secret issued by cert-manager: {@code tls.crt}, {@code
   * tls.key}, {@code ca.crt}. Called again, it replaces them with a new key and certificate.
   */
  public void issueServingCertificate(Path dir, String commonName, List<String> names) {
    certificates.writeServingCertificate(dir, commonName, names);
  }

  /**
   * A server TLS context for the certificate {@link #issueServingCertificate} wrote into {@code
   * dir}.
   */
  public SSLContext servingContext(Path dir) {
    return certificates.servingContext(dir);
  }

  /** A client TLS context that trusts the cluster CA ({@link #caCertPath}) and no other. */
  public SSLContext clientContext() {
    return certificates.clientContext();
  }

  /** The static bearer token of {@link #SRE_USER}, the kubeconfig's user {@code sre}. */
  public String sreToken() {
    return people.tokenOf(StaticTokens.SRE.kubeconfigUser());
  }

  /** The static bearer token of user {@code admin}, allowed everything. */
  public String adminToken() {
    return adminToken;
  }

  /**
   * Sets the clock-skew allowance applied to {@code exp} and {@code nbf} when tokens are reviewed.
   * The real API server allows 60 s (the default here); tests that watch a token expire may lower
   * it.
   */
  public void tokenLeeway(Duration leeway) {
    tokens.leeway(leeway);
  }

  /**
   * How many TokenReview requests this server has answered since it started (every caller: the
   * broker, Vault's Kubernetes auth, the admin API), so that tests can count what a flood of
   * requests cost the API server.
   */
  public long tokenReviewCount() {
    return api.tokenReviewCount();
  }

  @Override
  public void close() {
    endpoint.close();
  }

  /**
   * Forgets the watch history, as etcd compaction does: a client that watches again from a
   * resourceVersion it saw before gets 410 Gone and must list again. For tests of that path.
   */
  public void compactWatchHistory() {
    store.compactHistory();
  }

  /**
   * Keeps at most {@code events} changes for watches that resume from a resourceVersion (1000 by
   * default); older ones get 410 Gone.
   */
  public void watchHistoryLimit(int events) {
    store.historyLimit(events);
  }

  /** How often a watch that allows bookmarks gets one (10 s by default). */
  public void watchBookmarkInterval(Duration interval) {
    api.bookmarkInterval(interval);
  }

  /**
   * Ends every open watch and answers new watch requests 429 "storage is (re)initializing" (with
   * Retry-After), as the real server does while its watch cache re-initializes, until {@link
   * #resumeWatches}. Clients watch again from the last resourceVersion they saw. For tests of that
   * path; lists and everything else go on being served.
   */
  public void interruptWatches() {
    api.interruptWatches();
  }

  /** Serves watches again after {@link #interruptWatches}. */
  public void resumeWatches() {
    api.resumeWatches();
  }

  /** How many watches have been answered 410 Gone (a resourceVersion older than the history). */
  public long expiredWatches() {
    return store.expiredWatches();
  }

  /** How many watches are open now. */
  public int openWatches() {
    return store.openWatches();
  }

  /** Creates a namespace unless it exists. */
  public void createNamespace(String name) {
    if (store.find(ResourceKind.NAMESPACE, null, name) == null) {
      try {
        store.create(ResourceKind.NAMESPACE, null, object(name, null));
      } catch (ApiException e) {
        rethrowUnlessAlreadyExists(e);
      }
    }
  }

  /**
   * Creates a service account unless it exists.
   *
   * @return its UID
   * @throws IllegalArgumentException when the namespace does not exist or the name is invalid
   */
  public String createServiceAccount(String namespace, String name) {
    try {
      ObjectNode existing = store.find(ResourceKind.SERVICE_ACCOUNT, namespace, name);
      if (existing == null) {
        existing = store.create(ResourceKind.SERVICE_ACCOUNT, namespace, object(name, namespace));
      }
      return existing.path("metadata").path("uid").asText();
    } catch (ApiException e) {
      if (e.code() == 409) {
        return Objects.requireNonNull(store.uidOf(ResourceKind.SERVICE_ACCOUNT, namespace, name));
      }
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * Creates a running pod that runs as {@code serviceAccount}.
   *
   * @return the pod's UID, new each time a pod of that name is created
   * @throws IllegalArgumentException when the namespace or service account does not exist or the
   *     pod already exists
   */
  public String createPod(String namespace, String name, String serviceAccount) {
    ObjectNode pod = object(name, namespace);
    ObjectNode spec = pod.putObject("spec");
    spec.put("serviceAccountName", serviceAccount);
    spec.putArray("containers")
        .addObject()
        .put("name", "app")
        .put("image", "registry.k8s.io/pause:3.10");
    try {
      return store.create(ResourceKind.POD, namespace, pod).path("metadata").path("uid").asText();
    } catch (ApiException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * Deletes a pod at once; tokens bound to it stop validating.
   *
   * @throws IllegalArgumentException when there is no such pod
   */
  public void deletePod(String namespace, String name) {
    try {
      store.delete(ResourceKind.POD, namespace, name);
    } catch (ApiException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * Issues a service-account token as TokenRequest does, bound to a pod when {@code podName} is
   * given. Unlike the REST call, which refuses less than 10 minutes, any positive {@code ttl} is
   * accepted so tests can watch tokens expire.
   *
   * @param audiences the {@code aud} claim; empty means the API server's audience
   * @throws IllegalArgumentException when the service account or pod does not exist, the pod runs
   *     as another service account, or {@code ttl} is not positive
   */
  public String issueToken(
      String namespace,
      String serviceAccount,
      @Nullable String podName,
      List<String> audiences,
      Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    List<String> auds = audiences.isEmpty() ? List.of(API_AUDIENCE) : List.copyOf(audiences);
    try {
      return api.mint(namespace, serviceAccount, podName, "", auds, ttl).token().token();
    } catch (ApiException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static void rethrowUnlessAlreadyExists(ApiException e) {
    if (e.code() != 409) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static ObjectNode object(String name, @Nullable String namespace) {
    ObjectNode object = Json.MAPPER.createObjectNode();
    ObjectNode metadata = object.putObject("metadata").put("name", name);
    if (namespace != null) {
      metadata.put("namespace", namespace);
    }
    return object;
  }

  private static RbacPolicy loadRbac(@Nullable Path rbacFile) {
    if (rbacFile != null) {
      try (InputStream in = Files.newInputStream(rbacFile)) {
        return RbacPolicy.load(in, rbacFile.toString());
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "cannot read RBAC file " + rbacFile + ": " + e.getMessage(), e);
      }
    }
    try (InputStream in = KubernetesApiServer.class.getResourceAsStream(DEFAULT_RBAC)) {
      if (in == null) {
        throw new IllegalStateException(
            "the built-in " + DEFAULT_RBAC + " is missing from the classpath");
      }
      return RbacPolicy.load(in, DEFAULT_RBAC);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void bootstrap(ClusterStore store, RbacPolicy rbac) {
    for (String namespace : BOOTSTRAP_NAMESPACES) {
      store.create(ResourceKind.NAMESPACE, null, object(namespace, null));
    }
    for (String namespace : BOOTSTRAP_NAMESPACES) {
      store.create(ResourceKind.SERVICE_ACCOUNT, namespace, object("default", namespace));
    }
    for (String qualified : BOOTSTRAP_SERVICE_ACCOUNTS) {
      String[] parts = qualified.split("/", 2);
      if (store.find(ResourceKind.SERVICE_ACCOUNT, parts[0], parts[1]) == null) {
        store.create(ResourceKind.SERVICE_ACCOUNT, parts[0], object(parts[1], parts[0]));
      }
    }
    // Namespaces first, so service accounts from the YAML land in namespaces it also declares.
    List<ObjectNode> seeds = rbac.seedObjects();
    for (ObjectNode seed : seeds) {
      if (seed.path("kind").asText().equals("Namespace")) {
        String name = seed.path("metadata").path("name").asText();
        if (store.find(ResourceKind.NAMESPACE, null, name) == null) {
          store.create(ResourceKind.NAMESPACE, null, seed);
          store.create(ResourceKind.SERVICE_ACCOUNT, name, object("default", name));
        }
      }
    }
    for (ObjectNode seed : seeds) {
      if (seed.path("kind").asText().equals("ServiceAccount")) {
        String namespace = seed.path("metadata").path("namespace").asText("default");
        String name = seed.path("metadata").path("name").asText();
        if (store.find(ResourceKind.SERVICE_ACCOUNT, namespace, name) == null) {
          try {
            store.create(ResourceKind.SERVICE_ACCOUNT, namespace, seed);
          } catch (ApiException e) {
            throw new IllegalArgumentException(
                "RBAC file: ServiceAccount " + namespace + "/" + name + ": " + e.getMessage(), e);
          }
        }
      }
    }
  }

  private static String loadOrCreateAdminToken(Path file) throws IOException {
    if (Files.isRegularFile(file)) {
      String token = Files.readString(file, StandardCharsets.UTF_8).trim();
      if (!token.isEmpty()) {
        return token;
      }
    }
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    String token = "admin-" + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    StateFiles.writePrivate(file, token + "\n");
    return token;
  }

  private static String kubeconfigYaml(URI url, String caPem, String adminToken, String sreToken)
      throws IOException {
    String name = "credbroker-dev";
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("apiVersion", "v1");
    config.put("kind", "Config");
    config.put(
        "clusters",
        List.of(
            Map.of(
                "name",
                name,
                "cluster",
                Map.of(
                    "server",
                    url.toString(),
                    "certificate-authority-data",
                    Base64.getEncoder()
                        .encodeToString(caPem.getBytes(StandardCharsets.US_ASCII))))));
    config.put(
        "users",
        List.of(
            Map.of("name", "admin", "user", Map.of("token", adminToken)),
            Map.of("name", StaticTokens.SRE.kubeconfigUser(), "user", Map.of("token", sreToken))));
    config.put(
        "contexts",
        List.of(
            Map.of("name", name, "context", Map.of("cluster", name, "user", "admin")),
            Map.of(
                "name",
                SRE_CONTEXT,
                "context",
                Map.of("cluster", name, "user", StaticTokens.SRE.kubeconfigUser()))));
    config.put("current-context", name);
    config.put("preferences", Map.of());
    return new YAMLMapper().writeValueAsString(config);
  }

  private static String uriHost(String host) {
    return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }

  @Override
  public String toString() {
    return "KubernetesApiServer[" + url + "]";
  }
}
