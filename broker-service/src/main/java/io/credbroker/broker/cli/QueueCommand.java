package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/** Revocations Vault has not confirmed: those roles may still log in until a retry succeeds. */
@Command(
    name = "queue",
    mixinStandardHelpOptions = true,
    description =
        "Revocations Vault has not confirmed yet (their roles may still log in), oldest first.")
final class QueueCommand implements Callable<Integer> {

  @ParentCommand AdminCli cli;

  @Mixin NamespaceFilter filter;

  @Mixin Paging paging;

  @Override
  public Integer call() {
    JsonNode answer =
        cli.client()
            .get(
                "/revocation-queue",
                paging.addTo(AdminClient.query("namespace", filter.namespace), cli.clock));
    if (cli.printedAsJson(answer)) {
      return 0;
    }
    Table table =
        new Table(
            "QUEUED",
            "NAMESPACE",
            "POD",
            "PG-USER",
            "TRIGGER",
            "ATTEMPTS",
            "NEXT-ATTEMPT",
            "LAST-FAILURE",
            "CREDENTIAL");
    for (JsonNode q : answer.path("items")) {
      table.row(
          Times.show(q.path("enqueuedTime").asText(null)),
          q.path("namespace").asText(),
          q.path("podName").asText(null),
          q.path("username").asText(),
          q.path("trigger").asText(),
          q.path("attempts").asInt(),
          Times.show(q.path("nextAttemptTime").asText(null)),
          q.path("lastFailure").asText(null),
          q.path("credentialId").asText());
    }
    if (answer.path("items").isEmpty()) {
      cli.out.println("The revocation queue is empty: Vault confirmed every revocation.");
    } else {
      table.print(cli.out);
      paging.printNext(cli, answer);
    }
    return 0;
  }
}
