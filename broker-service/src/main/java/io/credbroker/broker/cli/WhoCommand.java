package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * Who holds a PostgreSQL user: the name in {@code pg_stat_activity.usename} or a database log line.
 */
@Command(
    name = "who",
    mixinStandardHelpOptions = true,
    description =
        "Which pod holds PostgreSQL user USER (as pg_stat_activity or a database log shows it).")
final class WhoCommand implements Callable<Integer> {

  @ParentCommand AdminCli cli;

  @Parameters(paramLabel = "USER", description = "the PostgreSQL user name, e.g. v-k8s-db1-x1y2z3")
  String username = "";

  @Override
  public Integer call() {
    JsonNode answer =
        cli.client().get("/credentials", AdminClient.query("username", username, "limit", 100));
    if (cli.printedAsJson(answer)) {
      return answer.path("items").isEmpty() ? 1 : 0;
    }
    JsonNode items = answer.path("items");
    if (items.isEmpty()) {
      cli.err.println(
          "No credential of the broker has PostgreSQL user "
              + username
              + " (not brokered, or removed by retention).");
      return 1;
    }
    CredentialsCommand.table(items).print(cli.out);
    for (JsonNode credential : items) {
      if (!credential.path("podName").isNull()
          && credential.path("state").asText().equals("ACTIVE")) {
        cli.out.println();
        cli.out.println(
            "To revoke the pod (blocks it, ends every credential it holds), run this command with:");
        cli.out.println(
            "  revoke pod "
                + credential.path("namespace").asText()
                + "/"
                + credential.path("podName").asText()
                + " --reason '<incident>'");
        break;
      }
    }
    return 0;
  }
}
