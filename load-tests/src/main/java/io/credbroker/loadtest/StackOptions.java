package io.credbroker.loadtest;

import io.credbroker.loadtest.stack.StackSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** Options every subcommand shares: where to work, which broker jar, how to set up the stack. */
final class StackOptions {

  @Option(
      names = "--work-dir",
      paramLabel = "DIR",
      description =
          "Work directory (logs, PostgreSQL data while running); default load-tests/target/load-run-<time>")
  @Nullable Path workDir;

  @Option(
      names = "--report",
      paramLabel = "FILE",
      description = "JSON report file; default <work-dir>/report.json")
  @Nullable Path report;

  @Option(
      names = "--broker-jar",
      paramLabel = "JAR",
      description = "The broker's jar; default broker-service/target/credential-broker.jar")
  @Nullable Path brokerJar;

  @Option(
      names = "--broker-heap",
      defaultValue = "512m",
      description = "The broker's -Xmx (default ${DEFAULT-VALUE})")
  String brokerHeap = "512m";

  @Option(
      names = "--broker-jvm-arg",
      paramLabel = "ARG",
      description = "Extra JVM argument for the broker (repeatable)")
  List<String> brokerJvmArgs = new ArrayList<>();

  @Option(
      names = "--broker-property",
      paramLabel = "KEY=VALUE",
      description = "Extra broker property, passed as --KEY=VALUE (repeatable)")
  Map<String, String> brokerProperties = new LinkedHashMap<>();

  @Option(
      names = "--ttl",
      converter = DurationConverter.class,
      description =
          "Credential TTL of the Vault role (default 1h, so no renewal runs during a measurement;"
              + " renewals: 30s)")
  @Nullable Duration ttl;

  @Option(
      names = "--max-ttl",
      defaultValue = "24h",
      converter = DurationConverter.class,
      description = "Credential max TTL (default ${DEFAULT-VALUE})")
  Duration maxTtl = Duration.ofHours(24);

  @Option(
      names = "--token-cache-ttl",
      defaultValue = "5m",
      converter = DurationConverter.class,
      description =
          "The broker's TokenReview cache window (default ${DEFAULT-VALUE}, the product default)")
  Duration tokenCacheTtl = Duration.ofMinutes(5);

  @Option(
      names = "--heartbeat-interval",
      defaultValue = "30s",
      converter = DurationConverter.class,
      description =
          "The broker's stream heartbeat interval (default ${DEFAULT-VALUE}, the product default)")
  Duration heartbeatInterval = Duration.ofSeconds(30);

  @Option(
      names = "--start-timeout",
      defaultValue = "180s",
      converter = DurationConverter.class,
      description = "How long the broker may take to become ready (default ${DEFAULT-VALUE})")
  Duration startTimeout = Duration.ofSeconds(180);

  @Option(
      names = "--max-duration",
      defaultValue = "30m",
      converter = DurationConverter.class,
      description = "Time limit of each measured phase (default ${DEFAULT-VALUE})")
  Duration maxDuration = Duration.ofMinutes(30);

  @Option(
      names = "--replicas",
      paramLabel = "N",
      description =
          "Broker replicas sharing the state database (default: 1; 3 for rollout and failover)")
  @Nullable Integer replicas;

  Path resolvedWorkDir() {
    if (workDir == null) {
      String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
      Path target =
          Files.isDirectory(Path.of("load-tests"))
              ? Path.of("load-tests", "target")
              : Path.of("target");
      workDir = target.resolve("load-run-" + stamp);
    }
    return workDir;
  }

  Path resolvedReport() {
    return report != null ? report : resolvedWorkDir().resolve("report.json");
  }

  Path resolvedBrokerJar() {
    if (brokerJar != null) {
      return brokerJar;
    }
    Path fromRoot = Path.of("broker-service", "target", "credential-broker.jar");
    Path fromModule = Path.of("..", "broker-service", "target", "credential-broker.jar");
    return Files.isRegularFile(fromRoot) || !Files.isRegularFile(fromModule)
        ? fromRoot
        : fromModule;
  }

  /** The settings of the issuance and streams scenarios: one replica, the limits lifted. */
  StackSettings settings() {
    return settings(1, true, null);
  }

  /**
   * The settings, with {@code defaultReplicas} unless {@code --replicas} was given, the broker's
   * limits lifted or the product's own ({@link StackSettings#liftLimits()}), any {@code
   * --broker-property} over both, and {@code defaultTtl} (1 h when null) unless {@code --ttl} was
   * given.
   */
  StackSettings settings(int defaultReplicas, boolean liftLimits, @Nullable Duration defaultTtl) {
    return new StackSettings(
        resolvedWorkDir(),
        resolvedBrokerJar(),
        brokerHeap,
        ttl != null ? ttl : defaultTtl != null ? defaultTtl : Duration.ofHours(1),
        maxTtl,
        tokenCacheTtl,
        heartbeatInterval,
        liftLimits,
        brokerProperties,
        brokerJvmArgs,
        startTimeout,
        replicas != null ? replicas : defaultReplicas);
  }
}
