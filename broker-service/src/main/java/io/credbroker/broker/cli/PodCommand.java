package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/** Everything the broker knows about a pod: blocks, credentials, and what operators did to it. */
@Command(
    name = "pod",
    mixinStandardHelpOptions = true,
    description = "A pod's blocks, credentials (newest first) and audit history.")
final class PodCommand implements Callable<Integer> {

  @ParentCommand AdminCli cli;

  @Mixin PodArgument target;

  @Override
  public Integer call() {
    PodRef ref = target.ref();
    AdminClient client = cli.client();
    JsonNode status =
        client.get(
            AdminClient.path("namespaces", ref.namespace(), "pods", ref.name()),
            AdminClient.query());
    JsonNode history =
        client.get(
            "/audit-events",
            AdminClient.query("namespace", ref.namespace(), "pod", ref.name(), "limit", 100));
    ObjectNode both = AdminClient.JSON.createObjectNode();
    both.set("pod", status);
    both.set("auditEvents", history.path("items"));
    if (cli.printedAsJson(both)) {
      return 0;
    }
    cli.out.println("Pod " + ref);
    cli.out.println();
    JsonNode blocks = status.path("blocks");
    if (blocks.isEmpty()) {
      cli.out.println("Not blocked.");
    } else {
      cli.out.println("BLOCKED:");
      BlockTable.of(blocks).print(cli.out);
    }
    cli.out.println();
    cli.out.println("Credentials:");
    CredentialsCommand.table(status.path("credentials")).print(cli.out);
    cli.out.println();
    cli.out.println("History:");
    AuditCommand.table(history.path("items")).print(cli.out);
    return 0;
  }
}
