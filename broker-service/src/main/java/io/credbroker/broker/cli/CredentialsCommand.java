package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** Credentials by namespace, service account, pod, database role, user name and issue time. */
@Command(
    name = "credentials",
    mixinStandardHelpOptions = true,
    description = "Credentials (never a password), newest first.")
final class CredentialsCommand implements Callable<Integer> {

  @ParentCommand AdminCli cli;

  @Mixin NamespaceFilter filter;

  @Option(names = "--service-account", description = "only this service account")
  @Nullable String serviceAccount;

  @Option(names = "--pod", description = "only pods of this name")
  @Nullable String pod;

  @Option(names = "--database-role", description = "only this database role")
  @Nullable String databaseRole;

  @Option(names = "--user", description = "only this PostgreSQL user name")
  @Nullable String username;

  @Option(names = "--active", description = "only credentials still active")
  boolean activeOnly;

  @Mixin Paging paging;

  @Override
  public Integer call() {
    JsonNode answer =
        cli.client()
            .get(
                "/credentials",
                paging.addTo(
                    AdminClient.query(
                        "namespace", filter.namespace,
                        "serviceAccount", serviceAccount,
                        "pod", pod,
                        "databaseRole", databaseRole,
                        "username", username,
                        "activeOnly", activeOnly ? "true" : null),
                    cli.clock));
    if (!cli.printedAsJson(answer)) {
      table(answer.path("items")).print(cli.out);
      paging.printNext(cli, answer);
    }
    return 0;
  }

  static Table table(JsonNode items) {
    Table table =
        new Table(
            "NAMESPACE",
            "POD",
            "SERVICE-ACCOUNT",
            "DB-ROLE",
            "PG-USER",
            "STATE",
            "ISSUED",
            "EXPIRES/ENDED",
            "ID");
    for (JsonNode c : items) {
      boolean active = c.path("state").asText().equals("ACTIVE");
      table.row(
          c.path("namespace").asText(),
          c.path("podName").asText(null),
          c.path("serviceAccount").asText(),
          c.path("databaseRole").asText(),
          c.path("username").asText(),
          c.path("state").asText()
              + (c.path("endReason").isTextual() ? " (" + c.path("endReason").asText() + ")" : ""),
          Times.show(c.path("issueTime").asText(null)),
          Times.show(active ? c.path("expireTime").asText(null) : c.path("endTime").asText(null)),
          c.path("id").asText());
    }
    return table;
  }
}
