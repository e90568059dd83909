package io.credbroker.client.agent;

import io.credbroker.client.CredentialBrokerClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What the agent does, as given on its command line ({@link #USAGE}). Parsed once at start-up;
 * every mistake (an unknown flag, a template with an unknown field, a missing notifier target)
 * fails there with a message that names it.
 *
 * @param target the broker's gRPC target
 * @param trustedCertificates a PEM file with the CA of the broker's certificate, or {@code null}
 *     for the JVM's CAs
 * @param plaintext talk to the broker without TLS (loopback development or a mesh's sidecar only)
 * @param tokenFile the projected service-account token
 * @param databaseRole the database role to hold a credential for
 * @param requestedTtl the lifetime to ask for, or {@code null} for the Vault role's default
 * @param once init-container mode: obtain one credential ({@code IssueCredential}), write the files
 *     and exit
 * @param files the files to write
 * @param notifier how to tell the application after a rotation
 */
public record AgentSettings(
    String target,
    @Nullable Path trustedCertificates,
    boolean plaintext,
    Path tokenFile,
    String databaseRole,
    @Nullable Duration requestedTtl,
    boolean once,
    List<OutputFile> files,
    Notifier notifier) {

  /** The command-line help. */
  public static final String USAGE =
      """
      usage: java -jar client-sdk-VERSION-agent.jar --target HOST:PORT --database-role ROLE --file PATH=FORMAT [options]

        --target HOST:PORT           the broker's gRPC address (TLS)
        --ca-file PATH               PEM file with the CA of the broker's certificate (default: the JVM's CAs)
        --plaintext-insecure         no TLS: the pod's token travels in clear text (loopback or mesh sidecar only)
        --token-file PATH            projected service-account token (default /var/run/secrets/credbroker/token)
        --database-role ROLE         the database role, as named in the broker's bindings
        --requested-ttl DURATION     lease lifetime to ask for, e.g. 1h, 15m (default: the Vault role's)
        --once                       init container: one credential (IssueCredential, not renewed), write, exit
        --file PATH=FORMAT           a file to write; FORMAT is pgpass, env, json, conninfo or template:TEMPLATE_PATH;
                                     repeatable
        --file-mode MODE             octal mode of the files (default 0600)
        --owner UID[:GID]            owner of the files (needs root or CAP_CHOWN)
        --notify-signal SIGNAL       after a rotation, send SIGNAL (HUP, USR1, ...) to the process in
          --notify-pid-file PATH       this pid file, or to every process
          --notify-process NAME        with this name (a sidecar needs shareProcessNamespace: true)
        --notify-http URL            after a rotation, POST to URL; a 2xx answer means done
        --notify-command COMMAND     after a rotation, run COMMAND with /bin/sh -c; exit status 0 means done
        --notify-timeout DURATION    how long a notification may take (default 10s)
      """;

  public AgentSettings {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(tokenFile, "tokenFile");
    Objects.requireNonNull(databaseRole, "databaseRole");
    files = List.copyOf(files);
    Objects.requireNonNull(notifier, "notifier");
    if (files.isEmpty()) {
      throw new IllegalArgumentException("no --file given: the agent has nothing to write");
    }
    if (plaintext && trustedCertificates != null) {
      throw new IllegalArgumentException("--plaintext-insecure and --ca-file exclude each other");
    }
  }

  /**
   * Reads the command line.
   *
   * @throws IllegalArgumentException with a message for the user when it is wrong or incomplete
   */
  public static AgentSettings parse(String... args) {
    String target = null;
    Path ca = null;
    boolean plaintext = false;
    Path tokenFile = CredentialBrokerClient.DEFAULT_TOKEN_FILE;
    String role = null;
    Duration ttl = null;
    boolean once = false;
    List<String[]> fileSpecs = new ArrayList<>();
    Set<PosixFilePermission> mode = OutputFile.OWNER_ONLY;
    String owner = null;
    String signal = null;
    Path pidFile = null;
    String processName = null;
    URI http = null;
    String command = null;
    Duration notifyTimeout = Duration.ofSeconds(10);
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      switch (flag) {
        case "--plaintext-insecure" -> plaintext = true;
        case "--once" -> once = true;
        default -> {
          if (i + 1 >= args.length) {
            throw new IllegalArgumentException(
                flag.startsWith("--") && isFlagWithValue(flag)
                    ? flag + " needs a value"
                    : "unknown option " + flag);
          }
          String value = args[++i];
          switch (flag) {
            case "--target" -> target = value;
            case "--ca-file" -> ca = Path.of(value);
            case "--token-file" -> tokenFile = Path.of(value);
            case "--database-role" -> role = value;
            case "--requested-ttl" -> ttl = duration(flag, value);
            case "--file" -> {
              int eq = value.indexOf('=');
              if (eq <= 0 || eq == value.length() - 1) {
                throw new IllegalArgumentException("--file takes PATH=FORMAT, was " + value);
              }
              fileSpecs.add(new String[] {value.substring(0, eq), value.substring(eq + 1)});
            }
            case "--file-mode" -> mode = mode(value);
            case "--owner" -> owner = value;
            case "--notify-signal" ->
                signal = value.toUpperCase(Locale.ROOT).replaceFirst("^SIG", "");
            case "--notify-pid-file" -> pidFile = Path.of(value);
            case "--notify-process" -> processName = value;
            case "--notify-http" -> http = URI.create(value);
            case "--notify-command" -> command = value;
            case "--notify-timeout" -> notifyTimeout = duration(flag, value);
            default -> throw new IllegalArgumentException("unknown option " + flag);
          }
        }
      }
    }
    if (target == null || target.isBlank()) {
      throw new IllegalArgumentException("--target is required");
    }
    if (role == null || role.isBlank()) {
      throw new IllegalArgumentException("--database-role is required");
    }
    if (mode.contains(PosixFilePermission.OTHERS_WRITE)
        || mode.contains(PosixFilePermission.OTHERS_READ)) {
      // Others are every other user of every container that mounts the volume; the application's
      // user is reached with --owner, or with the group (0640 and the pod's fsGroup).
      throw new IllegalArgumentException(
          "--file-mode must not let others read or write a credential file, was "
              + PosixFilePermissions.toString(mode)
              + " (use 0640 with the pod's fsGroup, or --owner)");
    }
    List<OutputFile> files = new ArrayList<>();
    for (String[] spec : fileSpecs) {
      if (FileFormat.PGPASS.name().equalsIgnoreCase(spec[1]) && !ownerOnly(mode)) {
        // libpq (and the drivers that follow it) skip such a file without a word and log in
        // without a password.
        throw new IllegalArgumentException(
            "libpq ignores a password file that its group or others may read; --file-mode must be"
                + " 0600 or stricter for the pgpass file "
                + spec[0]
                + " (run the application as the agent's user, or set --owner)");
      }
      files.add(new OutputFile(Path.of(spec[0]), template(spec[1]), mode, owner));
    }
    return new AgentSettings(
        target,
        ca,
        plaintext,
        tokenFile,
        role,
        ttl,
        once,
        files,
        notifier(signal, pidFile, processName, http, command, notifyTimeout));
  }

  private static boolean isFlagWithValue(String flag) {
    return USAGE.contains(flag + " ");
  }

  private static Notifier notifier(
      @Nullable String signal,
      @Nullable Path pidFile,
      @Nullable String processName,
      @Nullable URI http,
      @Nullable String command,
      Duration timeout) {
    int chosen = (signal != null ? 1 : 0) + (http != null ? 1 : 0) + (command != null ? 1 : 0);
    if (chosen > 1) {
      throw new IllegalArgumentException(
          "choose one of --notify-signal, --notify-http and --notify-command");
    }
    if (signal == null && (pidFile != null || processName != null)) {
      throw new IllegalArgumentException(
          "--notify-pid-file and --notify-process go with --notify-signal");
    }
    if (signal != null) {
      if ((pidFile == null) == (processName == null)) {
        throw new IllegalArgumentException(
            "--notify-signal needs exactly one of --notify-pid-file and --notify-process");
      }
      return pidFile != null
          ? Notifier.Signal.toPidFile(signal, pidFile)
          : Notifier.Signal.toProcess(signal, Objects.requireNonNull(processName));
    }
    if (http != null) {
      return new Notifier.Http(http, timeout);
    }
    if (command != null) {
      return new Notifier.Command(command, timeout);
    }
    return Notifier.NONE;
  }

  private static CredentialTemplate template(String format) {
    if (format.startsWith("template:")) {
      Path file = Path.of(format.substring("template:".length()));
      try {
        return CredentialTemplate.parse(Files.readString(file, StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "cannot read template " + file + ": " + e, new UncheckedIOException(e));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("template " + file + ", " + e.getMessage(), e);
      }
    }
    return FileFormat.named(format).template();
  }

  private static boolean ownerOnly(Set<PosixFilePermission> mode) {
    return mode.stream().allMatch(permission -> permission.name().startsWith("OWNER_"));
  }

  private static Set<PosixFilePermission> mode(String octal) {
    if (!octal.matches("0?[0-7]{3}")) {
      throw new IllegalArgumentException(
          "--file-mode takes an octal mode such as 0600 or 0640, was " + octal);
    }
    int bits = Integer.parseInt(octal, 8);
    StringBuilder symbolic = new StringBuilder();
    String letters = "rwxrwxrwx";
    for (int i = 0; i < 9; i++) {
      symbolic.append((bits & (1 << (8 - i))) != 0 ? letters.charAt(i) : '-');
    }
    return PosixFilePermissions.fromString(symbolic.toString());
  }

  /** {@code 90s}, {@code 15m}, {@code 1h}, {@code 500ms}, or ISO-8601 ({@code PT1H}). */
  static Duration duration(String flag, String value) {
    var matcher = java.util.regex.Pattern.compile("([0-9]+)(ms|s|m|h)").matcher(value);
    Duration duration;
    if (matcher.matches()) {
      long amount = Long.parseLong(matcher.group(1));
      duration =
          switch (matcher.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            default -> Duration.ofHours(amount);
          };
    } else {
      try {
        duration = Duration.parse(value);
      } catch (java.time.format.DateTimeParseException e) {
        throw new IllegalArgumentException(
            flag + " takes a duration such as 90s, 15m or 1h, was " + value, e);
      }
    }
    if (duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException(flag + " must be positive, was " + value);
    }
    return duration;
  }
}
