package io.credbroker.client.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NotifierTest {

  @TempDir Path dir;

  @Test
  void signalReachesTheProcessInThePidFile() throws Exception {
    Path reloads = dir.resolve("reloads");
    // USR1, not HUP: a build started under nohup ignores SIGHUP, and a shell cannot trap a signal
    // that was ignored when it started.
    Process app = trappingShell(reloads, "USR1");
    try {
      Path pidFile = Files.writeString(dir.resolve("app.pid"), app.pid() + "\n");
      await().until(() -> Files.exists(dir.resolve("ready")));

      Notifier.Signal.toPidFile("USR1", pidFile).notifyApplication();

      await().atMost(Duration.ofSeconds(5)).until(() -> Files.exists(reloads));
      assertThat(app.isAlive()).isTrue();
    } finally {
      app.destroyForcibly();
    }
  }

  @Test
  void signalWithoutPidFileOrProcessFailsNamingWhy() {
    assertThatThrownBy(
            () -> Notifier.Signal.toPidFile("HUP", dir.resolve("none.pid")).notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no pid file");
    assertThatThrownBy(
            () -> Notifier.Signal.toProcess("HUP", "no-such-process-xyz").notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("shareProcessNamespace");
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "self", "99999999999999999999", "-1"})
  void aPidFileThatDoesNotNameAnotherProcessIsRefusedBeforeAnythingIsSignalled(String content)
      throws Exception {
    // CONT, harmless if sent: kill would take 0 as the agent's own process group, and -1 as every
    // process it may signal.
    String pid = content.equals("self") ? Long.toString(ProcessHandle.current().pid()) : content;
    Path pidFile = Files.writeString(dir.resolve("odd.pid"), pid);

    assertThatThrownBy(() -> Notifier.Signal.toPidFile("CONT", pidFile).notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("holds no pid of another process");
  }

  @Test
  void signalToAPidThatIsGoneFails() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Path pidFile = Files.writeString(dir.resolve("gone.pid"), Long.toString(gone.pid()));

    assertThatThrownBy(() -> Notifier.Signal.toPidFile("HUP", pidFile).notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("exited with");
  }

  @Test
  void httpSucceedsOnTwoHundredsAndFailsOtherwise() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/reload",
        exchange -> {
          calls.incrementAndGet();
          exchange.sendResponseHeaders("POST".equals(exchange.getRequestMethod()) ? 204 : 405, -1);
          exchange.close();
        });
    server.createContext(
        "/broken",
        exchange -> {
          exchange.sendResponseHeaders(503, -1);
          exchange.close();
        });
    server.start();
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort();
      new Notifier.Http(URI.create(base + "/reload"), Duration.ofSeconds(5)).notifyApplication();
      assertThat(calls).hasValue(1);
      assertThatThrownBy(
              () ->
                  new Notifier.Http(URI.create(base + "/broken"), Duration.ofSeconds(5))
                      .notifyApplication())
          .isInstanceOf(IOException.class)
          .hasMessageContaining("answered 503");
    } finally {
      server.stop(0);
    }
  }

  @Test
  void commandSucceedsOnExitZeroAndFailsOtherwise() throws Exception {
    Path marker = dir.resolve("ran");
    new Notifier.Command("touch '" + marker + "'", Duration.ofSeconds(5)).notifyApplication();
    assertThat(marker).exists();

    assertThatThrownBy(
            () -> new Notifier.Command("exit 7", Duration.ofSeconds(5)).notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("exited with 7");
    assertThatThrownBy(
            () -> new Notifier.Command("sleep 5", Duration.ofMillis(200)).notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("did not finish");
  }

  @Test
  void httpFailsWithinItsTimeoutWhenTheAnswersBodyStalls() throws Exception {
    // The JDK's request timeout ends with the answer's headers: before, a body that never came
    // held the agent's callback thread (and every later rotation) for good.
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext(
        "/stalls",
        exchange -> {
          exchange.sendResponseHeaders(200, 0);
          exchange.getResponseBody().write('{');
          exchange.getResponseBody().flush();
          try {
            Thread.sleep(60_000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          exchange.close();
        });
    server.start();
    try {
      Notifier.Http stalled =
          new Notifier.Http(
              URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/stalls"),
              Duration.ofMillis(500));
      assertTimeoutPreemptively(
          Duration.ofSeconds(10),
          () ->
              assertThatThrownBy(stalled::notifyApplication)
                  .isInstanceOf(IOException.class)
                  .hasMessageContaining("did not answer within"));
    } finally {
      server.stop(0);
    }
  }

  @Test
  void aCommandThatTimesOutTakesWhatItStartedWithIt() throws Exception {
    Path pidFile = dir.resolve("child.pid");
    assertThatThrownBy(
            () ->
                new Notifier.Command(
                        "sleep 30 & echo $! > '" + pidFile + "'; wait", Duration.ofMillis(500))
                    .notifyApplication())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("did not finish");

    long child = Long.parseLong(Files.readString(pidFile).strip());
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> assertThat(ProcessHandle.of(child).filter(ProcessHandle::isAlive)).isEmpty());
  }

  /** An application that records each {@code signal} in {@code reloads} and keeps running. */
  private Process trappingShell(Path reloads, String signal) throws IOException {
    String script =
        "trap 'echo reload >> \""
            + reloads
            + "\"' "
            + signal
            + "; touch \""
            + dir.resolve("ready")
            + "\"; while :; do sleep 0.1; done";
    return new ProcessBuilder("/bin/sh", "-c", script).start();
  }
}
