package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** The audit trail: who did what to which pod, when and why. */
@Command(
    name = "audit",
    mixinStandardHelpOptions = true,
    description = "Operator actions, newest first.")
final class AuditCommand implements Callable<Integer> {

  @ParentCommand AdminCli cli;

  @Mixin NamespaceFilter filter;

  @Option(names = "--pod", description = "only pods of this name")
  @Nullable String pod;

  @Mixin Paging paging;

  @Override
  public Integer call() {
    JsonNode answer =
        cli.client()
            .get(
                "/audit-events",
                paging.addTo(
                    AdminClient.query("namespace", filter.namespace, "pod", pod), cli.clock));
    if (!cli.printedAsJson(answer)) {
      table(answer.path("items")).print(cli.out);
      paging.printNext(cli, answer);
    }
    return 0;
  }

  static Table table(JsonNode events) {
    Table table = new Table("TIME", "ACTOR", "ACTION", "POD", "PG-USERS", "REASON");
    for (JsonNode e : events) {
      List<String> users = new ArrayList<>();
      e.path("usernames").forEach(u -> users.add(u.asText()));
      table.row(
          Times.show(e.path("time").asText(null)),
          e.path("actor").asText(),
          e.path("action").asText(),
          e.path("namespace").asText()
              + (e.path("podName").isTextual() ? "/" + e.path("podName").asText() : ""),
          String.join(",", users),
          e.path("reason").asText());
    }
    return table;
  }
}
