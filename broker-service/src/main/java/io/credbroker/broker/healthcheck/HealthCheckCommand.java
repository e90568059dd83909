package io.credbroker.broker.healthcheck;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Asks a broker's gRPC health service ({@code grpc.health.v1.Health/Check}) whether it is serving,
 * over TLS that verifies the broker's certificate. Exit code 0 when the answer is SERVING, 1 for
 * any other answer or a failed call, 2 for bad arguments. Starts no Spring context.
 */
@Command(
    name = "health-check",
    mixinStandardHelpOptions = true,
    description = "Checks a broker's gRPC health service over TLS; exit 0 when it answers SERVING.")
public final class HealthCheckCommand implements Callable<Integer> {

  @Option(
      names = "--target",
      required = true,
      description =
          "host:port of the broker's gRPC API, e.g. credential-broker.credbroker.svc:9090")
  String target = "";

  @Option(
      names = "--ca-file",
      description =
          "PEM file of the CA(s) that signed the broker's certificate (default: the JVM's)")
  @Nullable Path caFile;

  @Option(
      names = "--authority",
      description = "the name the certificate must carry (default: the host of --target)")
  @Nullable String authority;

  @Option(
      names = "--service",
      defaultValue = "",
      description = "the service to ask about (default: the server as a whole)")
  String service = "";

  @Option(
      names = "--timeout",
      defaultValue = "10s",
      converter = DurationConverter.class,
      description = "how long the check may take (default: ${DEFAULT-VALUE})")
  Duration timeout = Duration.ofSeconds(10);

  private PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);

  /** Runs the command with {@code args}; returns the exit code. */
  public static int run(String... args) {
    return run(
        args,
        new PrintWriter(System.out, true, StandardCharsets.UTF_8),
        new PrintWriter(System.err, true, StandardCharsets.UTF_8));
  }

  static int run(String[] args, PrintWriter out, PrintWriter err) {
    HealthCheckCommand command = new HealthCheckCommand();
    command.out = out;
    int code = new CommandLine(command).setOut(out).setErr(err).execute(args);
    out.flush();
    err.flush();
    return code;
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    var builder = Grpc.newChannelBuilder(target, credentials());
    if (authority != null) {
      builder.overrideAuthority(authority);
    }
    ManagedChannel channel = builder.build();
    try {
      HealthCheckResponse.ServingStatus status =
          HealthGrpc.newBlockingStub(channel)
              .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .check(HealthCheckRequest.newBuilder().setService(service).build())
              .getStatus();
      out.println(target + ": " + status);
      return status == HealthCheckResponse.ServingStatus.SERVING ? 0 : 1;
    } catch (StatusRuntimeException e) {
      out.println(
          target + ": " + e.getStatus().getCode() + " " + describe(e.getStatus().getDescription()));
      return 1;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private ChannelCredentials credentials() throws IOException {
    return caFile == null
        ? TlsChannelCredentials.create()
        : TlsChannelCredentials.newBuilder().trustManager(caFile.toFile()).build();
  }

  private static String describe(@Nullable String description) {
    return description == null ? "" : description;
  }

  /** Reads {@code 10s}, {@code 500ms} or an ISO-8601 duration. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      return org.springframework.boot.convert.DurationStyle.detectAndParse(value);
    }
  }
}
