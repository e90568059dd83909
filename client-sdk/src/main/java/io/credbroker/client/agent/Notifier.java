package io.credbroker.client.agent;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Tells the application that its files changed. The agent acknowledges a rotation only after {@link
 * #notifyApplication} returned, so a notifier returns only once the application was told, and
 * throws when that is not known.
 *
 * <p>Implementations are immutable and called from one thread at a time.
 */
sealed interface Notifier {

  /**
   * No notification: the application re-reads its files by itself (libpq reads {@code .pgpass} on
   * every connect).
   */
  Notifier NONE = new None();

  /**
   * Tells the application.
   *
   * @throws IOException if it could not be told (no such process, a refused call, a failed command)
   */
  void notifyApplication() throws IOException, InterruptedException;

  /** What this notifier does, for the log. */
  String describe();

  /** Does nothing. */
  record None() implements Notifier {
    @Override
    public void notifyApplication() {}

    @Override
    public String describe() {
      return "none";
    }
  }

  /**
   * Sends a signal with {@code kill -s SIGNAL PID}: Java cannot send signals other than
   * SIGTERM/SIGKILL itself ({@link ProcessHandle#destroy()}), so the image needs a {@code kill}
   * (procps or busybox; the temurin images have one). The process is the one whose pid is in {@code
   * pidFile}, or every process whose name is {@code processName} (its {@code /proc/PID/comm}, or
   * the file name of its first argument); none found is a failure. A sidecar sees the application's
   * processes only with {@code shareProcessNamespace: true} in the pod spec, and may signal them
   * only when it runs as the same user (or with CAP_KILL).
   */
  record Signal(String signal, @Nullable Path pidFile, @Nullable String processName)
      implements Notifier {

    public Signal {
      Objects.requireNonNull(signal, "signal");
      if (!signal.matches("[A-Z0-9]+")) {
        throw new IllegalArgumentException(
            "signal must be a name such as HUP or USR1, was " + signal);
      }
      if ((pidFile == null) == (processName == null || processName.isEmpty())) {
        throw new IllegalArgumentException(
            "a signal needs exactly one of a pid file and a process name");
      }
    }

    static Signal toPidFile(String signal, Path pidFile) {
      return new Signal(signal, Objects.requireNonNull(pidFile), null);
    }

    static Signal toProcess(String signal, String processName) {
      return new Signal(signal, null, Objects.requireNonNull(processName));
    }

    @Override
    public void notifyApplication() throws IOException, InterruptedException {
      List<String> command = new ArrayList<>(List.of("kill", "-s", signal));
      for (long pid : pids()) {
        command.add(Long.toString(pid));
      }
      Command.run(command, Duration.ofSeconds(10));
    }

    private List<Long> pids() throws IOException {
      if (pidFile != null) {
        String text;
        try {
          text = Files.readString(pidFile, StandardCharsets.US_ASCII).strip();
        } catch (NoSuchFileException e) {
          throw new IOException("no pid file " + pidFile + " (is the application running?)", e);
        }
        long pid = text.matches("[1-9][0-9]{0,9}") ? Long.parseLong(text) : 0;
        // 0 would signal the agent's own process group (kill's meaning of 0), as would its pid.
        if (pid == 0 || pid > Integer.MAX_VALUE || pid == ProcessHandle.current().pid()) {
          throw new IOException("pid file " + pidFile + " holds no pid of another process");
        }
        return List.of(pid);
      }
      long self = ProcessHandle.current().pid();
      List<Long> found =
          ProcessHandle.allProcesses()
              .map(ProcessHandle::pid)
              .filter(pid -> pid != self && Objects.equals(processName, name(pid)))
              .toList();
      if (found.isEmpty()) {
        throw new IOException(
            "no process named "
                + processName
                + " (a sidecar needs shareProcessNamespace: true to see the application's processes)");
      }
      return found;
    }

    /**
     * The process's name as ps shows it, or the file name of its first argument when comm was cut
     * to 15 bytes.
     */
    private String name(long pid) {
      try {
        String comm = Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip();
        if (processName.equals(comm)) {
          return comm;
        }
        byte[] cmdline = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
        int end = 0;
        while (end < cmdline.length && cmdline[end] != 0) {
          end++;
        }
        String first = new String(cmdline, 0, end, StandardCharsets.UTF_8);
        return first.isEmpty() ? comm : Path.of(first).getFileName().toString();
      } catch (IOException | RuntimeException e) {
        return ""; // gone meanwhile, or not ours to read
      }
    }

    @Override
    public String describe() {
      return "signal "
          + signal
          + " to "
          + (pidFile != null ? "the pid in " + pidFile : "processes named " + processName);
    }
  }

  /**
   * Calls {@code url} with an empty POST; any 2xx answer within the timeout means the application
   * was told.
   */
  record Http(URI url, Duration timeout) implements Notifier {

    public Http {
      Objects.requireNonNull(url, "url");
      if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme())) {
        throw new IllegalArgumentException("notify URL must be http or https, was " + url);
      }
    }

    /**
     * The timeout bounds the whole call, body included: the JDK's own request timeout ends once the
     * answer's headers arrived, so an endpoint that sends them and then stalls its body would hold
     * the agent's one callback thread (every later rotation, the stop) for good.
     */
    @Override
    public void notifyApplication() throws IOException, InterruptedException {
      HttpClient client = HttpClient.newBuilder().connectTimeout(timeout).build();
      CompletableFuture<HttpResponse<Void>> call =
          client.sendAsync(
              HttpRequest.newBuilder(url)
                  .timeout(timeout)
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      HttpResponse<Void> response;
      try {
        response = call.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        throw new IOException("POST " + url + " did not answer within " + timeout, e);
      } catch (ExecutionException e) {
        throw e.getCause() instanceof IOException io
            ? io
            : new IOException("POST " + url + " failed: " + e.getCause(), e.getCause());
      } finally {
        call.cancel(true);
      }
      if (response.statusCode() / 100 != 2) {
        throw new IOException("POST " + url + " answered " + response.statusCode());
      }
    }

    @Override
    public String describe() {
      return "POST " + url;
    }
  }

  /**
   * Runs a command (through {@code /bin/sh -c}); exit status 0 within the timeout means the
   * application was told.
   */
  record Command(String shellCommand, Duration timeout) implements Notifier {

    public Command {
      Objects.requireNonNull(shellCommand, "shellCommand");
      if (shellCommand.isBlank()) {
        throw new IllegalArgumentException("notify command must not be blank");
      }
    }

    @Override
    public void notifyApplication() throws IOException, InterruptedException {
      run(List.of("/bin/sh", "-c", shellCommand), timeout);
    }

    @Override
    public String describe() {
      return "run " + shellCommand;
    }

    static void run(List<String> command, Duration timeout)
        throws IOException, InterruptedException {
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.INHERIT)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        // What the command started goes too (a curl waiting on a hung application, say): left
        // behind, each rotation's retries would pile them up against the container's limits.
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        throw new IOException(command.get(0) + " did not finish within " + timeout);
      }
      if (process.exitValue() != 0) {
        throw new IOException(
            String.join(" ", command.subList(0, Math.min(3, command.size())))
                + " exited with "
                + process.exitValue());
      }
    }
  }
}
