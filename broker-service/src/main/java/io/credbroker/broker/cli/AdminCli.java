package io.credbroker.broker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code credential-broker admin}: the admin API for an SRE at a terminal. Finds who holds a
 * PostgreSQL user, shows a pod's credentials and history, revokes a pod, a credential or every pod
 * of a service account, namespace or database role (showing what it will revoke and asking first,
 * unless {@code --yes}), lifts a block, and reads the revocation queue and the audit trail.
 *
 * <p>Exit codes: 0 done, 1 failed (the message says why), 2 bad arguments, 3 declined at the prompt
 * (nothing changed). Starts no Spring context. One instance per run; not thread-safe.
 */
@Command(
    name = "admin",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "The broker's admin API as the person running it: the bearer token of your own kubeconfig"
          + " user, so the audit trail names you. The broker's certificate is always verified.",
      "",
      "Through a port-forward:",
      "  kubectl -n credbroker port-forward svc/credential-broker 8443 &",
      "  java -jar credential-broker-cli.jar --ca-file ca.crt --tls-server-name credential-broker.credbroker.svc who v-token-...",
    },
    subcommands = {
      WhoCommand.class,
      PodCommand.class,
      CredentialsCommand.class,
      RevokeCommand.class,
      UnblockCommand.class,
      QueueCommand.class,
      AuditCommand.class,
    },
    footer = {
      "",
      "Exit codes: 0 done, 1 failed, 2 bad arguments, 3 declined at the prompt (nothing changed)."
    })
public final class AdminCli {

  /** Exit code when the operator did not confirm: nothing was changed. */
  static final int DECLINED = 3;

  @Option(
      names = "--kubeconfig",
      scope = ScopeType.INHERIT,
      description = "kubeconfig file (default: the first of $KUBECONFIG, else ~/.kube/config)")
  @Nullable Path kubeconfig;

  @Option(
      names = "--context",
      scope = ScopeType.INHERIT,
      description = "kubeconfig context (default: the current one)")
  @Nullable String context;

  @Option(
      names = "--server",
      scope = ScopeType.INHERIT,
      defaultValue = "${env:CREDBROKER_SERVER:-https://localhost:8443}",
      description =
          "the admin API, https only (default: $CREDBROKER_SERVER, else ${DEFAULT-VALUE})")
  URI server = URI.create("https://localhost:8443");

  @Option(
      names = "--ca-file",
      scope = ScopeType.INHERIT,
      defaultValue = "${env:CREDBROKER_CA_FILE}",
      description =
          "PEM CA that signed the broker's certificate (default: $CREDBROKER_CA_FILE, else the JVM's)")
  @Nullable Path caFile;

  @Option(
      names = "--tls-server-name",
      scope = ScopeType.INHERIT,
      defaultValue = "${env:CREDBROKER_TLS_SERVER_NAME}",
      description =
          "the name the broker's certificate must carry, e.g. credential-broker.credbroker.svc behind a port-forward (default: $CREDBROKER_TLS_SERVER_NAME, else the --server host)")
  @Nullable String tlsServerName;

  @Option(
      names = {"-o", "--output"},
      scope = ScopeType.INHERIT,
      defaultValue = "table",
      description = "table or json (default: ${DEFAULT-VALUE})")
  Output output = Output.table;

  @Option(
      names = "--timeout",
      scope = ScopeType.INHERIT,
      defaultValue = "60s",
      converter = DurationConverter.class,
      description = "how long one call may take (default: ${DEFAULT-VALUE})")
  Duration timeout = Duration.ofSeconds(60);

  enum Output {
    table,
    json
  }

  private final BufferedReader in;
  final PrintWriter out;
  final PrintWriter err;
  final Clock clock;

  AdminCli(BufferedReader in, PrintWriter out, PrintWriter err, Clock clock) {
    this.in = in;
    this.out = out;
    this.err = err;
    this.clock = clock;
  }

  /** Runs the command with {@code args} on the process's terminal; returns the exit code. */
  public static int run(String... args) {
    return run(
        args,
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)),
        new PrintWriter(System.out, true, StandardCharsets.UTF_8),
        new PrintWriter(System.err, true, StandardCharsets.UTF_8),
        Clock.systemUTC());
  }

  /**
   * Runs the command with {@code args} on the given streams (answers to prompts are read from
   * {@code in}).
   */
  public static int run(
      String[] args, BufferedReader in, PrintWriter out, PrintWriter err, Clock clock) {
    AdminCli cli = new AdminCli(in, out, err, clock);
    CommandLine commandLine =
        new CommandLine(cli)
            .setOut(out)
            .setErr(err)
            .setCaseInsensitiveEnumValuesAllowed(true)
            .setExecutionExceptionHandler(
                (e, line, parsed) -> {
                  if (e instanceof CliException) {
                    err.println("error: " + e.getMessage());
                    return 1;
                  }
                  throw e;
                });
    int code = commandLine.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  /** For the {@code -cli} jar: {@code java -jar credential-broker-cli.jar who v-db1-abc}. */
  public static void main(String[] args) {
    // The jar has no logging back end; SLF4J's warning about that would only clutter the terminal.
    System.setProperty("slf4j.internal.verbosity", "ERROR");
    System.exit(run(args));
  }

  AdminClient client() {
    String token = KubeconfigToken.resolve(kubeconfig, context);
    return new AdminClient(server, token, caFile, blankToNull(tlsServerName), timeout);
  }

  /** Prints {@code answer} as JSON when asked to; otherwise leaves it to the table printer. */
  boolean printedAsJson(JsonNode answer) {
    if (output != Output.json) {
      return false;
    }
    try {
      out.println(AdminClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(answer));
    } catch (JsonProcessingException e) {
      throw new CliException("cannot print the answer: " + e.getMessage());
    }
    return true;
  }

  /** Asks on the terminal; true only when the operator typed {@code yes}. */
  boolean confirmed(String question) {
    err.print(question + " Type 'yes' to go on: ");
    err.flush();
    try {
      String answer = in.readLine();
      return answer != null && answer.strip().equalsIgnoreCase("yes");
    } catch (IOException e) {
      return false;
    }
  }

  int declined() {
    err.println("Nothing changed.");
    return DECLINED;
  }

  private static @Nullable String blankToNull(@Nullable String value) {
    return value == null || value.isBlank() ? null : value.strip();
  }

  /** {@code 10s}, {@code 2m}: a Java duration without the {@code PT}. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      return Duration.parse("PT" + value.toUpperCase(java.util.Locale.ROOT));
    }
  }
}
