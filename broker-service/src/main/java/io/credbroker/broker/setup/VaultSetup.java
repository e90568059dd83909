package io.credbroker.broker.setup;

import io.credbroker.broker.setup.VaultDiff.Field;
import io.credbroker.broker.setup.VaultDiff.Kind;
import io.credbroker.broker.setup.VaultSetupOptions.KubernetesAuth;
import java.net.http.HttpClient;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.vault.VaultException;
import org.springframework.vault.authentication.SimpleSessionManager;
import org.springframework.vault.authentication.TokenAuthentication;
import org.springframework.vault.client.VaultEndpoint;
import org.springframework.vault.core.VaultTemplate;
import org.springframework.vault.support.VaultMount;
import org.springframework.vault.support.VaultResponse;

/**
 * Sets up Vault for one target database and for the broker: the database secrets engine, the
 * connection config (followed by {@code rotate-root}, so that only Vault knows the admin password),
 * the role with the creation and revocation statements of {@link DynamicRoleStatements}, the
 * broker's policy, the token role (and its policy) for the tokens the broker creates credentials
 * with, and optionally Kubernetes auth with the role the broker logs in with.
 *
 * <p>Every step reads the current value back and writes only what differs, so a second run changes
 * nothing. The connection config is the one exception to plain comparison: Vault never returns the
 * password, so when the config is created or its username changes a fresh admin password is issued
 * through {@link AdminPasswordIssuer} and rotated right after. Any other change is sent without a
 * password and Vault keeps the one it holds.
 *
 * <p>Not thread-safe; one instance per run. Needs no Spring context.
 */
public final class VaultSetup {

  /**
   * Sets a new password on the Vault admin role in PostgreSQL and returns it, just before Vault is
   * given it. {@link TargetDatabaseSetup#setVaultAdminPassword} does the setting.
   */
  @FunctionalInterface
  public interface AdminPasswordIssuer {
    Secret issue();
  }

  private static final String SYSTEM = "vault";

  private static final List<Field> CONNECTION_FIELDS =
      List.of(
          Field.required("plugin_name", Kind.SCALAR),
          Field.required("connection_url", Kind.SCALAR),
          Field.required("username", Kind.SCALAR),
          Field.required("allowed_roles", Kind.SUPERSET),
          // Not every Vault version echoes these two; absent means "cannot tell", not "differs".
          Field.optional("password_authentication", Kind.SCALAR),
          Field.optional("verify_connection", Kind.SCALAR));

  private static final List<Field> ROLE_FIELDS =
      List.of(
          Field.required("db_name", Kind.SCALAR),
          Field.required("creation_statements", Kind.LIST),
          Field.required("revocation_statements", Kind.LIST),
          Field.required("default_ttl", Kind.SCALAR),
          Field.required("max_ttl", Kind.SCALAR));

  private static final List<Field> KUBERNETES_CONFIG_FIELDS =
      List.of(
          Field.required("kubernetes_host", Kind.SCALAR),
          Field.required("kubernetes_ca_cert", Kind.SCALAR));

  private static final List<Field> BROKER_ROLE_FIELDS =
      List.of(
          Field.required("bound_service_account_names", Kind.SET),
          Field.required("bound_service_account_namespaces", Kind.SET),
          Field.required("token_policies", Kind.SET),
          Field.required("token_ttl", Kind.SCALAR),
          Field.required("token_max_ttl", Kind.SCALAR),
          Field.required("audience", Kind.SCALAR));

  private static final List<Field> ISSUING_ROLE_FIELDS =
      List.of(
          Field.required("allowed_policies", Kind.SET),
          Field.required("orphan", Kind.SCALAR),
          Field.required("renewable", Kind.SCALAR),
          Field.required("token_explicit_max_ttl", Kind.SCALAR),
          Field.required("token_no_default_policy", Kind.SCALAR));

  private final VaultSetupOptions options;
  private final VaultTemplate vault;

  /** Talks to Vault trusting the JVM's default CAs. */
  public VaultSetup(VaultSetupOptions options) {
    this(options, null);
  }

