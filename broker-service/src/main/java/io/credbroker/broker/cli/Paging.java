package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The paging options every list shares: a time window, a limit, and the cursor of the next page.
 */
final class Paging {

  @Option(names = "--since", description = "from this time: 30m, 2h, 7d ago, or RFC 3339")
  @Nullable String since;

  @Option(names = "--until", description = "before this time: 30m, 2h, 7d ago, or RFC 3339")
  @Nullable String until;

  @Option(
      names = "--limit",
      defaultValue = "50",
      description = "at most this many (1-1000, default: ${DEFAULT-VALUE})")
  int limit = 50;

  @Option(names = "--cursor", description = "the next page, as the previous page printed it")
  @Nullable String cursor;

  Map<String, @Nullable Object> addTo(Map<String, @Nullable Object> query, Clock clock) {
    query.put("since", Times.parse(since, "--since", clock));
    query.put("until", Times.parse(until, "--until", clock));
    query.put("limit", limit);
    query.put("cursor", cursor);
    return query;
  }

  void printNext(AdminCli cli, JsonNode answer) {
    if (answer.path("items").isEmpty()) {
      cli.err.println("Nothing found.");
    }
    JsonNode next = answer.path("nextCursor");
    if (next.isTextual()) {
      // The window is repeated as absolute times, so the next page is the same list.
      cli.err.println();
      cli.err.println(
          "More: repeat the command with --cursor "
              + next.asText()
              + (since != null ? " --since " + Times.parse(since, "--since", cli.clock) : "")
              + (until != null ? " --until " + Times.parse(until, "--until", cli.clock) : ""));
    }
  }
}
