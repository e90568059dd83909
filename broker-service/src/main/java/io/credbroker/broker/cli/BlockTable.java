package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;

/** Blocked pod UIDs as a table. */
final class BlockTable {

  private BlockTable() {}

  static Table of(JsonNode blocks) {
    Table table = new Table("POD-UID", "BLOCKED", "BY", "REASON");
    for (JsonNode b : blocks) {
      table.row(
          b.path("podUid").asText(),
          Times.show(b.path("blockedTime").asText(null)),
          b.path("blockedBy").asText(),
          b.path("reason").asText());
    }
    return table;
  }
}
