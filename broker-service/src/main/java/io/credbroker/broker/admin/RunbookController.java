package io.credbroker.broker.admin;

import io.credbroker.broker.BrokerException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/**
 * Serves the operators' runbook (the repository's {@code docs/runbook.md}, packaged with the
 * broker) on the admin port: the whole document at {@value #RUNBOOK_PATH}, and each error reason's
 * entry at its problem type, {@value #PROBLEMS_PATH}{@code /<reason in lower case, '_' as '-'>}, so
 * that the {@code type} of every problem the admin API answers with resolves to what the reason
 * means and what to do about it. Plain text, without authentication: the runbook holds nothing
 * secret.
 *
 * <p>The runbook is read and split once, at startup, which fails when a reason has no entry: every
 * problem type the broker can answer with resolves. Immutable and thread-safe after construction.
 */
@RestController
class RunbookController {

  static final String RUNBOOK_PATH = "/runbook";
  static final String PROBLEMS_PATH = "/problems";
  private static final String RESOURCE = "/docs/runbook.md";
  private static final MediaType TEXT = new MediaType("text", "plain", StandardCharsets.UTF_8);
  private static final Pattern REASON_HEADING = Pattern.compile("(?m)^### Reason: ([A-Z_]+)\\s*$");

  private final String runbook;

  /**
   * Each reason's entry (heading and text up to the next heading) by its problem type's last
   * segment.
   */
  private final Map<String, String> entries;

  RunbookController() {
    this(readRunbook());
  }

  RunbookController(String runbook) {
    this.runbook = runbook;
    this.entries = reasonEntries(runbook);
    for (Reason reason : Reason.values()) {
      if (!entries.containsKey(slug(reason.name()))) {
        throw new IllegalStateException("the runbook has no entry '### Reason: " + reason + "'");
      }
    }
  }

  @GetMapping(path = RUNBOOK_PATH)
  ResponseEntity<String> runbook() {
    return ResponseEntity.ok().contentType(TEXT).body(runbook);
  }

  @GetMapping(path = PROBLEMS_PATH + "/{type}")
  ResponseEntity<String> problemType(@PathVariable String type) {
    String entry = entries.get(type);
    if (entry == null) {
      return ResponseEntity.notFound().build();
    }
    return ResponseEntity.ok().contentType(TEXT).body(entry);
  }

  /**
   * The last segment of a reason's problem type: {@code POD_NOT_FOUND} is {@code pod-not-found}.
   */
  static String slug(String reason) {
    return reason.toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static Map<String, String> reasonEntries(String runbook) {
    Map<String, String> entries = new LinkedHashMap<>();
    Matcher heading = REASON_HEADING.matcher(runbook);
    while (heading.find()) {
      int end = nextHeading(runbook, heading.end());
      entries.put(slug(heading.group(1)), runbook.substring(heading.start(), end).strip() + "\n");
    }
    return entries;
  }

  /** Where the next heading of level 1 to 3 starts after {@code from}, or the end of the text. */
  private static int nextHeading(String text, int from) {
    Matcher next = Pattern.compile("(?m)^#{1,3} ").matcher(text);
    return next.find(from) ? next.start() : text.length();
  }

  private static String readRunbook() {
    try (InputStream in = RunbookController.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("the runbook " + RESOURCE + " is not on the class path");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
