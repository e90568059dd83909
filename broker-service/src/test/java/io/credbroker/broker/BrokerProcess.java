package io.credbroker.broker;

import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One broker replica as its own operating-system process, started from the packaged jar ({@code
 * target/credential-broker.jar}) the way production runs it, with its output in a log file.
 *
 * <p>{@link #kill()} is {@code kill -9}: no shutdown hook runs, streams break without a goodbye.
 */
final class BrokerProcess implements AutoCloseable {

  static final Path JAR = Path.of("target", "credential-broker.jar");

  final String replicaId;
  final int grpcPort;
  final int httpPort;
  final Path log;
  final ManagedChannel channel;
  private final Process process;

  private BrokerProcess(String replicaId, int grpcPort, int httpPort, Path log, Process process) {
    this.replicaId = replicaId;
    this.grpcPort = grpcPort;
    this.httpPort = httpPort;
    this.log = log;
    this.process = process;
    this.channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
  }

  /**
   * Starts a replica; returns at once (see {@link #awaitReady}).
   *
   * @param properties Spring properties, passed as command-line arguments (they outrank
   *     application.yaml)
   */
  static BrokerProcess start(String replicaId, Path logDir, Map<String, String> properties) {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException(JAR.toAbsolutePath() + " is missing; run mvn verify (package)");
    }
    int grpcPort = freePort();
    int httpPort = freePort();
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // Small and quick to start: three of these share two cores with the tests.
    command.addAll(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
    command.add("-jar");
    command.add(JAR.toAbsolutePath().toString());
    properties.forEach((key, value) -> command.add("--" + key + "=" + value));
    command.add("--credbroker.replica.id=" + replicaId);
    command.add("--credbroker.grpc.port=" + grpcPort);
    command.add("--server.port=" + httpPort);
    command.add("--server.address=127.0.0.1");
    command.add("--spring.grpc.server.host=127.0.0.1");
    try {
      Files.createDirectories(logDir);
      Path log = logDir.resolve(replicaId + ".log");
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      return new BrokerProcess(replicaId, grpcPort, httpPort, log, process);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the replica reports itself ready. */
  BrokerProcess awaitReady(Duration timeout) {
    HttpClient http = HttpClient.newHttpClient();
    await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(250))
        .failFast("replica " + replicaId + " exited; see " + log, () -> !process.isAlive())
        .until(
            () -> {
              try {
                return http.send(
                            HttpRequest.newBuilder(URI.create(httpUrl("/actuator/health/readiness")))
                                .timeout(Duration.ofSeconds(2))
                                .build(),
                            HttpResponse.BodyHandlers.discarding())
                        .statusCode()
                    == 200;
              } catch (IOException e) {
                return false;
              }
            });
    return this;
  }

  String httpUrl(String path) {
    return "http://127.0.0.1:" + httpPort + path;
  }

  boolean alive() {
    return process.isAlive();
  }

  /** {@code kill -9}. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow();
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String toString() {
    return "BrokerProcess[" + replicaId + ", grpc " + grpcPort + ", http " + httpPort + "]";
  }
}
