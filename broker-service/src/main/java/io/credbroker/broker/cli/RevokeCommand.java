package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * Revokes a pod, one credential, or every pod of a service account, a namespace or a database role.
 * A bulk revocation first asks the broker what it would revoke (a dry run), shows it, and asks.
 */
@Command(
    name = "revoke",
    mixinStandardHelpOptions = true,
    description =
        "Revoke a pod, a credential, or every pod of a service account, namespace or database role.",
    subcommands = {
      RevokeCommand.Pod.class,
      RevokeCommand.Credential.class,
      RevokeCommand.ServiceAccount.class,
      RevokeCommand.Namespace.class,
      RevokeCommand.DatabaseRole.class,
    })
final class RevokeCommand {

  @ParentCommand AdminCli cli;

  @Command(
      name = "pod",
      mixinStandardHelpOptions = true,
      description = {
        "Block the pod (its UIDs) on every replica and revoke every credential it holds: sessions end,"
            + " logins are refused. A replacement pod (new UID) is not blocked."
      })
  static final class Pod implements Callable<Integer> {

    @ParentCommand RevokeCommand revoke;

    @Mixin PodArgument target;

    @Option(
        names = "--reason",
        required = true,
        description = "why, for the audit trail (e.g. an incident number)")
    String reason = "";

    @Override
    public Integer call() {
      AdminCli cli = revoke.cli;
      PodRef ref = target.ref();
      JsonNode answer =
          cli.client()
              .post(
                  AdminClient.path(
                      "namespaces", ref.namespace(), "pods", ref.name(), "revocations"),
                  AdminClient.query(),
                  reasonBody(reason));
      if (cli.printedAsJson(answer)) {
        return 0;
      }
      printPodRevocation(cli, answer);
      return 0;
    }
  }

  @Command(
      name = "credential",
      mixinStandardHelpOptions = true,
      description = "Revoke one credential by id; its pod is not blocked and may obtain a new one.")
  static final class Credential implements Callable<Integer> {

    @ParentCommand RevokeCommand revoke;

    @Parameters(paramLabel = "ID", description = "the credential id (see 'who' or 'credentials')")
    String id = "";

    @Mixin AuditReason reason;

    @Override
    public Integer call() {
      AdminCli cli = revoke.cli;
      JsonNode answer =
          cli.client()
              .post(
                  AdminClient.path("credentials", id, "revocations"),
                  AdminClient.query(),
                  reasonBody(reason.text));
      if (cli.printedAsJson(answer)) {
        return 0;
      }
      JsonNode credential = answer.path("credential");
      cli.out.println(
          "Credential "
              + credential.path("id").asText()
              + " (PostgreSQL user "
              + credential.path("username").asText()
              + "): "
              + credential.path("state").asText()
              + (answer.path("revokedInVault").asBoolean()
                  ? ", revoked in Vault"
                  : ", Vault has not confirmed yet: see 'queue'"));
      return 0;
    }
  }

  /** What the bulk commands share: the reason, --yes, and the preview-ask-revoke flow. */
  abstract static class Bulk implements Callable<Integer> {

    @ParentCommand RevokeCommand revoke;

    @Mixin AuditReason reason;

    @Option(
        names = {"-y", "--yes"},
        description = "do not ask; revoke what matches now")
    boolean yes;

    abstract ObjectNode selection();

    abstract String description();

    @Override
    public Integer call() {
      AdminCli cli = revoke.cli;
      AdminClient client = cli.client();
      ObjectNode body = selection();
      JsonNode preview = client.post("/revocations", AdminClient.query("dryRun", "true"), body);
      int pods = preview.path("pods").size();
      int podless = preview.path("credentials").size();
      if (pods == 0 && podless == 0) {
        cli.err.println("Nothing to revoke: no live credential matches " + description() + ".");
        return 0;
      }
      if (!yes) {
        if (!cli.printedAsJson(preview)) {
          cli.out.println("Would revoke, for " + description() + ":");
          printTargets(cli, preview);
        }
        cli.out.flush();
        if (!cli.confirmed(
            "Revoke " + pods + " pod(s) and " + podless + " pod-less credential(s)?")) {
          return cli.declined();
        }
      }
      body.put("reason", reason.text);
      JsonNode done = client.post("/revocations", AdminClient.query(), body);
      if (!cli.printedAsJson(done)) {
        cli.out.println(
            "Revoked "
                + done.path("pods").size()
                + " pod(s) and "
                + done.path("credentials").size()
                + " pod-less credential(s) for "
                + description()
                + ":");
        printTargets(cli, done);
        cli.out.println();
        cli.out.println("Each pod is blocked; see 'pod <namespace>/<pod>', 'audit' and 'queue'.");
      }
      return 0;
    }
  }