  /**
   * Talks to Vault trusting only {@code vaultCa} when given, else the JVM's default CAs; host names
   * are verified either way.
   */
  public VaultSetup(VaultSetupOptions options, @Nullable VaultCaCertificates vaultCa) {
    this.options = options;
    HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
    if (vaultCa != null) {
      client.sslContext(vaultCa.sslContext());
    }
    HttpClient http = client.build();
    JdkClientHttpRequestFactory requests = new JdkClientHttpRequestFactory(http);
    requests.setReadTimeout(Duration.ofSeconds(30));
    this.vault =
        new VaultTemplate(
            VaultEndpoint.from(options.vaultAddress()),
            requests,
            new SimpleSessionManager(new TokenAuthentication(options.vaultToken().reveal())));
  }

  public VaultSetupOptions options() {
    return options;
  }

  /**
   * Reads Vault's secrets engines (as the first step does), so that an address, a TLS certificate
   * or a token that does not work fails before anything is changed, in PostgreSQL or in Vault.
   *
   * @throws SetupException when Vault cannot be reached or refuses the token
   */
  public void checkConnection() {
    run(
        "read sys/mounts",
        () -> {
          vault.opsForSys().getMounts();
          return true;
        });
  }

  /**
   * Converges Vault, or with {@code dryRun} only reads and reports. {@code adminPasswords} is
   * called only when the connection config is created or gets another username, never in a dry run.
   *
   * @throws SetupException when Vault refuses a step; steps already done stay done and a rerun
   *     continues
   */
  public SetupReport apply(boolean dryRun, AdminPasswordIssuer adminPasswords) {
    List<StepResult> steps = new ArrayList<>();
    String mount = options.mount();
    run("secrets engine " + mount + "/", () -> secretsEngine(dryRun, steps));
    boolean passwordSent =
        run(
            "connection " + mount + "/config/" + options.connectionName(),
            () -> connection(dryRun, adminPasswords, steps));
    run(
        "rotate-root",
        () -> {
          String path = mount + "/rotate-root/" + options.connectionName();
          step(
              steps,
              dryRun,
              "root credentials " + path,
              passwordSent ? Outcome.UPDATED : Outcome.UNCHANGED,
              "rotate-root: afterwards only Vault knows the password of "
                  + options.vaultAdminRole(),
              () -> vault.write(path, null));
          return true;
        });
    run("role " + mount + "/roles/" + options.roleName(), () -> databaseRole(dryRun, steps));
    run("policy " + options.broker().policyName(), () -> policy(dryRun, steps));
    run("policy " + options.broker().issuingPolicyName(), () -> issuingPolicy(dryRun, steps));
    run(
        "auth/token/roles/" + options.broker().issuingTokenRole(),
        () -> issuingTokenRole(dryRun, steps));
    KubernetesAuth kubernetes = options.broker().kubernetes();
    if (kubernetes != null) {
      run("auth method " + kubernetes.authPath(), () -> kubernetesMount(kubernetes, dryRun, steps));
      run(
          "auth/" + kubernetes.authPath() + "/config",
          () -> kubernetesConfig(kubernetes, dryRun, steps));
      run(
          "auth/" + kubernetes.authPath() + "/role/" + kubernetes.roleName(),
          () -> brokerRole(kubernetes, dryRun, steps));
    }
    return new SetupReport(dryRun, steps);
  }

  /**
   * The policy the broker's own token carries: create issuing tokens, manage leases, list the
   * leases of {@code mount}'s credentials (to revoke those nobody tracks) and read the TTL limits
   * of its roles and of the mount, nothing else (credentials themselves are read with issuing
   * tokens).
   */
  static String brokerPolicy(String issuingRole, String mount) {
    return DynamicRoleStatements.resource("setup/broker-policy.hcl")
            .replace("{{issuing_role}}", issuingRole)
            .replace("{{mount}}", mount)
            .strip()
        + "\n";
  }

  /** The policy of issuing tokens: read credentials from the mount, nothing else. */
  static String issuingPolicy(String mount) {
    return DynamicRoleStatements.resource("setup/issuing-policy.hcl")
            .replace("{{mount}}", mount)
            .strip()
        + "\n";
  }

