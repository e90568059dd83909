package io.credbroker.broker;

import static org.awaitility.Awaitility.await;

import io.credbroker.devstack.FreePorts;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One broker replica as its own operating-system process, started from the packaged jar ({@code
 * target/credential-broker.jar}) the way production runs it, with its output in a log file.
 *
 * <p>{@link #stop} is what Kubernetes does to a pod it deletes (SIGTERM, the broker shuts down
 * gracefully); {@link #kill()} is {@code kill -9}: no shutdown hook runs, streams break without a
 * goodbye. {@link #successor} starts the pod that replaces a stopped one, reachable at the same
 * ports as behind a Kubernetes Service.
 *
 * <p>A replica's properties are Spring properties, given on its command line, except those whose
 * key starts with {@value #ENVIRONMENT}: these go to its environment, the way the kubelet gives a
 * pod the API server's address ({@code env:KUBERNETES_SERVICE_HOST} becomes {@code
 * KUBERNETES_SERVICE_HOST}).
 */
final class BrokerProcess implements AutoCloseable {

  static final Path JAR = Path.of("target", "credential-broker.jar");

  /** The key prefix of the properties that are environment variables of the process. */
  static final String ENVIRONMENT = "env:";

  final String replicaId;
  final int grpcPort;

  /** The admin API's port (TLS). */
  final int adminPort;

  /** The actuator's port (plain HTTP). */
  final int managementPort;

  final Path log;
  final ManagedChannel channel;
  private final Process process;
  private final Path logDir;
  private final Map<String, String> properties;

  private BrokerProcess(
      String replicaId, Ports ports, Path logDir, Map<String, String> properties, Process process) {
    this.replicaId = replicaId;
    this.grpcPort = ports.grpc();
    this.adminPort = ports.admin();
    this.managementPort = ports.management();
    this.logDir = logDir;
    this.log = logDir.resolve(replicaId + ".log");
    this.properties = Map.copyOf(properties);
    this.process = process;
    this.channel = TestTls.channel(grpcPort, caFile(properties));
  }

  /** The ports of one replica; a successor takes over its predecessor's. */
  private record Ports(int grpc, int admin, int management) {
    static Ports free() {
      return new Ports(FreePorts.next(), FreePorts.next(), FreePorts.next());
    }
  }

  /**
   * The CA that signed the replica's certificate: {@code ca.crt} next to {@code
   * credbroker.tls.certificate-file}, as a Kubernetes TLS Secret and the dev-stack lay them out.
   */
  static Path caFile(Map<String, String> properties) {
    String certificate = properties.get("credbroker.tls.certificate-file");
    if (certificate == null) {
      throw new IllegalArgumentException(
          "no credbroker.tls.certificate-file in the replica's properties");
    }
    return Path.of(certificate).resolveSibling("ca.crt");
  }

  /**
   * Starts a replica on free ports; returns at once (see {@link #awaitReady}).
   *
   * @param properties Spring properties, passed as command-line arguments (they outrank
   *     application.yaml), and environment variables (keys prefixed {@value #ENVIRONMENT})
   */
  static BrokerProcess start(String replicaId, Path logDir, Map<String, String> properties) {
    return start(replicaId, logDir, properties, Ports.free());
  }

  /**
   * Starts one replica per ID, all at once (they share the machine's cores while starting), and
   * waits until every one is ready; when one does not get ready, stops them all and throws.
   */
  static List<BrokerProcess> startReady(
      Path logDir, Map<String, String> properties, Duration timeout, String... replicaIds)
      throws InterruptedException {
    List<BrokerProcess> started = new ArrayList<>();
    try {
      for (String id : replicaIds) {
        started.add(start(id, logDir, properties));
      }
      for (BrokerProcess replica : started) {
        replica.awaitReady(timeout);
      }
      return started;
    } catch (RuntimeException e) {
      for (BrokerProcess replica : started) {
        replica.close();
      }
      throw e;
    }
  }

  /**
   * Starts the replica that replaces this stopped one: a new process with a new replica ID (a new
   * pod has a new name) and the same properties, listening on this one's ports, as a Kubernetes
   * Service keeps its address when the pods behind it change. Returns at once (see {@link
   * #awaitReady}).
   */
  BrokerProcess successor(String newReplicaId) {
    return successor(newReplicaId, Map.of());
  }

  /**
   * {@link #successor(String)} with {@code environment} added to the new process's environment (for
   * example libfaketime's {@code LD_PRELOAD} and {@code FAKETIME}, to run it with a clock of its
   * own).
   */
  BrokerProcess successor(String newReplicaId, Map<String, String> environment) {
    if (process.isAlive()) {
      throw new IllegalStateException(this + " still runs; stop or kill it first");
    }
    channel.shutdownNow();
    return start(
        newReplicaId,
        logDir,
        properties,
        new Ports(grpcPort, adminPort, managementPort),
        environment);
  }

  private static BrokerProcess start(
      String replicaId, Path logDir, Map<String, String> properties, Ports ports) {
    return start(replicaId, logDir, properties, ports, Map.of());
  }

  private static BrokerProcess start(
      String replicaId,
      Path logDir,
      Map<String, String> properties,
      Ports ports,
      Map<String, String> environment) {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException(
          JAR.toAbsolutePath() + " is missing; run mvn verify (package)");
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // Small and quick to start: three of these share two cores with the tests.
    command.addAll(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
    command.add("-jar");
    command.add(JAR.toAbsolutePath().toString());
    Map<String, String> processEnvironment = new LinkedHashMap<>();
    properties.forEach(
        (key, value) -> {
          if (key.startsWith(ENVIRONMENT)) {
            processEnvironment.put(key.substring(ENVIRONMENT.length()), value);
          } else {
            command.add("--" + key + "=" + value);
          }
        });
    processEnvironment.putAll(environment);
    command.add("--credbroker.replica.id=" + replicaId);
    command.add("--credbroker.grpc.port=" + ports.grpc());
    command.add("--server.port=" + ports.admin());
    command.add("--server.address=127.0.0.1");
    command.add("--management.server.port=" + ports.management());
    command.add("--management.server.address=127.0.0.1");
    command.add("--spring.grpc.server.host=127.0.0.1");
    try {
      Files.createDirectories(logDir);
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(logDir.resolve(replicaId + ".log").toFile());
      builder.environment().putAll(processEnvironment);
      Process process = builder.start();
      return new BrokerProcess(replicaId, ports, logDir, properties, process);
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
                            HttpRequest.newBuilder(managementUri("/actuator/health/readiness"))
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

  /** The actuator on the management port, in plain HTTP. */
  URI managementUri(String path) {
    return URI.create("http://127.0.0.1:" + managementPort + path);
  }

  /** The admin API, with TLS. */
  URI adminUri(String path) {
    return URI.create("https://127.0.0.1:" + adminPort + path);
  }

  /** A client for {@link #adminUri}: it trusts the CA that signed the replica's certificate. */
  HttpClient adminHttpClient() {
    return TestTls.httpClient(caFile(properties));
  }

  boolean alive() {
    return process.isAlive();
  }

  /** {@code kill -9}. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /**
   * SIGSTOP: the process stops where it is, without knowing, as a JVM does in a long GC pause or a
   * VM that the hypervisor paused; its sockets stay open. {@link #thaw} resumes it.
   */
  void freeze() throws IOException, InterruptedException {
    signal("STOP");
  }

  /** SIGCONT: a {@link #freeze frozen} process goes on from where it stopped. */
  void thaw() throws IOException, InterruptedException {
    signal("CONT");
  }

  private void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start();
    if (kill.waitFor() != 0) {
      throw new IOException("kill -" + name + " " + process.pid() + " failed");
    }
  }

  /**
   * SIGTERM, as Kubernetes stops a pod: the broker shuts down gracefully. Waits up to {@code
   * timeout}, then kills it.
   *
   * @return whether it exited by itself within {@code timeout}
   */
  boolean stop(Duration timeout) throws InterruptedException {
    channel.shutdownNow();
    if (!process.isAlive()) {
      return true;
    }
    process.destroy();
    if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      return true;
    }
    process.destroyForcibly();
    process.waitFor(5, TimeUnit.SECONDS);
    return false;
  }

  @Override
  public void close() throws InterruptedException {
    stop(Duration.ofSeconds(15));
  }

  @Override
  public String toString() {
    return "BrokerProcess["
        + replicaId
        + ", grpc "
        + grpcPort
        + ", admin "
        + adminPort
        + ", management "
        + managementPort
        + "]";
  }
}
