package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** Lifts a pod's block after showing it and asking; audited with the reason. */
@Command(
    name = "unblock",
    mixinStandardHelpOptions = true,
    description =
        "Lift the block of a revoked pod so it may obtain credentials again (its revoked credentials"
            + " stay revoked). Shows the block and asks first, unless --yes. RBAC verb: unblock.")
final class UnblockCommand implements Callable<Integer> {

  @ParentCommand AdminCli cli;

  @Mixin PodArgument target;

  @Mixin AuditReason reason;

  @Option(
      names = {"-y", "--yes"},
      description = "do not ask")
  boolean yes;

  @Override
  public Integer call() {
    PodRef ref = target.ref();
    AdminClient client = cli.client();
    if (!yes) {
      JsonNode status =
          client.get(
              AdminClient.path("namespaces", ref.namespace(), "pods", ref.name()),
              AdminClient.query());
      JsonNode blocks = status.path("blocks");
      if (blocks.isEmpty()) {
        throw new CliException("pod " + ref + " is not blocked");
      }
      cli.out.println("Pod " + ref + " is blocked:");
      BlockTable.of(blocks).print(cli.out);
      cli.out.flush();
      if (!cli.confirmed("Lift the block, so that these pod UIDs may obtain credentials again?")) {
        return cli.declined();
      }
    }
    JsonNode answer =
        client.post(
            AdminClient.path("namespaces", ref.namespace(), "pods", ref.name(), "unblock"),
            AdminClient.query(),
            RevokeCommand.reasonBody(reason.text));
    if (!cli.printedAsJson(answer)) {
      cli.out.println("Lifted " + answer.path("lifted").size() + " block(s) of pod " + ref + ".");
    }
    return 0;
  }
}
