package io.credbroker.devstack.vault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.HttpEndpoint;
import io.credbroker.devstack.http.HttpFaults;
import io.credbroker.devstack.http.Json;
import io.credbroker.devstack.vault.LeaseManager.MountedEngine;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Vault stand-in: an HTTP server speaking Vault's API for token auth, ACL policies, the mount
 * tables, the Kubernetes auth method, leases, and the secrets engines mounted through {@link
 * SecretsEngineFactory} (the database engine, KV version 1).
 *
 * <p>Lifecycle: {@link #start} opens the state in PostgreSQL (schema {@code vault}, created if
 * missing), re-mounts what was mounted before, makes sure the root token exists, starts the expiry
 * timer (which at once revokes leases and tokens that expired while the server was down) and starts
 * listening. {@link #close} stops listening and the timer and closes the engines; all state stays
 * in PostgreSQL, so a new server on the same database continues where this one stopped.
 * Thread-safe.
 */
public final class VaultServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(VaultServer.class);
  static final String DATABASE_FACTORY =
      "io.credbroker.devstack.vault.database.DatabaseEngineFactory";

  /**
   * Where the server listens and keeps its state. {@link #toString} hides the secrets.
   *
   * @param port the plain HTTP listener's port (0: a free one)
   * @param tls a second listener serving the same API with TLS, as a real Vault with two {@code
   *     listener "tcp"} stanzas does; null for none
   */
  public record Options(
      String host,
      int port,
      String rootToken,
      String jdbcUrl,
      String databaseUser,
      String databasePassword,
      Duration expiryInterval,
      @Nullable TlsListener tls) {

    public Options {
      Objects.requireNonNull(rootToken, "rootToken");
      if (rootToken.isBlank()) {
        throw new IllegalArgumentException("root token must not be blank");
      }
    }

    @Override
    public String toString() {
      return "Options[host=" + host + ", port=" + port + ", jdbcUrl=" + jdbcUrl + "]";
    }
  }

  /**
   * The TLS listener: its port (0: a free one) and the server's TLS context.
   *
   * @param context serves a certificate whose names include the listener's host
   */
  public record TlsListener(int port, SSLContext context) {
    public TlsListener {
      Objects.requireNonNull(context, "context");
    }
  }

  private final VaultStore store;
  private final Clock clock;
  private final Map<String, SecretsEngineFactory> factories;
  final Map<String, MountedEngine> secretMounts = new ConcurrentHashMap<>();
  final Map<String, AuthMount> authMounts = new ConcurrentHashMap<>();
  final LeaseManager leases;
  final Tokens tokens;
  final Policies policies;
  final TokenStoreApi tokenStore;
  private final ScheduledExecutorService timer;
  private @Nullable HttpEndpoint endpoint;
  private @Nullable HttpEndpoint tlsEndpoint;
  private final String rootToken;

  record AuthMount(Mount mount, KubernetesAuth method) {}

  private VaultServer(VaultStore store, Clock clock, String rootToken) {
    this.store = store;
    this.clock = clock;
    this.rootToken = rootToken;
    this.factories = loadFactories();
    this.leases = new LeaseManager(store, secretMounts::get, clock);
    TokenRoles tokenRoles = new TokenRoles(store.storage(TokenRoles.STORAGE_ID));
    this.tokens = new Tokens(store, leases, tokenRoles, this::loginTerms, clock);
    this.policies = new Policies(store);
    this.tokenStore = new TokenStoreApi(tokens, tokenRoles, policies, clock);
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "vault-expiry");
              t.setDaemon(true);
              return t;
            });
    leases.onLeasesDue(
        () -> {
          try {
            timer.execute(this::expire);
          } catch (RejectedExecutionException closing) {
            // Shutting down: the leases stay due for the next start.
          }
        });
  }

  public static VaultServer start(Options options) {
    VaultStore store =
        VaultStore.open(options.jdbcUrl(), options.databaseUser(), options.databasePassword());
    VaultServer server = new VaultServer(store, Clock.systemUTC(), options.rootToken());
    try {
      server.policies.ensureBuiltIns();
      server.tokens.ensureRoot(options.rootToken());
      server.restoreMounts();
      server.timer.scheduleWithFixedDelay(
          server::expire, 0, options.expiryInterval().toMillis(), TimeUnit.MILLISECONDS);
      VaultHttp http = new VaultHttp(server);
      HttpFaults faults = new HttpFaults();
      server.endpoint =
          HttpEndpoint.start(
              new InetSocketAddress(options.host(), options.port()),
              null,
              "vault",
              http::handle,
              faults);
      log.info("Vault stand-in listening on {}", server.address());
      TlsListener tls = options.tls();
      if (tls != null) {
        server.tlsEndpoint =
            HttpEndpoint.start(
                new InetSocketAddress(options.host(), tls.port()),
                tls.context(),
                "vault-tls",
                http::handle,
                faults);
        log.info("Vault stand-in listening on {}", server.tlsAddress());
      }
      return server;
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
  }

  /** {@code http://host:port}. */
  public String address() {
    HttpEndpoint e = Objects.requireNonNull(endpoint, "not listening");
    return "http://" + e.host() + ":" + e.port();
  }

  public int port() {
    return Objects.requireNonNull(endpoint, "not listening").port();
  }

  /** {@code https://host:port} of the TLS listener. */
  public String tlsAddress() {
    HttpEndpoint e = Objects.requireNonNull(tlsEndpoint, "no TLS listener");
    return "https://" + e.host() + ":" + e.port();
  }

  /** The TLS listener's port. */
  public int tlsPort() {
    return Objects.requireNonNull(tlsEndpoint, "no TLS listener").port();
  }

  public String rootToken() {
    return rootToken;
  }

  /**
   * Delays or error answers injected in front of the whole HTTP API, on both listeners (see {@link
   * HttpFaults}); a restarted server starts without faults.
   */
  public HttpFaults faults() {
    return Objects.requireNonNull(endpoint, "not listening").faults();
  }

  @Override
  public void close() {
    if (tlsEndpoint != null) {
      tlsEndpoint.close();
    }
    if (endpoint != null) {
      endpoint.close();
    }
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    secretMounts.values().forEach(m -> closeQuietly(m.engine()));
    secretMounts.clear();
    store.close();
  }

  private void expire() {
    try {
      tokens.revokeExpired();
      leases.revokeDue();
    } catch (RuntimeException e) {
      log.warn("expiry pass failed: {}", e.toString());
    }
  }

  // ---- mounts ----

  private static Map<String, SecretsEngineFactory> loadFactories() {
    Map<String, SecretsEngineFactory> f = new ConcurrentHashMap<>();
    f.put("kv", KvEngine.FACTORY);
    try {
      SecretsEngineFactory db =
          (SecretsEngineFactory)
              Class.forName(DATABASE_FACTORY).getDeclaredConstructor().newInstance();
      f.put(db.type(), db);
    } catch (ReflectiveOperationException | LinkageError e) {
      log.warn("database secrets engine not available: {}", e.toString());
    }
    return f;
  }

  private void restoreMounts() {
    for (JsonNode n : store.mounts("secret")) {
      Mount m = Mount.fromJson(n);
      SecretsEngineFactory factory = factories.get(m.type());
      if (factory == null) {
        log.warn("cannot restore mount {}: no engine of type {}", m.path(), m.type());
        continue;
      }
      secretMounts.put(m.path(), new MountedEngine(m, factory.create(context(m.path(), m.uuid()))));
    }
    for (JsonNode n : store.mounts("auth")) {
      Mount m = Mount.fromJson(n);
      authMounts.put(
          m.path(),
          new AuthMount(m, new KubernetesAuth(m, store.storage(m.uuid()), tokens, clock)));
    }
  }

  void enableSecretMount(
      String path,
      String type,
      String description,
      Duration defaultTtl,
      Duration maxTtl,
      Map<String, String> options) {
    if (path.equals("sys/")
        || path.startsWith("auth/")
        || path.equals("cubbyhole/")
        || path.equals("identity/")) {
      throw VaultException.badRequest("cannot mount at reserved path \"" + path + "\"");
    }
    SecretsEngineFactory factory = factories.get(type);
    if (factory == null) {
      throw VaultException.badRequest("plugin not found in the catalog: " + type);
    }
    if ("kv".equals(type) && "2".equals(options.get("version"))) {
      throw VaultException.badRequest("the dev-stack Vault stand-in offers KV version 1 only");
    }
    synchronized (secretMounts) {
      for (String existing : secretMounts.keySet()) {
        if (existing.startsWith(path) || path.startsWith(existing)) {
          throw VaultException.badRequest("path is already in use at " + existing);
        }
      }
      Mount m =
          new Mount(
              path,
              type,
              Ids.uuid(),
              type + "_" + Ids.uuid().substring(0, 8),
              description,
              defaultTtl,
              maxTtl,
              options);
      SecretsEngine engine = factory.create(context(path, m.uuid()));
      store.putMount("secret", path, m.toJson());
      secretMounts.put(path, new MountedEngine(m, engine));
    }
  }

  void disableSecretMount(String path) {
    MountedEngine m = secretMounts.get(path);
    if (m == null) {
      return;
    }
    // Vault revokes every lease of the mount before removing it.
    leases.revokePrefix(path, true);
    secretMounts.remove(path);
    store.deleteMount("secret", path);
    store.deleteStorage(m.mount().uuid());
    closeQuietly(m.engine());
  }

  void tuneSecretMount(
      String path,
      @Nullable Duration defaultTtl,
      @Nullable Duration maxTtl,
      @Nullable String description) {
    MountedEngine m = secretMounts.get(path);
    if (m == null) {
      throw VaultException.badRequest("cannot tune \"" + path + "\": no mount");
    }
    Mount old = m.mount();
    Mount tuned =
        old.tuned(
            defaultTtl == null ? old.defaultLeaseTtl() : defaultTtl,
            maxTtl == null ? old.maxLeaseTtl() : maxTtl,
            description == null ? old.description() : description);
    store.putMount("secret", path, tuned.toJson());
    secretMounts.put(path, new MountedEngine(tuned, m.engine()));
  }

  void enableAuthMount(String path, String type, String description) {
    if (path.equals("token/")) {
      throw VaultException.badRequest("path is already in use at token/");
    }
    if (!type.equals("kubernetes")) {
      throw VaultException.badRequest("plugin not found in the catalog: " + type);
    }
    synchronized (authMounts) {
      if (authMounts.containsKey(path)) {
        throw VaultException.badRequest("path is already in use at " + path);
      }
      Mount m =
          new Mount(
              path,
              type,
              Ids.uuid(),
              "auth_" + type + "_" + Ids.uuid().substring(0, 8),
              description,
              Duration.ZERO,
              Duration.ZERO,
              Map.of());
      store.putMount("auth", path, m.toJson());
      authMounts.put(
          path, new AuthMount(m, new KubernetesAuth(m, store.storage(m.uuid()), tokens, clock)));
    }
  }

  /**
   * What the auth method that logged {@code token} in grants at its renewal ({@link
   * Tokens.LoginTerms}).
   *
   * @throws VaultException 500 when that method is no longer mounted or its role is gone
   */
  private Tokens.LoginTerms loginTerms(Token token) {
    String roleName = token.role();
    if (roleName != null) {
      for (AuthMount m : authMounts.values()) {
        if (token.path().equals("auth/" + m.mount().path() + "login")) {
          return m.method().renewalTerms(roleName);
        }
      }
    }
    throw VaultException.backendError("failed to renew entry: no handler for route");
  }

  void disableAuthMount(String path) {
    AuthMount m = authMounts.remove(path);
    if (m != null) {
      store.deleteMount("auth", path);
      store.deleteStorage(m.mount().uuid());
    }
  }

  /** The secret mount a path falls under (longest mount prefix), or null. */
  @Nullable MountedEngine secretMountFor(String path) {
    MountedEngine best = null;
    for (MountedEngine m : secretMounts.values()) {
      String mp = m.mount().path();
      if ((path.startsWith(mp) || (path + "/").equals(mp))
          && (best == null || mp.length() > best.mount().path().length())) {
        best = m;
      }
    }
    return best;
  }

  @Nullable AuthMount authMountFor(String pathAfterAuth) {
    AuthMount best = null;
    for (AuthMount m : authMounts.values()) {
      String mp = m.mount().path();
      if ((pathAfterAuth.startsWith(mp) || (pathAfterAuth + "/").equals(mp))
          && (best == null || mp.length() > best.mount().path().length())) {
        best = m;
      }
    }
    return best;
  }

  ObjectNode clusterInfo() {
    EngineStorage core = store.storage("core");
    return (ObjectNode)
        core.get("cluster")
            .orElseGet(
                () -> {
                  ObjectNode n = Json.MAPPER.createObjectNode();
                  n.put("cluster_name", "vault-cluster-" + Ids.uuid().substring(0, 8));
                  n.put("cluster_id", Ids.uuid());
                  core.put("cluster", n);
                  return n;
                });
  }

  Clock clock() {
    return clock;
  }

  private EngineContext context(String mountPath, String uuid) {
    EngineStorage storage = store.storage(uuid);
    return new EngineContext() {
      @Override
      public String mountPath() {
        return mountPath;
      }

      @Override
      public Duration defaultLeaseTtl() {
        return current().effectiveDefaultTtl();
      }

      @Override
      public Duration maxLeaseTtl() {
        return current().effectiveMaxTtl();
      }

      @Override
      public EngineStorage storage() {
        return storage;
      }

      @Override
      public LeaseRecord registerLease(
          EngineRequest request, Duration ttl, Duration maxTtl, JsonNode engineData) {
        return leases.register(request, current(), ttl, maxTtl, engineData);
      }

      private Mount current() {
        MountedEngine m = secretMounts.get(mountPath);
        if (m == null) {
          throw VaultException.backendError("mount " + mountPath + " is not mounted");
        }
        return m.mount();
      }
    };
  }

  List<Mount> secretMountList() {
    List<Mount> list = new ArrayList<>();
    secretMounts.values().forEach(m -> list.add(m.mount()));
    list.sort((a, b) -> a.path().compareTo(b.path()));
    return list;
  }

  List<Mount> authMountList() {
    List<Mount> list = new ArrayList<>();
    authMounts.values().forEach(m -> list.add(m.mount()));
    list.sort((a, b) -> a.path().compareTo(b.path()));
    return list;
  }

  private static void closeQuietly(SecretsEngine engine) {
    try {
      engine.close();
    } catch (RuntimeException e) {
      log.warn("closing a secrets engine failed: {}", e.toString());
    }
  }
}
