package io.credbroker.client.agent;

import io.credbroker.client.ClientEventListener;
import io.credbroker.client.CredentialBrokerException;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;

/**
 * The agent's command line: {@code java -jar client-sdk-VERSION-agent.jar --target ...
 * --database-role db1 --file /secrets/.pgpass=pgpass}. See {@link AgentSettings#USAGE}.
 *
 * <p>Sidecar mode (the default) runs until SIGTERM, then releases the credential and exits 0. It
 * exits 2 when the broker refuses the stream for good (a revoked pod, an unknown role), so
 * Kubernetes shows the failure. {@code --once} (init container) exits 0 after writing the files, 3
 * when it could not. A wrong command line exits 64.
 */
public final class AgentMain {

  static final int EXIT_USAGE = 64;
  static final int EXIT_STOPPED = 2;
  static final int EXIT_ONCE_FAILED = 3;

  private AgentMain() {}

  public static void main(String[] args) throws InterruptedException {
    // One line per record on stderr; the JDK's default takes two.
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty(
          "java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s - %5$s%6$s%n");
    }
    if (java.util.List.of(args).contains("--help")) {
      System.out.print(AgentSettings.USAGE);
      return;
    }
    AgentSettings settings;
    try {
      settings = AgentSettings.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("credbroker-agent: " + e.getMessage());
      System.err.print(AgentSettings.USAGE);
      System.exit(EXIT_USAGE);
      return;
    }
    if (settings.once()) {
      try {
        CredentialAgent.writeOnce(settings, ClientEventListener.NONE);
        System.exit(0);
      } catch (CredentialBrokerException | IOException e) {
        System.err.println("credbroker-agent: " + e.getMessage());
        System.exit(EXIT_ONCE_FAILED);
      }
      return;
    }
    CredentialAgent agent = CredentialAgent.start(settings, ClientEventListener.NONE);
    CountDownLatch closed = new CountDownLatch(1);
    // SIGTERM (Kubernetes stopping the pod) runs the hook: release the credential, then let the JVM
    // end.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  agent.close();
                  closed.countDown();
                },
                "credbroker-agent-shutdown"));
    agent.stopped().thenRun(() -> System.exit(EXIT_STOPPED));
    closed.await();
  }
}