  @Command(
      name = "service-account",
      mixinStandardHelpOptions = true,
      description =
          "Revoke every pod (and pod-less token) of a service account holding a live credential.")
  static final class ServiceAccount extends Bulk {

    @Parameters(paramLabel = "NAME", description = "the service account")
    String name = "";

    @Option(
        names = {"-n", "--namespace"},
        required = true,
        description = "its namespace")
    String namespace = "";

    @Override
    ObjectNode selection() {
      return AdminClient.JSON
          .createObjectNode()
          .put("namespace", namespace)
          .put("serviceAccount", name);
    }

    @Override
    String description() {
      return "service account " + namespace + "/" + name;
    }
  }

  @Command(
      name = "namespace",
      mixinStandardHelpOptions = true,
      description = "Revoke every pod of a namespace holding a live credential.")
  static final class Namespace extends Bulk {

    @Parameters(paramLabel = "NAMESPACE", description = "the namespace")
    String namespace = "";

    @Override
    ObjectNode selection() {
      return AdminClient.JSON.createObjectNode().put("namespace", namespace);
    }

    @Override
    String description() {
      return "namespace " + namespace;
    }
  }

  @Command(
      name = "database-role",
      mixinStandardHelpOptions = true,
      description =
          "Revoke every pod holding a live credential of a database role (in one namespace with -n).")
  static final class DatabaseRole extends Bulk {

    @Parameters(
        paramLabel = "ROLE",
        description = "the database role, as the broker's bindings name it")
    String role = "";

    @Option(
        names = {"-n", "--namespace"},
        description = "only in this namespace (default: all; needs cluster-wide revoke)")
    @Nullable String namespace;

    @Override
    ObjectNode selection() {
      ObjectNode body = AdminClient.JSON.createObjectNode().put("databaseRole", role);
      if (namespace != null) {
        body.put("namespace", namespace);
      }
      return body;
    }

    @Override
    String description() {
      return "database role "
          + role
          + (namespace == null ? " in all namespaces" : " in namespace " + namespace);
    }
  }

  static ObjectNode reasonBody(String reason) {
    return AdminClient.JSON.createObjectNode().put("reason", reason);
  }

  static void printPodRevocation(AdminCli cli, JsonNode answer) {
    cli.out.println(
        "Pod "
            + answer.path("namespace").asText()
            + "/"
            + answer.path("podName").asText()
            + " is blocked:");
    BlockTable.of(answer.path("blocks")).print(cli.out);
    cli.out.println();
    Table credentials = new Table("PG-USER", "DB-ROLE", "REVOKED-IN-VAULT", "CREDENTIAL");
    answer
        .path("credentials")
        .forEach(
            c ->
                credentials.row(
                    c.path("username").asText(),
                    c.path("databaseRole").asText(),
                    c.path("revokedInVault").asBoolean() ? "yes" : "queued (see 'queue')",
                    c.path("credentialId").asText()));
    if (credentials.isEmpty()) {
      cli.out.println("It held no credential.");
    } else {
      cli.out.println("Credentials revoked (sessions ended, logins refused):");
      credentials.print(cli.out);
    }
  }

  private static void printTargets(AdminCli cli, JsonNode answer) {
    Table table = new Table("NAMESPACE", "POD", "SERVICE-ACCOUNT", "DB-ROLE", "PG-USER");
    for (JsonNode pod : answer.path("pods")) {
      for (JsonNode c : pod.path("credentials")) {
        table.row(
            pod.path("namespace").asText(),
            pod.path("podName").asText(),
            c.path("serviceAccount").asText(),
            c.path("databaseRole").asText(),
            c.path("username").asText());
      }
    }
    for (JsonNode c : answer.path("credentials")) {
      table.row(
          c.path("namespace").asText(),
          "(no pod)",
          c.path("serviceAccount").asText(),
          c.path("databaseRole").asText(),
          c.path("username").asText());
    }
    table.print(cli.out);
  }
}