  /**
   * The token role issuing tokens come from: orphans (no parent whose revocation or expiry would
   * take their leases along), not renewable, with a fixed lifetime, and only the issuing policy
   * (not even Vault's default policy).
   */
  static Map<String, Object> desiredIssuingTokenRole(VaultSetupOptions.BrokerAccess b) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("allowed_policies", List.of(b.issuingPolicyName()));
    m.put("orphan", true);
    m.put("renewable", false);
    m.put("token_explicit_max_ttl", b.issuingTokenTtl().toSeconds());
    // Not even Vault's default policy (it may renew leases and look up tokens): read credentials
    // only.
    m.put("token_no_default_policy", true);
    return m;
  }

  static Map<String, Object> desiredConnection(VaultSetupOptions o) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("plugin_name", "postgresql-database-plugin");
    m.put("connection_url", o.connectionUrl());
    m.put("username", o.vaultAdminRole());
    m.put("allowed_roles", List.of(o.roleName()));
    m.put("password_authentication", o.passwordAuthentication());
    m.put("verify_connection", true);
    return m;
  }

  static Map<String, Object> desiredRole(VaultSetupOptions o) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("db_name", o.connectionName());
    m.put("creation_statements", DynamicRoleStatements.creation(o.groupRole()));
    m.put("revocation_statements", DynamicRoleStatements.revocation(o.groupRole()));
    m.put("default_ttl", o.defaultTtl().toSeconds());
    m.put("max_ttl", o.maxTtl().toSeconds());
    return m;
  }

  static Map<String, Object> desiredKubernetesConfig(KubernetesAuth k) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("kubernetes_host", k.kubernetesHost().toString());
    if (k.caCertPem() != null) {
      m.put("kubernetes_ca_cert", k.caCertPem());
    }
    return m;
  }

  static Map<String, Object> desiredBrokerRole(KubernetesAuth k, String policy) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("bound_service_account_names", List.of(k.serviceAccount()));
    m.put("bound_service_account_namespaces", List.of(k.namespace()));
    m.put("token_policies", List.of(policy));
    m.put("token_ttl", k.tokenTtl().toSeconds());
    m.put("token_max_ttl", k.tokenMaxTtl().toSeconds());
    if (k.audience() != null) {
      m.put("audience", k.audience());
    }
    return m;
  }

  /** One line per field, the password masked, for the plan. */
  static String describe(Map<String, ?> values, List<String> differing) {
    StringBuilder out = new StringBuilder();
    if (!differing.isEmpty()) {
      out.append("differs: ").append(String.join(", ", differing)).append('\n');
    }
    values.forEach(
        (k, v) -> {
          String shown =
              k.equals("password") || k.equals("token") ? Secret.MASK : String.valueOf(v);
          if (shown.contains("\n")) {
            shown = shown.lines().findFirst().orElse("") + " ...";
          }
          out.append(k).append('=').append(shown).append('\n');
        });
    return out.toString().strip();
  }

  private boolean secretsEngine(boolean dryRun, List<StepResult> steps) {
    String path = options.mount() + "/";
    VaultMount existing = vault.opsForSys().getMounts().get(path);
    if (existing != null && !"database".equals(existing.getType())) {
      throw new SetupException(
          "Vault mount "
              + path
              + " already exists with type "
              + existing.getType()
              + "; choose another mount with --mount");
    }
    step(
        steps,
        dryRun,
        "secrets engine " + path + " (database)",
        existing == null ? Outcome.CREATED : Outcome.UNCHANGED,
        "vault secrets enable -path=" + options.mount() + " database",
        () ->
            vault
                .opsForSys()
                .mount(
                    options.mount(),
                    VaultMount.builder()
                        .type("database")
                        .description("credential-broker: dynamic PostgreSQL roles")
                        .build()));
    return true;
  }

  /**
   * Writes the connection config when it is absent or differs, and returns whether it was sent a
   * new admin password (which {@code rotate-root} must then replace).
   */
  private boolean connection(
      boolean dryRun, AdminPasswordIssuer adminPasswords, List<StepResult> steps) {
    String path = options.mount() + "/config/" + options.connectionName();
    Map<String, Object> desired = desiredConnection(options);
    Map<String, Object> actual = read(path);
    Outcome outcome;
    List<String> differing = List.of();
    boolean newPassword;
    if (actual == null) {
      outcome = Outcome.CREATED;
      newPassword = true;
    } else {
      // Vault nests the connection settings under connection_details; compare them flat.
      Map<String, Object> flat = new LinkedHashMap<>(actual);
      if (actual.get("connection_details") instanceof Map<?, ?> details) {
        details.forEach((k, v) -> flat.putIfAbsent(String.valueOf(k), v));
      }
      differing = VaultDiff.differences(desired, flat, CONNECTION_FIELDS);
      outcome = differing.isEmpty() ? Outcome.UNCHANGED : Outcome.UPDATED;
      desired.put(
          "allowed_roles",
          VaultDiff.union(List.of(options.roleName()), actual.get("allowed_roles")));
      // Vault merges an update over the stored connection details and keeps the stored password
      // when none is sent; a write it cannot verify changes nothing (hashicorp/vault
      // builtin/logical/database/path_config_connection_ce.go, connectionWriteHandler). A new
      // password set in PostgreSQL before such a refused write would leave Vault with one that no
      // longer works. Only a new username needs one.
      newPassword = !options.vaultAdminRole().equals(flat.get("username"));
    }
    Map<String, Object> shown = new LinkedHashMap<>(desired);
    if (newPassword) {
      shown.put("password", Secret.MASK);
    }
    step(
        steps,
        dryRun,
        "connection " + path,
        outcome,
        describe(shown, differing),
        () -> {
          Map<String, Object> body = new LinkedHashMap<>(desired);
          if (newPassword) {
            body.put("password", adminPasswords.issue().reveal());
          }
          vault.write(path, body);
        });
    return newPassword;
  }

  private boolean databaseRole(boolean dryRun, List<StepResult> steps) {
    String path = options.mount() + "/roles/" + options.roleName();
    Map<String, Object> desired = desiredRole(options);
    converge(steps, dryRun, "role " + path, path, desired, read(path), ROLE_FIELDS);
    return true;
  }

  private boolean policy(boolean dryRun, List<StepResult> steps) {
    return aclPolicy(
        dryRun,
        steps,
        options.broker().policyName(),
        brokerPolicy(options.broker().issuingTokenRole(), options.mount()));
  }

  private boolean issuingPolicy(boolean dryRun, List<StepResult> steps) {
    return aclPolicy(
        dryRun, steps, options.broker().issuingPolicyName(), issuingPolicy(options.mount()));
  }

  private boolean issuingTokenRole(boolean dryRun, List<StepResult> steps) {
    String path = "auth/token/roles/" + options.broker().issuingTokenRole();
    converge(
        steps,
        dryRun,
        "token role " + path,
        path,
        desiredIssuingTokenRole(options.broker()),
        read(path),
        ISSUING_ROLE_FIELDS);
    return true;
  }

  private boolean aclPolicy(boolean dryRun, List<StepResult> steps, String name, String desired) {
    String path = "sys/policies/acl/" + name;
    Map<String, Object> actual = read(path);
    Object text = actual == null ? null : actual.get("policy");
    Outcome outcome =
        text == null
            ? Outcome.CREATED
            : text.toString().strip().equals(desired.strip()) ? Outcome.UNCHANGED : Outcome.UPDATED;
    step(
        steps,
        dryRun,
        "policy " + name,
        outcome,
        desired.strip(),
        () -> vault.write(path, Map.of("policy", desired)));
    return true;
  }

  private boolean kubernetesMount(KubernetesAuth k, boolean dryRun, List<StepResult> steps) {
    String path = k.authPath() + "/";
    VaultMount existing = vault.opsForSys().getAuthMounts().get(path);
    if (existing != null && !"kubernetes".equals(existing.getType())) {
      throw new SetupException(
          "Vault auth path "
              + path
              + " already exists with type "
              + existing.getType()
              + "; choose another path with --kubernetes-auth-path");
    }
    step(
        steps,
        dryRun,
        "auth method " + path + " (kubernetes)",
        existing == null ? Outcome.CREATED : Outcome.UNCHANGED,
        "vault auth enable -path=" + k.authPath() + " kubernetes",
        () ->
            vault
                .opsForSys()
                .authMount(
                    k.authPath(),
                    VaultMount.builder()
                        .type("kubernetes")
                        .description(
                            "credential-broker: pods and the broker log in with service-account tokens")
                        .build()));
    return true;
  }

  private boolean kubernetesConfig(KubernetesAuth k, boolean dryRun, List<StepResult> steps) {
    String path = "auth/" + k.authPath() + "/config";
    Map<String, Object> desired = desiredKubernetesConfig(k);
    converge(
        steps,
        dryRun,
        path,
        path,
        desired,
        dryRun && !authMounted(k) ? null : read(path),
        KUBERNETES_CONFIG_FIELDS);
    return true;
  }

  private boolean brokerRole(KubernetesAuth k, boolean dryRun, List<StepResult> steps) {
    String path = "auth/" + k.authPath() + "/role/" + k.roleName();
    Map<String, Object> desired = desiredBrokerRole(k, options.broker().policyName());
    converge(
        steps,
        dryRun,
        path,
        path,
        desired,
        dryRun && !authMounted(k) ? null : read(path),
        BROKER_ROLE_FIELDS);
    return true;
  }

  /**
   * Writes {@code desired} to {@code path} when it is absent ({@code actual} null) or differs in
   * {@code fields}.
   */
  private void converge(
      List<StepResult> steps,
      boolean dryRun,
      String subject,
      String path,
      Map<String, Object> desired,
      @Nullable Map<String, Object> actual,
      List<Field> fields) {
    List<String> differing =
        actual == null ? List.of() : VaultDiff.differences(desired, actual, fields);
    Outcome outcome =
        actual == null
            ? Outcome.CREATED
            : differing.isEmpty() ? Outcome.UNCHANGED : Outcome.UPDATED;
    step(
        steps,
        dryRun,
        subject,
        outcome,
        describe(desired, differing),
        () -> vault.write(path, desired));
  }

  /**
   * In a dry run the auth method may not be mounted yet; reading below it would answer 404 for the
   * route, not the item.
   */
  private boolean authMounted(KubernetesAuth k) {
    return vault.opsForSys().getAuthMounts().containsKey(k.authPath() + "/");
  }

  private @Nullable Map<String, Object> read(String path) {
    VaultResponse response = vault.read(path);
    return response == null ? null : response.getData();
  }

  private interface VaultWork {
    void run();
  }

  private interface Step {
    boolean run();
  }

  private static boolean run(String what, Step step) {
    try {
      return step.run();
    } catch (VaultException e) {
      // Vault error texts name the failure, never the secrets in our request bodies.
      throw new SetupException("Vault step '" + what + "' failed: " + e.getMessage(), e);
    } catch (org.springframework.web.client.RestClientException e) {
      Throwable cause = e.getMostSpecificCause();
      String reason =
          cause.getClass().getSimpleName()
              + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
      throw new SetupException(
          "Vault step '"
              + what
              + "' failed: cannot reach Vault ("
              + reason
              + ")"
              + (untrustedCertificate(e)
                  ? ": Vault's TLS certificate is not signed by a CA setup trusts; give the CA"
                      + " certificates that signed it with --vault-ca-cert (or env VAULT_CACERT)"
                  : ""),
          e);
    }
  }

  /**
   * Whether the TLS handshake failed because no trusted CA vouches for Vault's certificate (PKIX
   * path building or validation), as opposed to a wrong host name or an unreachable port.
   */
  private static boolean untrustedCertificate(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CertPathBuilderException || t instanceof CertPathValidatorException) {
        return true;
      }
    }
    return false;
  }

  private static void step(
      List<StepResult> steps,
      boolean dryRun,
      String subject,
      Outcome outcome,
      String detail,
      VaultWork work) {
    if (outcome.isChange() && !dryRun) {
      work.run();
    }
    steps.add(new StepResult(SYSTEM, subject, outcome, outcome.isChange() ? detail : ""));
  }
}
