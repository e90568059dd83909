package io.credbroker.loadtest;

import io.credbroker.loadtest.heap.HeapOwners;
import io.credbroker.loadtest.issuance.IssuanceReport;
import io.credbroker.loadtest.issuance.IssuanceScenario;
import io.credbroker.loadtest.stack.BrokerProcess;
import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.StackSettings;
import io.credbroker.loadtest.storms.FailoverScenario;
import io.credbroker.loadtest.storms.RenewalScenario;
import io.credbroker.loadtest.storms.RolloutScenario;
import io.credbroker.loadtest.storms.StormReport;
import io.credbroker.loadtest.streams.StreamsReport;
import io.credbroker.loadtest.streams.StreamsScenario;
import io.credbroker.loadtest.tls.TlsEngineFootprint;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code java -jar load-tests.jar <issuance|streams|all|rollout|failover|renewals>}: starts its own
 * stack (dev-stack in this process, the broker as a separate process, all on 127.0.0.1), runs the
 * scenario, prints a summary on standard output (progress goes to standard error) and writes the
 * JSON report.
 *
 * <p>Exit code 0 when the run completed (the figures say whether budgets were met), 1 when it could
 * not run, 2 on bad options.
 */
@Command(
    name = "load-tests",
    mixinStandardHelpOptions = true,
    subcommands = {
      LoadTestMain.Issuance.class,
      LoadTestMain.Streams.class,
      LoadTestMain.All.class,
      LoadTestMain.Rollout.class,
      LoadTestMain.Failover.class,
      LoadTestMain.Renewals.class,
      LoadTestMain.HeapOwnersCommand.class,
      LoadTestMain.TlsEnginesCommand.class
    },
    description =
        "Load generator for the credential broker. Each subcommand starts its own dev-stack and broker"
            + " process on free loopback ports, measures, cleans up and writes a JSON report.")
public final class LoadTestMain implements Callable<Integer> {

