package io.credbroker.devstack.vault.database;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.vault.EngineContext;
import io.credbroker.devstack.vault.EngineRequest;
import io.credbroker.devstack.vault.LeaseRecord;
import io.credbroker.devstack.vault.Operation;
import io.credbroker.devstack.vault.RenewalGrant;
import io.credbroker.devstack.vault.SecretsEngine;
import io.credbroker.devstack.vault.VaultException;
import io.credbroker.devstack.vault.VaultResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mount of Vault's database secrets engine with the PostgreSQL plugin. Paths (relative to the
 * mount): {@code config/:name}, {@code config/} (list), {@code reset/:name}, {@code
 * rotate-root/:name}, {@code roles/:name}, {@code roles/} (list), {@code creds/:role}. Configs and
 * roles live in the mount's persistent storage; connection pools are built lazily from it, so a
 * restarted stand-in carries on where it stopped.
 *
 * <p>Thread-safe: requests, renewals and the core's expiry timer call it concurrently. Changes to a
 * connection (config write or delete, reset, root rotation) are serialised by one lock. Credential
 * operations (creation, renewal, revocation, root rotation) on one connection config run one at a
 * time, as the real plugin serialises them (see {@link PostgresDatabase}); those on different
 * configs run in parallel. Lives until {@link #close}.
 */
final class DatabaseEngine implements SecretsEngine {

  private static final Logger log = LoggerFactory.getLogger(DatabaseEngine.class);

  static final String PLUGIN_NAME = "postgresql-database-plugin";

  /** Vault's framework.GenericNameRegex, anchored like every framework path. */
  private static final String NAME = "(\\w(?:[\\w\\-.]*\\w)?)";

  private static final Pattern CONFIG = Pattern.compile("config/" + NAME);
  private static final Pattern RESET = Pattern.compile("reset/" + NAME);
  private static final Pattern ROTATE_ROOT = Pattern.compile("rotate-root/" + NAME);
  private static final Pattern ROLE = Pattern.compile("roles/" + NAME);
  private static final Pattern CREDS = Pattern.compile("creds/" + NAME);

  /** The fields a role write understands; anything else is ignored with Vault's warning. */
  private static final Set<String> ROLE_FIELDS =
      Set.of(
          "name",
          "db_name",
          "credential_type",
          "credential_config",
          "default_ttl",
          "max_ttl",
          "creation_statements",
          "revocation_statements",
          "renew_statements",
          "rollback_statements");

  /** Config fields Vault keeps beside, not inside, the plugin's connection details. */
  private static final Set<String> CONFIG_FIELDS =
      Set.of(
          "name",
          "plugin_name",
          "plugin_version",
          "allowed_roles",
          "verify_connection",
          "root_rotation_statements",
          "password_policy");

  /** The backend adds this to the credential's expiry so the role outlives its lease a little. */
  private static final Duration EXPIRATION_BUFFER = Duration.ofSeconds(5);

  private final EngineContext context;
  private final Map<String, PostgresDatabase> connections = new ConcurrentHashMap<>();
  private final Object connectionLock = new Object();

  DatabaseEngine(EngineContext context) {
    this.context = context;
  }

  // ------------------------------------------------------------------ routing

  @Override
  public VaultResponse handle(EngineRequest request) {
    String path = request.path();
    Operation op = request.operation();
    Matcher m;
    if (path.equals("config") || path.equals("config/")) {
      require(op, Operation.LIST);
      return list("config/");
    }
    if (path.equals("roles") || path.equals("roles/")) {
      require(op, Operation.LIST);
      return list("role/");
    }
    if ((m = CONFIG.matcher(path)).matches()) {
      String name = m.group(1);
      return switch (op) {
        case READ -> readConfig(name);
        case CREATE, UPDATE -> writeConfig(name, request);
        case DELETE -> deleteConfig(name);
        default -> throw unsupportedOperation();
      };
    }
    if ((m = ROLE.matcher(path)).matches()) {
      String name = m.group(1);
      return switch (op) {
        case READ -> readRole(name);
        case CREATE, UPDATE -> writeRole(name, request);
        case DELETE -> deleteRole(name);
        default -> throw unsupportedOperation();
      };
    }
    if ((m = CREDS.matcher(path)).matches()) {
      require(op, Operation.READ);
      return createCredentials(m.group(1), request);
    }
    if ((m = ROTATE_ROOT.matcher(path)).matches()) {
      requireWrite(op);
      return rotateRoot(m.group(1));
    }
    if ((m = RESET.matcher(path)).matches()) {
      requireWrite(op);
      return reset(m.group(1));
    }
    throw new VaultException(404, List.of(VaultException.multiError("unsupported path")));
  }

  private static void require(Operation actual, Operation expected) {
    if (actual != expected) {
      throw unsupportedOperation();
    }
  }

  private static void requireWrite(Operation actual) {
    if (actual != Operation.UPDATE && actual != Operation.CREATE) {
      throw unsupportedOperation();
    }
  }

  private static VaultException unsupportedOperation() {
    return new VaultException(405, List.of(VaultException.multiError("unsupported operation")));
  }

  private VaultResponse list(String prefix) {
    List<String> keys = context.storage().list(prefix);
    if (keys.isEmpty()) {
      throw VaultException.notFound();
    }
    ObjectNode data = JsonNodeFactory.instance.objectNode();
    data.set("keys", StoredConfig.array(keys));
    return VaultResponse.data(data);
  }

  // ------------------------------------------------------------------ config

  private VaultResponse readConfig(String name) {
    StoredConfig config = loadConfig(name).orElseThrow(VaultException::notFound);
    ObjectNode details = config.connectionDetails().deepCopy();
    details.remove("password");
    details.remove("private_key");
    JsonNode url = details.get("connection_url");
    if (url != null && url.isTextual()) {
      details.put("connection_url", GoUrls.redacted(url.asText()));
    }
    ObjectNode data = JsonNodeFactory.instance.objectNode();
    data.set("allowed_roles", StoredConfig.array(config.allowedRoles()));
    data.set("connection_details", details);
    data.put("password_policy", config.passwordPolicy());
    data.put("plugin_name", config.pluginName());
    data.put("plugin_version", config.pluginVersion());
    data.set(
        "root_credentials_rotate_statements", StoredConfig.array(config.rootRotationStatements()));
    data.put("verify_connection", config.verifyConnection());
    return VaultResponse.data(data);
  }

  private VaultResponse writeConfig(String name, EngineRequest request) {
    RequestFields fields = new RequestFields(request.body());
    synchronized (connectionLock) {
      Optional<StoredConfig> existing = loadConfig(name);
      boolean create = existing.isEmpty();
      StoredConfig base =
          existing.orElse(
              new StoredConfig(
                  "", "", JsonNodeFactory.instance.objectNode(), List.of(), List.of(), "", true));
      boolean verify = fields.bool("verify_connection", true);
      String pluginName = fields.string("plugin_name", create ? "" : base.pluginName());
      if (pluginName.isEmpty()) {
        throw VaultException.badRequest("empty plugin name");
      }
      String pluginVersion = fields.string("plugin_version", base.pluginVersion());
      List<String> allowedRoles =
          fields.has("allowed_roles") || create
              ? fields.commaStringSlice("allowed_roles")
              : base.allowedRoles();
      List<String> rootRotation =
          fields.has("root_rotation_statements") || create
              ? fields.stringSlice("root_rotation_statements")
              : base.rootRotationStatements();
      String passwordPolicy = fields.string("password_policy", base.passwordPolicy());

      ObjectNode details =
          create ? JsonNodeFactory.instance.objectNode() : base.connectionDetails().deepCopy();
      for (Iterator<Map.Entry<String, JsonNode>> it = request.body().fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!CONFIG_FIELDS.contains(e.getKey())) {
          details.set(e.getKey(), e.getValue());
        }
      }
      if (!PLUGIN_NAME.equals(pluginName)) {
        throw VaultException.badRequest(
            "error creating database object: invalid database version: 2 errors occurred:\n"
                + "\t* plugin not found in the catalog: "
                + pluginName
                + "\n\t* plugin not found in the catalog: "
                + pluginName
                + "\n\n");
      }
      PostgresDatabase database;
      try {
        database = new PostgresDatabase(name, ConnectionSettings.from(details));
      } catch (DatabaseException e) {
        throw VaultException.badRequest(
            "error creating database object: " + sanitizeWith(details, e.getMessage()));
      }
      if (verify) {
        try {
          database.verifyConnection();
        } catch (DatabaseException e) {
          database.close();
          throw VaultException.badRequest("error creating database object: " + e.getMessage());
        }
      }
      StoredConfig updated =
          new StoredConfig(
              pluginName,
              pluginVersion,
              details,
              allowedRoles,
              rootRotation,
              passwordPolicy,
              verify);
      context.storage().put(configKey(name), updated.toJson());
      PostgresDatabase old = connections.put(name, database);
      if (old != null) {
        old.close();
      }
      log.info(
          "database connection {} configured for {}", name, database.settings().target().jdbcUrl());
      VaultResponse response = VaultResponse.noContent();
      JsonNode url = details.get("connection_url");
      if (url != null && url.isTextual() && GoUrls.hasPassword(url.asText())) {
        response =
            response.withWarning(
                "Password found in connection_url, use a templated url to enable root rotation"
                    + " and prevent read access to password information.");
      }
      return response;
    }
  }

  private VaultResponse deleteConfig(String name) {
    synchronized (connectionLock) {
      context.storage().delete(configKey(name));
      PostgresDatabase old = connections.remove(name);
      if (old != null) {
        old.close();
      }
    }
    return VaultResponse.noContent();
  }

  private VaultResponse reset(String name) {
    synchronized (connectionLock) {
      PostgresDatabase old = connections.remove(name);
      if (old != null) {
        old.close();
      }
      connection(name);
    }
    return VaultResponse.noContent();
  }

  private VaultResponse rotateRoot(String name) {
    synchronized (connectionLock) {
      StoredConfig config =
          loadConfig(name)
              .orElseThrow(
                  () ->
                      VaultException.backendError(
                          "failed to find entry for connection with name: " + goQuote(name)));
      String username = config.connectionDetails().path("username").asText("");
      if (username.isEmpty()) {
        throw VaultException.backendError(
            "unable to rotate root credentials: no username in configuration");
      }
      String password = config.connectionDetails().path("password").asText("");
      if (password.isEmpty()) {
        throw VaultException.backendError(
            "unable to rotate root credentials: no password in configuration");
      }
      PostgresDatabase database = connection(name);
      try {
        String newPassword = generatePassword(config);
        try {
          database.changePassword(username, newPassword, config.rootRotationStatements());
        } catch (DatabaseException e) {
          throw VaultException.backendError("failed to update user: " + e.getMessage());
        }
        context.storage().put(configKey(name), config.withPassword(newPassword).toJson());
        log.info("root credentials of database connection {} rotated", name);
      } finally {
        // Vault closes the plugin after a rotation; the next use connects with the new password.
        connections.remove(name, database);
        database.close();
      }
    }
    return VaultResponse.noContent();
  }

  // ------------------------------------------------------------------ roles

  private VaultResponse readRole(String name) {
    StoredRole role = loadRole(name).orElseThrow(VaultException::notFound);
    return VaultResponse.data(role.toReadResponse());
  }

  private VaultResponse writeRole(String name, EngineRequest request) {
    RequestFields fields = new RequestFields(request.body());
    Optional<StoredRole> existing = loadRole(name);
    boolean create = existing.isEmpty();
    StoredRole base = existing.orElse(StoredRole.empty());

    String dbName = fields.string("db_name", create ? "" : base.dbName());
    if (dbName.isEmpty()) {
      throw VaultException.badRequest("database name is required");
    }
    String credentialType = base.credentialType();
    if (fields.has("credential_type")) {
      credentialType = fields.string("credential_type", "password");
      if (!Set.of("password", "rsa_private_key", "client_certificate").contains(credentialType)) {
        throw VaultException.badRequest("invalid credential_type " + goQuote(credentialType));
      }
    }
    ObjectNode credentialConfig = base.credentialConfig();
    if (fields.has("credential_config")) {
      JsonNode raw = request.body().get("credential_config");
      if (!raw.isObject()) {
        throw VaultException.badRequest(
            "error converting input " + raw + " for field \"credential_config\": invalid type");
      }
      credentialConfig = ((ObjectNode) raw).deepCopy();
    } else if (create) {
      credentialConfig = JsonNodeFactory.instance.objectNode();
    }
    List<String> creation = pick(fields, "creation_statements", create, base.creationStatements());
    List<String> revocation =
        pick(fields, "revocation_statements", create, base.revocationStatements());
    List<String> rollback = pick(fields, "rollback_statements", create, base.rollbackStatements());
    List<String> renew = pick(fields, "renew_statements", create, base.renewStatements());
    // Vault drops empty revocation statements so an empty list means the default revocation.
    revocation = revocation.stream().filter(s -> !s.isEmpty()).toList();
    Duration defaultTtl =
        fields.has("default_ttl") || create
            ? fields.durationSeconds("default_ttl")
            : base.defaultTtl();
    Duration maxTtl =
        fields.has("max_ttl") || create ? fields.durationSeconds("max_ttl") : base.maxTtl();

    StoredRole role =
        new StoredRole(
            dbName,
            creation,
            revocation,
            rollback,
            renew,
            defaultTtl,
            maxTtl,
            credentialType,
            credentialConfig);
    context.storage().put(roleKey(name), role.toJson());
    VaultResponse response = VaultResponse.noContent();
    String ignored = fields.ignoredWarning(ROLE_FIELDS);
    return ignored == null ? response : response.withWarning(ignored);
  }

  private static List<String> pick(
      RequestFields fields, String field, boolean create, List<String> current) {
    return fields.has(field) || create ? fields.stringSlice(field) : current;
  }

  private VaultResponse deleteRole(String name) {
    context.storage().delete(roleKey(name));
    return VaultResponse.noContent();
  }

  // ------------------------------------------------------------------ credentials

  private VaultResponse createCredentials(String roleName, EngineRequest request) {
    StoredRole role =
        loadRole(roleName)
            .orElseThrow(() -> VaultException.badRequest("unknown role: " + roleName));
    StoredConfig config =
        loadConfig(role.dbName())
            .orElseThrow(
                () ->
                    VaultException.backendError(
                        "failed to find entry for connection with name: "
                            + goQuote(role.dbName())));
    if (!isAllowed(config.allowedRoles(), roleName)) {
      throw VaultException.backendError(goQuote(roleName) + " is not an allowed role");
    }
    if (!"password".equals(role.credentialType())) {
      throw VaultException.badRequest(
          "unsupported credential_type: " + goQuote(role.credentialType()));
    }
    PostgresDatabase database = connection(role.dbName());

    Duration ttl = effectiveTtl(role);
    Instant expiration = Instant.now().plus(ttl).plus(EXPIRATION_BUFFER);
    String password = generatePassword(config);
    String username;
    try {
      username =
          database.newUser(
              request.token().displayName(),
              roleName,
              password,
              expiration,
              role.creationStatements());
    } catch (DatabaseException e) {
      throw VaultException.backendError(e.getMessage());
    }

    ObjectNode engineData = JsonNodeFactory.instance.objectNode();
    engineData.put("username", username);
    engineData.put("role", roleName);
    engineData.put("db_name", role.dbName());
    engineData.set("revocation_statements", StoredConfig.array(role.revocationStatements()));
    LeaseRecord lease;
    try {
      lease = context.registerLease(request, role.defaultTtl(), role.maxTtl(), engineData);
    } catch (RuntimeException e) {
      // Without a lease nothing would ever revoke the role: take it back now.
      try {
        database.deleteUser(username, role.revocationStatements());
      } catch (DatabaseException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
    return VaultResponse.leased(lease, new CredentialData(username, password));
  }

  /** Vault's CalculateTTL for a new secret: role default (else mount default) within the max. */
  private Duration effectiveTtl(StoredRole role) {
    Duration mountMax = context.maxLeaseTtl();
    Duration ttl = role.defaultTtl().isZero() ? context.defaultLeaseTtl() : role.defaultTtl();
    Duration max = role.maxTtl().isZero() ? mountMax : role.maxTtl();
    if (max.compareTo(mountMax) > 0) {
      max = mountMax;
    }
    return ttl.compareTo(max) > 0 ? max : ttl;
  }

  private static boolean isAllowed(List<String> allowedRoles, String roleName) {
    for (String pattern : allowedRoles) {
      if (pattern.equals("*") || glob(pattern, roleName)) {
        return true;
      }
    }
    return false;
  }

  /** ryanuber/go-glob: {@code *} matches any run of characters, nothing else is special. */
  static boolean glob(String pattern, String subject) {
    if (!pattern.contains("*")) {
      return pattern.equals(subject);
    }
    String[] parts = pattern.split("\\*", -1);
    if (!subject.startsWith(parts[0])) {
      return false;
    }
    int at = parts[0].length();
    for (int i = 1; i < parts.length - 1; i++) {
      int found = subject.indexOf(parts[i], at);
      if (found < 0) {
        return false;
      }
      at = found + parts[i].length();
    }
    String last = parts[parts.length - 1];
    return subject.length() - at >= last.length() && subject.endsWith(last);
  }

  private static String generatePassword(StoredConfig config) {
    if (!config.passwordPolicy().isEmpty()) {
      // The stand-in has no sys/policies/password; say so instead of ignoring the policy.
      throw VaultException.backendError(
          "failed to generate password: password policy "
              + goQuote(config.passwordPolicy())
              + " is not supported by the dev-stack Vault stand-in");
    }
    return Passwords.generate();
  }

  // ------------------------------------------------------------------ leases

  @Override
  public RenewalGrant renewalGrant(LeaseRecord lease, Duration increment) {
    String roleName = internal(lease, "role");
    internal(lease, "username");
    StoredRole role =
        loadRole(roleName)
            .orElseThrow(
                () ->
                    leaseError(
                        "error during renew: could not find role with name " + goQuote(roleName)));
    Duration ttl = increment.isZero() || increment.isNegative() ? role.defaultTtl() : increment;
    return new RenewalGrant(ttl, role.maxTtl());
  }

  @Override
  public void applyRenewal(LeaseRecord lease, Instant newExpiry) {
    if (!newExpiry.isAfter(Instant.now())) {
      return;
    }
    String roleName = internal(lease, "role");
    String username = internal(lease, "username");
    StoredRole role =
        loadRole(roleName)
            .orElseThrow(
                () ->
                    leaseError(
                        "error during renew: could not find role with name " + goQuote(roleName)));
    PostgresDatabase database = leaseConnection(role.dbName());
    try {
      database.renewUser(username, newExpiry.plus(EXPIRATION_BUFFER), role.renewStatements());
    } catch (DatabaseException e) {
      throw leaseError(e.getMessage());
    }
  }

  @Override
  public void revoke(LeaseRecord lease) {
    JsonNode data = lease.engineData();
    if (!data.hasNonNull("username")) {
      throw leaseError("secret is missing username internal data");
    }
    String username = data.get("username").asText();
    if (!data.hasNonNull("role")) {
      throw leaseError("no role name was provided");
    }
    String roleName = data.get("role").asText();
    Optional<StoredRole> role = loadRole(roleName);
    String dbName;
    List<String> statements;
    if (role.isPresent()) {
      dbName = role.get().dbName();
      statements = role.get().revocationStatements();
    } else {
      // The role is gone: Vault falls back to what it embedded in the secret at issue time.
      if (!data.hasNonNull("db_name")) {
        throw leaseError(
            "error during revoke: could not find role with name "
                + goQuote(roleName)
                + " or embedded revocation db name data");
      }
      if (!data.has("revocation_statements")) {
        throw leaseError(
            "error during revoke: could not find role with name "
                + goQuote(roleName)
                + " or embedded revocation statement data");
      }
      dbName = data.get("db_name").asText();
      statements = StoredConfig.strings(data.get("revocation_statements"));
    }
    PostgresDatabase database = leaseConnection(dbName);
    try {
      database.deleteUser(username, statements);
    } catch (DatabaseException e) {
      throw leaseError(e.getMessage());
    }
  }

  /**
   * A failed renewal or revocation. The core quotes the error inside its own message ({@code failed
   * to renew entry: ... err: <text>}), so it is the plain Go error text, not wrapped in a
   * multierror.
   */
  private static VaultException leaseError(String message) {
    return new VaultException(500, List.of(message));
  }

  private static String internal(LeaseRecord lease, String field) {
    JsonNode value = lease.engineData().get(field);
    if (value == null || !value.isTextual()) {
      throw leaseError("secret is missing " + goQuote(field) + " field in internal data");
    }
    return value.asText();
  }

  // ------------------------------------------------------------------ connections

  /**
   * The live plugin instance for a config, initialised from storage (and its connection verified)
   * on first use, as Vault's GetConnection does.
   */
  private PostgresDatabase connection(String name) {
    return connection(name, VaultException::backendError);
  }

  /** The connection for a renewal or revocation, failing with the plain error text. */
  private PostgresDatabase leaseConnection(String name) {
    return connection(name, DatabaseEngine::leaseError);
  }

  private PostgresDatabase connection(String name, Function<String, VaultException> failure) {
    PostgresDatabase existing = connections.get(name);
    if (existing != null) {
      return existing;
    }
    synchronized (connectionLock) {
      existing = connections.get(name);
      if (existing != null) {
        return existing;
      }
      StoredConfig config =
          loadConfig(name)
              .orElseThrow(
                  () ->
                      failure.apply(
                          "failed to find entry for connection with name: " + goQuote(name)));
      PostgresDatabase database;
      try {
        database = new PostgresDatabase(name, ConnectionSettings.from(config.connectionDetails()));
        database.verifyConnection();
      } catch (DatabaseException e) {
        throw failure.apply(sanitizeWith(config.connectionDetails(), e.getMessage()));
      }
      connections.put(name, database);
      return database;
    }
  }

  private Optional<StoredConfig> loadConfig(String name) {
    return context.storage().get(configKey(name)).map(StoredConfig::fromJson);
  }

  private Optional<StoredRole> loadRole(String name) {
    return context.storage().get(roleKey(name)).map(StoredRole::fromJson);
  }

  private static String configKey(String name) {
    return "config/" + name;
  }

  private static String roleKey(String name) {
    return "role/" + name;
  }

  /** For failures before settings exist: strip the admin password from the message. */
  private static String sanitizeWith(JsonNode details, @Nullable String message) {
    String out = message == null ? "" : message;
    String password = details.path("password").asText("");
    if (!password.isEmpty()) {
      out = out.replace(password, "[password]");
      out = out.replace(ConnectionSettings.pathEscape(password), "[password]");
    }
    return out;
  }

  /** Go's {@code %q} for the plain names Vault quotes in its messages. */
  static String goQuote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  @Override
  public void close() {
    synchronized (connectionLock) {
      List<PostgresDatabase> all = new ArrayList<>(connections.values());
      connections.clear();
      all.forEach(PostgresDatabase::close);
    }
  }
}
