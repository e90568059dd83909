package io.credbroker.devstack;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code java -jar dev-stack.jar}: runs the dev stack in the foreground until interrupted (Ctrl-C),
 * then stops everything. Fixed ports by default so tools and the broker's dev profile find it.
 */
@Command(
    name = "dev-stack",
    mixinStandardHelpOptions = true,
    description = "PostgreSQL, a Vault stand-in and a Kubernetes API stand-in for development.")
public final class DevStackMain implements Callable<Integer> {

  @Option(
      names = "--vault-port",
      defaultValue = "8200",
      description = "Vault stand-in port (default: ${DEFAULT-VALUE}; 0 = free)")
  int vaultPort;

  @Option(
      names = "--vault-tls-port",
      defaultValue = "8243",
      description =
          "port of the Vault stand-in's TLS listener, certificate signed by ca.crt (default:"
              + " ${DEFAULT-VALUE}; 0 = free)")
  int vaultTlsPort;

  @Option(
      names = "--kubernetes-port",
      defaultValue = "6443",
      description = "Kubernetes API stand-in port (default: ${DEFAULT-VALUE}; 0 = free)")
  int kubernetesPort;

  @Option(
      names = "--postgres-port",
      defaultValue = "15432",
      description = "embedded PostgreSQL port (default: ${DEFAULT-VALUE}; 0 = free)")
  int postgresPort;

  @Option(
      names = "--work-dir",
      defaultValue = ".dev-stack",
      description = "kubeconfig, CA, PostgreSQL data (default: ${DEFAULT-VALUE})")
  Path workDir;

  @Option(
      names = "--info-file",
      defaultValue = "./dev-stack.json",
      description = "JSON file naming every endpoint and credential (default: ${DEFAULT-VALUE})")
  Path infoFile;

  @Option(
      names = "--root-token",
      defaultValue = "root",
      description = "Vault root token (default: ${DEFAULT-VALUE})")
  String rootToken;

  @Option(
      names = "--postgres-url",
      description =
          "use this existing PostgreSQL server (jdbc:postgresql://host:port/db) instead of the embedded one")
  @Nullable String postgresUrl;

  @Option(
      names = "--postgres-user",
      defaultValue = "postgres",
      description = "superuser of the existing server (default: ${DEFAULT-VALUE})")
  String postgresUser;

  @Option(
      names = "--postgres-password",
      description = "its password (or env DEV_STACK_POSTGRES_PASSWORD)")
  @Nullable String postgresPassword;

  @Option(
      names = "--create-database",
      description = "create this database at start (repeatable; default: credbroker)")
  @Nullable List<String> databases;

  @Option(
      names = "--rbac-file",
      description = "RBAC YAML for the Kubernetes stand-in (default: built-in dev RBAC)")
  @Nullable Path rbacFile;

  public static void main(String[] args) {
    // The logging setup lives under a private name so that the plain jar, a test dependency of
    // other modules, never overrides their logging.
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty(
          "logback.configurationFile", "io/credbroker/devstack/logback-dev-stack.xml");
    }
    System.exit(new CommandLine(new DevStackMain()).execute(args));
  }

  @Override
  public Integer call() throws InterruptedException {
    DevStack.Builder builder =
        DevStack.builder()
            .vaultPort(vaultPort)
            .vaultTlsPort(vaultTlsPort)
            .kubernetesPort(kubernetesPort)
            .postgresPort(postgresPort)
            .workDir(workDir)
            .infoFile(infoFile)
            .rootToken(rootToken)
            .createDatabase(
                databases == null ? new String[] {"credbroker"} : databases.toArray(String[]::new));
    if (rbacFile != null) {
      builder.rbacFile(rbacFile);
    }
    if (postgresUrl != null) {
      String password =
          postgresPassword != null
              ? postgresPassword
              : System.getenv("DEV_STACK_POSTGRES_PASSWORD");
      if (password == null) {
        throw new CommandLine.ParameterException(
            new CommandLine(this),
            "--postgres-url needs --postgres-password or DEV_STACK_POSTGRES_PASSWORD");
      }
      builder.existingPostgres(postgresUrl, postgresUser, password);
    }
    DevStack stack = builder.start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stack.close();
                  stopped.countDown();
                },
                "dev-stack-shutdown"));
    System.out.println(instructions(stack));
    stopped.await();
    return 0;
  }

  /** What a person needs to use the stack with standard tools. */
  static String instructions(DevStack stack) {
    String kubeconfig = stack.kubeconfigPath().toAbsolutePath().toString();
    List<String> lines = new ArrayList<>();
    lines.add("");
    lines.add("dev-stack is running (Ctrl-C stops it).");
    lines.add("  Vault       " + stack.vaultAddress() + "   root token: " + stack.vaultRootToken());
    lines.add(
        "              "
            + stack.vaultTlsAddress()
            + "  (TLS, CA: "
            + stack.caCertPath().toAbsolutePath()
            + ")");
    lines.add("  Kubernetes  " + stack.kubernetesUrl() + "  kubeconfig: " + kubeconfig);
    lines.add(
        "  PostgreSQL  "
            + stack.postgres().jdbcUrl("postgres")
            + "  user: "
            + stack.postgres().adminUser()
            + "  (password in "
            + stack.infoFile().toAbsolutePath()
            + ")");
    lines.add("");
    lines.add("Create a pod and get its service-account token:");
    lines.add(
        "  kubectl --kubeconfig "
            + kubeconfig
            + " -n public run app-1 --image=busybox --overrides="
            + "'{\"spec\":{\"serviceAccountName\":\"application\"}}'");
    lines.add(
        "  kubectl --kubeconfig "
            + kubeconfig
            + " create token application -n public --audience credbroker --bound-object-kind Pod --bound-object-name app-1");
    lines.add("");
    lines.add("Call Vault:");
    lines.add(
        "  curl -s -H 'X-Vault-Token: "
            + stack.vaultRootToken()
            + "' "
            + stack.vaultAddress()
            + "/v1/auth/token/lookup-self");
    lines.add(
        "  curl -s -X POST -H 'X-Vault-Token: "
            + stack.vaultRootToken()
            + "' -d '{\"type\":\"database\"}' "
            + stack.vaultAddress()
            + "/v1/sys/mounts/database");
    lines.add(
        "  export VAULT_ADDR="
            + stack.vaultAddress()
            + " VAULT_TOKEN="
            + stack.vaultRootToken()
            + "   # for the vault CLI");
    return String.join(System.lineSeparator(), lines);
  }
}