  @Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line as {@link #main} does, without exiting; returns the exit code. */
  public static int execute(String... args) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty(
          "logback.configurationFile", "io/credbroker/loadtest/logback-load-tests.xml");
    }
    PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
    CommandLine cli = new CommandLine(new LoadTestMain()).setErr(err);
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          if (e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
            err.println("load test failed: " + e.getMessage());
            return 1;
          }
          throw e;
        });
    return cli.execute(args);
  }

  @Override
  public Integer call() {
    throw new CommandLine.ParameterException(
        spec.commandLine(),
        "name a scenario: issuance, streams, all, rollout, failover or renewals");
  }

  @Command(
      name = "heap-owners",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description =
          "Where a broker's heap per connected pod goes, from a heap dump taken while the pods'"
              + " streams were open (jcmd <pid> GC.heap_dump FILE, during streams --hold).")
  static final class HeapOwnersCommand implements Callable<Integer> {
    @Option(names = "--dump", required = true, description = "The broker's heap dump (HPROF)")
    Path dump;

    @Option(
        names = "--pods",
        required = true,
        description = "How many pods had a stream (and a connection) open in it")
    int pods;

    @Override
    public Integer call() throws IOException {
      if (pods < 1) {
        throw new IllegalArgumentException("--pods must be positive");
      }
      HeapOwners.Analysis analysis = HeapOwners.analyse(dump);
      PrintStream out = System.out;
      out.printf(
          Locale.ROOT,
          "reachable only through the pods' connections and streams: %d B, %d B per pod%n",
          analysis.totalBytes(),
          analysis.totalBytes() / pods);
      Map<String, Long> layers = new TreeMap<>();
      analysis.owners().forEach(o -> layers.merge(o.layer(), o.bytes(), Long::sum));
      out.println("by layer, bytes per pod:");
      layers.entrySet().stream()
          .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
          .forEach(e -> out.printf(Locale.ROOT, "  %7d  %s%n", e.getValue() / pods, e.getKey()));
      out.println("by component, bytes and objects per pod:");
      analysis.owners().stream()
          .filter(o -> o.bytes() / pods >= 16)
          .forEach(
              o ->
                  out.printf(
                      Locale.ROOT,
                      "  %7d %6.1f  %-16s %s%n",
                      o.bytes() / pods,
                      o.objects() / (double) pods,
                      o.layer(),
                      o.component()));
      return 0;
    }
  }

  @Command(
      name = "tls-engines",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description =
          "Heap and native memory per idle TLS connection of the gRPC server, OpenSSL against the"
              + " JDK's engine, each in a JVM of its own (no broker, no sockets).")
  static final class TlsEnginesCommand implements Callable<Integer> {
    @Option(
        names = "--connections",
        defaultValue = "5000",
        description = "Server engines kept after their handshake (default ${DEFAULT-VALUE})")
    int connections;

    @Option(
        names = "--work-dir",
        defaultValue = "target/tls-engines",
        description =
            "Where the certificates and the children's logs go (default ${DEFAULT-VALUE})")
    Path workDir;

    @Override
    public Integer call() throws Exception {
      if (connections < 1) {
        throw new IllegalArgumentException("--connections must be positive");
      }
      var jdk = TlsEngineFootprint.measureInChild("jdk", connections, workDir);
      var openSsl = TlsEngineFootprint.measureInChild("openssl", connections, workDir);
      var sharedKey = TlsEngineFootprint.measureInChild("openssl-shared-key", connections, workDir);
      List.of(openSsl, sharedKey, jdk).forEach(r -> System.out.println(r.line()));
      for (TlsEngineFootprint.Result r : List.of(openSsl, sharedKey)) {
        System.out.printf(
            Locale.ROOT,
            "%s/jdk per connection: heap %.2f, heap and native %.2f%n",
            r.engine(),
            (double) r.heapBytes() / jdk.heapBytes(),
            (double) (r.heapBytes() + r.nativeBytes()) / (jdk.heapBytes() + jdk.nativeBytes()));
      }
      return 0;
    }
  }

  @Command(
      name = "issuance",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description =
          "Broker IssueCredential latency against direct Vault creds reads, interleaved; TokenReview count.")
  static final class Issuance implements Callable<Integer> {
    @Mixin IssuanceMixin issuance;
    @Mixin StackOptions stack;

    @Override
    public Integer call() throws IOException {
      return LoadRun.run("issuance", stack, issuance, null);
    }
  }

  @Command(
      name = "streams",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = "Broker heap, threads and scheduler entries per live WatchCredential stream.")
  static final class Streams implements Callable<Integer> {
    @Mixin StreamsMixin streams;
    @Mixin StackOptions stack;

    @Override
    public Integer call() throws IOException {
      return LoadRun.run("streams", stack, null, streams);
    }
  }

  @Command(
      name = "all",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = "Issuance, then streams, on one stack and into one report.")
  static final class All implements Callable<Integer> {
    @Mixin IssuanceMixin issuance;
    @Mixin StreamsMixin streams;
    @Mixin StackOptions stack;

    @Override
    public Integer call() throws IOException {
      return LoadRun.run("all", stack, issuance, streams);
    }
  }

  @Command(
      name = "rollout",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description =
          "Many pods start at once across the replicas: time until all hold a credential against"
              + " Vault's serialised ceiling, and every status the SDK saw.")
  static final class Rollout implements Callable<Integer> {
    @Mixin StormMixins.RolloutMixin rollout;
    @Mixin StackOptions stack;

    @Override
    public Integer call() throws IOException {
      var options = rollout.options(stack.maxDuration);
      return LoadRun.storm(
          "rollout", stack, 3, null, s -> new RolloutScenario(s, options, System.err).run());
    }
  }

  @Command(
      name = "failover",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description =
          "A replica holding many streams is killed (SIGKILL): time until every pod resumed on a"
              + " survivor, TokenReviews and new roles it cost.")
  static final class Failover implements Callable<Integer> {
    @Mixin StormMixins.FailoverMixin failover;
    @Mixin StackOptions stack;

    @Override
    public Integer call() throws IOException {
      var options = failover.options(stack.maxDuration);
      return LoadRun.storm(
          "failover", stack, 3, null, s -> new FailoverScenario(s, options, System.err).run());
    }
  }

  @Command(
      name = "renewals",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description =
          "Many live credentials with a short TTL: renewals per second sustained and the renewal"
              + " lag, against Vault's serialised renewal ceiling.")
  static final class Renewals implements Callable<Integer> {
    @Mixin StormMixins.RenewalsMixin renewals;
    @Mixin StackOptions stack;

    @Override
    public Integer call() throws IOException {
      var options = renewals.options(stack.maxDuration);
      return LoadRun.storm(
          "renewals",
          stack,
          1,
          StormMixins.RENEWAL_TTL,
          s -> new RenewalScenario(s, options, System.err).run());
    }
  }

  /** One run: start the stack, run the scenarios, report, stop. */
  static final class LoadRun {
    private LoadRun() {}

    static int run(
        String command,
        StackOptions options,
        @Nullable IssuanceMixin issuance,
        @Nullable StreamsMixin streams)
        throws IOException {
      return run(command, options, options.settings(), issuance, streams, null);
    }

    /**
     * A storm: {@code replicas} brokers (unless {@code --replicas}) with the product's limits, the
     * credential TTL {@code ttl} (1 h when null) unless {@code --ttl}.
     */
    static int storm(
        String command,
        StackOptions options,
        int replicas,
        @Nullable Duration ttl,
        Function<LoadStack, StormReport> scenario)
        throws IOException {
      return run(command, options, options.settings(replicas, false, ttl), null, null, scenario);
    }

    static int run(
        String command,
        StackOptions options,
        StackSettings settings,
        @Nullable IssuanceMixin issuance,
        @Nullable StreamsMixin streams,
        @Nullable Function<LoadStack, StormReport> storm)
        throws IOException {
      PrintStream progress = System.err;
      Instant startedAt = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      // Options are checked before anything starts.
      var issuanceOptions = issuance == null ? null : issuance.options(options.maxDuration);
      var streamsOptions = streams == null ? null : streams.options(options.maxDuration);
      progress.printf("starting the dev-stack, setup and the broker in %s%n", settings.workDir());
      try (LoadStack stack = LoadStack.start(settings)) {
        for (BrokerProcess b : stack.brokers()) {
          progress.printf(
              "broker pid %d ready (gRPC with TLS %d, management %d); log %s%n",
              b.pid(), b.grpcPort(), b.managementPort(), b.logFile());
        }
        IssuanceReport issued =
            issuanceOptions == null
                ? null
                : new IssuanceScenario(stack, issuanceOptions, progress).run();
        StreamsReport streamed =
            streamsOptions == null
                ? null
                : new StreamsScenario(stack, streamsOptions, progress).run();
        StormReport stormed = storm == null ? null : storm.apply(stack);
        // The broker's last scrape is kept next to the report, for figures the report does not
        // extract.
        Files.writeString(
            settings.workDir().resolve("broker-metrics.prom"), stack.broker().scrapeText());
        RunReport report =
            new RunReport(
                startedAt.toString(),
                command,
                machine(),
                stackInfo(stack),
                issued,
                streamed,
                stormed);
        System.out.print(SummaryText.render(report));
        System.out.println();
        Path file = options.resolvedReport();
        report.write(file);
        System.out.println("report: " + file.toAbsolutePath());
        return 0;
      }
    }

    private static RunReport.Machine machine() {
      long memory = 0;
      if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
          instanceof com.sun.management.OperatingSystemMXBean os) {
        memory = os.getTotalMemorySize();
      }
      return new RunReport.Machine(
          Runtime.getRuntime().availableProcessors(),
          System.getProperty("java.version"),
          System.getProperty("os.name")
              + " "
              + System.getProperty("os.version")
              + " "
              + System.getProperty("os.arch"),
          memory);
    }

    private static RunReport.Stack stackInfo(LoadStack stack) {
      StackSettings s = stack.settings();
      return new RunReport.Stack(
          s.brokerJar().toString(),
          stack.brokerJarSha256(),
          stack.brokerJarModified(),
          s.brokerHeap(),
          s.credentialTtl().toSeconds(),
          s.credentialMaxTtl().toSeconds(),
          s.tokenCacheTtl().toMillis() / 1000.0,
          s.heartbeatInterval().toMillis() / 1000.0,
          stack.startTimes(),
          stack.broker().logFile().toString());
    }
  }
}
