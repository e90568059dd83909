package io.credbroker.loadtest.stack;

import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The broker running from its Spring Boot jar as a child process, on ports chosen for it, with its
 * output in a log file. Its heap and threads are measured through {@code jcmd} and {@code
 * /actuator/prometheus}, so nothing of the load generator is counted.
 *
 * <p>Lifecycle: {@link #start} returns once the readiness probe answers 200; {@link #close} asks
 * the process to stop (SIGTERM, graceful) and kills it when it does not within 30 s. A JVM shutdown
 * hook kills it too if the load generator is interrupted. Probe methods may be called from any
 * thread.
 */
public final class BrokerProcess implements AutoCloseable {

  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

  private final Process process;
  private final Path logFile;
  private final int grpcPort;
  private final int managementPort;
  private final Path caFile;
  private final HttpClient http;
  private final Thread killOnExit;

  private BrokerProcess(
      Process process, Path logFile, int grpcPort, int managementPort, Path caFile) {
    this.process = process;
    this.logFile = logFile;
    this.grpcPort = grpcPort;
    this.managementPort = managementPort;
    this.caFile = caFile;
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    this.killOnExit = new Thread(process::destroyForcibly, "kill-broker");
    Runtime.getRuntime().addShutdownHook(killOnExit);
  }

  /**
   * Starts {@code java <jvmArgs> -jar <jar> --k=v ...} and waits for readiness.
   *
   * @param properties Spring properties, passed as arguments so that they outrank application.yaml;
   *     values must not be secrets (arguments are visible in {@code ps}), secrets go in {@code env}
   * @param env extra environment variables of the process
   * @param grpcPort the gRPC API's port, served with TLS
   * @param managementPort the actuator's port, plain HTTP
   * @param caFile the CA that signed the broker's serving certificate
   * @throws IllegalStateException when the process exits or is not ready within {@code timeout};
   *     the message quotes the end of its log
   */
  public static BrokerProcess start(
      Path jar,
      Path logFile,
      List<String> jvmArgs,
      Map<String, String> properties,
      Map<String, String> env,
      int grpcPort,
      int managementPort,
      Path caFile,
      Duration timeout) {
    List<String> command = new ArrayList<>();
    command.add(javaExecutable("java").toString());
    command.addAll(jvmArgs);
    command.add("-jar");
    command.add(jar.toString());
    properties.forEach((k, v) -> command.add("--" + k + "=" + v));
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(logFile.toFile());
    builder.environment().putAll(env);
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the broker from " + jar, e);
    }
    BrokerProcess broker = new BrokerProcess(process, logFile, grpcPort, managementPort, caFile);
    try {
      broker.awaitReady(timeout);
    } catch (RuntimeException e) {
      broker.close();
      throw e;
    }
    return broker;
  }

  private void awaitReady(Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    URI readiness = httpUri("/actuator/health/readiness");
    while (Instant.now().isBefore(deadline)) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "the broker exited with code "
                + process.exitValue()
                + " while starting:\n"
                + logTail(40));
      }
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(readiness).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // Not listening yet.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the broker", e);
      }
      pause(Duration.ofMillis(250));
    }
    throw new IllegalStateException(
        "the broker was not ready within " + timeout + ":\n" + logTail(40));
  }

  public long pid() {
    return process.pid();
  }

  /**
   * The CPU time the broker process has used so far, user and system, all its threads (on Linux
   * {@code utime + stime} of {@code /proc/<pid>/stat}, read through {@link ProcessHandle.Info}).
   *
   * @throws IllegalStateException when the platform does not report it
   */
  /** The broker's live threads and their CPU time, grouped by JIT, GC and VM, and application. */
  public ThreadCpu threadCpu() {
    return ThreadCpu.of(pid());
  }

  public Duration cpuTime() {
    return process
        .toHandle()
        .info()
        .totalCpuDuration()
        .orElseThrow(
            () -> new IllegalStateException("the platform does not report the broker's CPU time"));
  }

  public int grpcPort() {
    return grpcPort;
  }

  /** The actuator's port (health, metrics), plain HTTP. */
  public int managementPort() {
    return managementPort;
  }

  public Path logFile() {
    return logFile;
  }

  /**
   * A new channel to the broker's gRPC port (one TCP connection) with TLS, as pods connect in
   * production, trusting the CA that signed the broker's certificate; the caller shuts it down.
   */
  public ManagedChannel newChannel() {
    try {
      return NettyChannelBuilder.forAddress(
              "127.0.0.1",
              grpcPort,
              TlsChannelCredentials.newBuilder().trustManager(caFile.toFile()).build())
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the broker's CA " + caFile, e);
    }
  }

  /** One scrape of {@code /actuator/prometheus}. */
  public PrometheusText scrape() {
    return PrometheusText.parse(scrapeText());
  }

  /** One scrape of {@code /actuator/prometheus}, as text (metrics hold no secret). */
  public String scrapeText() {
    HttpRequest request =
        HttpRequest.newBuilder(httpUri("/actuator/prometheus"))
            .timeout(Duration.ofSeconds(30))
            .build();
    try {
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("/actuator/prometheus answered " + r.statusCode());
      }
      return r.body();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot scrape the broker's metrics", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while scraping the broker", e);
    }
  }

  /**
   * The broker's live heap: {@code jcmd GC.class_histogram} forces a full collection and counts
   * what survived; the heap the JVM reports right after is read from the metrics as a cross-check.
   */
  public HeapSample heap() {
    ClassHistogram histogram = ClassHistogram.parse(jcmd("GC.class_histogram"));
    PrometheusText metrics = scrape();
    return new HeapSample(
        histogram,
        (long) metrics.sum("jvm_memory_used_bytes", "area", "heap"),
        (long) metrics.sum("jvm_threads_live_threads"),
        threadGroups(6));
  }

  /**
   * The broker's live threads grouped by name with numbers removed ({@code
   * grpc-default-executor-12} counts as {@code grpc-default-executor-#}), largest groups first,
   * from {@code jcmd Thread.print}.
   */
  public Map<String, Integer> threadGroups(int limit) {
    Map<String, Integer> groups = new HashMap<>();
    for (String line : jcmd("Thread.print").split("\n")) {
      if (line.startsWith("\"")) {
        int end = line.indexOf('"', 1);
        if (end > 0) {
          groups.merge(line.substring(1, end).replaceAll("\\d+", "#"), 1, Integer::sum);
        }
      }
    }
    Map<String, Integer> largest = new LinkedHashMap<>();
    groups.entrySet().stream()
        .sorted(
            Map.Entry.<String, Integer>comparingByValue()
                .reversed()
                .thenComparing(Map.Entry.comparingByKey()))
        .limit(limit)
        .forEach(e -> largest.put(e.getKey(), e.getValue()));
    return largest;
  }

  /** Runs a {@code jcmd} diagnostic command against the broker and returns its output. */
  public String jcmd(String command) {
    Path jcmd = javaExecutable("jcmd");
    if (!Files.isExecutable(jcmd)) {
      throw new IllegalStateException(
          "measuring the broker's heap needs jcmd, not found at " + jcmd + "; run with a JDK");
    }
    try {
      Process p =
          new ProcessBuilder(jcmd.toString(), Long.toString(pid()), command)
              .redirectErrorStream(true)
              .start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(2, TimeUnit.MINUTES) || p.exitValue() != 0) {
        throw new IllegalStateException(
            "jcmd " + command + " failed: " + new String(out, StandardCharsets.UTF_8));
      }
      return new String(out, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run jcmd", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running jcmd", e);
    }
  }

  /** The last {@code lines} lines of the broker's log (for error messages). */
  public String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(log " + logFile + " unreadable: " + e.getMessage() + ")";
    }
  }

  /**
   * Kills the broker at once (SIGKILL, as {@code kill -9}): no shutdown hook, no graceful drain.
   * Waits until the process is gone.
   */
  public void kill() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        throw new IllegalStateException("the broker " + pid() + " survived SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing the broker", e);
    }
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(killOnExit);
    } catch (IllegalStateException e) {
      // The JVM is already shutting down; the hook kills the process anyway.
    }
  }

  private URI httpUri(String path) {
    return URI.create("http://127.0.0.1:" + managementPort + path);
  }

  static Path javaExecutable(String name) {
    return Path.of(System.getProperty("java.home"), "bin", name);
  }

  public static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
