package io.credbroker.loadtest;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.credbroker.loadtest.issuance.IssuanceReport;
import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.storms.StormReport;
import io.credbroker.loadtest.streams.StreamsReport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Everything one run measured: the machine-readable report written as JSON. Immutable. Holds no
 * secret (no password, token or lease id).
 *
 * @param startedAt when the run started (ISO-8601, UTC)
 * @param command the subcommand that ran
 * @param issuance the issuance scenario's figures, when it ran
 * @param streams the streams scenario's figures, when it ran
 * @param storm a storm scenario's figures ({@code rollout}, {@code failover}, {@code renewals})
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunReport(
    String startedAt,
    String command,
    Machine machine,
    Stack stack,
    @Nullable IssuanceReport issuance,
    @Nullable StreamsReport streams,
    @Nullable StormReport storm) {

  /** Where the run ran; client, broker, Vault stand-in and PostgreSQL share these cores. */
  public record Machine(int cores, String javaVersion, String os, long totalMemoryBytes) {}

  /**
   * How the stack was set up.
   *
   * @param brokerJarSha256 the first 16 hex digits of the jar's SHA-256, to tell builds apart
   * @param brokerJarModified the jar's modification time
   * @param credentialTtlSeconds the Vault role's default TTL
   * @param tokenCacheSeconds the broker's TokenReview cache window
   */
  public record Stack(
      String brokerJar,
      String brokerJarSha256,
      String brokerJarModified,
      String brokerHeap,
      long credentialTtlSeconds,
      long credentialMaxTtlSeconds,
      double tokenCacheSeconds,
      double heartbeatSeconds,
      LoadStack.StartTimes startTimes,
      String brokerLog) {}

  /** Durations as ISO-8601 text ({@code PT30M}). */
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .registerModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
          .enable(SerializationFeature.INDENT_OUTPUT);

  public void write(Path file) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      JSON.writeValue(file.toFile(), this);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report " + file, e);
    }
  }
}
