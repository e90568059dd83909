package io.credbroker.client.agent;

import io.credbroker.client.ClientEventListener;
import io.credbroker.client.Credential;
import io.credbroker.client.CredentialBrokerClient;
import io.credbroker.client.CredentialBrokerException;
import io.credbroker.client.CredentialListener;
import io.credbroker.client.CredentialSubscription;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * Holds one database role's credential stream for an application that reads files, and keeps the
 * files current.
 *
 * <p>The stream is the SDK's ({@link CredentialBrokerClient#watch}), so resume after a broken
 * stream, backoff, the acknowledgement of rotations and the release on close are the SDK's. On
 * every new credential (the first one, a rotation's replacement, or a fresh one after an operator
 * revoked the old) the agent renders every file, writes each atomically, and then tells the
 * application with its {@link Notifier}; only when all that succeeded does the listener return, and
 * only then does the SDK acknowledge a rotation. When writing or notifying fails, no
 * acknowledgement is sent: the broker keeps the replaced credential valid for the rotation's {@code
 * previous_valid_for}, so an application that missed the change keeps working until then.
 *
 * <p>The first credential is written before the application may even run (a sidecar starts next to
 * it), so a failed notification then is logged and ignored. Renewals rewrite nothing: the files
 * hold no expiry that a renewal moves.
 *
 * <p>Thread-safe. Lifecycle: {@link #start} opens the stream; {@link #close()} closes it and
 * releases the credential, so the PostgreSQL role is dropped at once; {@link #stopped()} completes
 * when the broker refused the stream for good.
 */
public final class CredentialAgent implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(CredentialAgent.class.getName());
  private static final int NOTIFY_ATTEMPTS = 3;

  private final AgentSettings settings;
  private final CredentialBrokerClient client;
  private final CompletableFuture<Credential> firstWritten = new CompletableFuture<>();
  private final CompletableFuture<CredentialBrokerException> stopped = new CompletableFuture<>();

  /**
   * The files hold a credential the application may be using: this process wrote them, or they were
   * there when it started (an agent restarted while the application runs). Only before that is a
   * failed notification harmless, the application not having read anything yet.
   */
  private final AtomicBoolean filesMayBeInUse;

  private volatile @Nullable CredentialSubscription subscription;

  private CredentialAgent(AgentSettings settings, CredentialBrokerClient client) {
    this.settings = settings;
    this.client = client;
    this.filesMayBeInUse =
        new AtomicBoolean(settings.files().stream().anyMatch(file -> Files.exists(file.path())));
  }

  /** Builds the client and opens the stream; returns at once. */
  public static CredentialAgent start(AgentSettings settings, ClientEventListener events) {
    CredentialAgent agent = new CredentialAgent(settings, client(settings, events));
    agent.subscription =
        settings.requestedTtl() == null
            ? agent.client.watch(settings.databaseRole(), agent.new Writer())
            : agent.client.watch(
                settings.databaseRole(), settings.requestedTtl(), agent.new Writer());
    LOG.log(
        System.Logger.Level.INFO,
        "holding a credential for database role {0}; writing {1}; notifying: {2}",
        settings.databaseRole(),
        paths(settings),
        settings.notifier().describe());
    return agent;
  }

  /**
   * Init-container mode: obtains one credential without a stream, writes the files and returns it.
   * Nothing renews or releases it; it expires at its {@code expire_time}. No notification: the
   * application does not run yet.
   *
   * @throws CredentialBrokerException if the broker refused
   * @throws IOException if a file could not be written
   */
  public static Credential writeOnce(AgentSettings settings, ClientEventListener events)
      throws IOException {
    try (CredentialBrokerClient client = client(settings, events)) {
      Credential credential = client.issue(settings.databaseRole(), settings.requestedTtl());
      write(settings, credential);
      LOG.log(
          System.Logger.Level.INFO,
          "wrote {0} for credential {1} (user {2}), valid until {3}",
          paths(settings),
          credential.credentialId(),
          credential.username(),
          credential.expireTime());
      return credential;
    }
  }

  /**
   * Waits until the files hold a credential.
   *
   * @throws CredentialBrokerException if the broker refused the stream for good first
   * @throws TimeoutException if none was written in time
   */
  public Credential awaitFiles(Duration timeout) throws InterruptedException, TimeoutException {
    try {
      return CompletableFuture.anyOf(
              firstWritten,
              stopped.thenApply(
                  error -> {
                    throw error;
                  }))
          .thenApply(Credential.class::cast)
          .get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof CredentialBrokerException error) {
        throw error;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  /**
   * Completes with the broker's refusal when the stream stopped for good (revoked pod, unknown
   * role, ...).
   */
  public CompletableFuture<CredentialBrokerException> stopped() {
    return stopped;
  }

  /** The credential the files hold, if any. */
  public @Nullable Credential currentCredential() {
    CredentialSubscription s = subscription;
    return s == null ? null : s.currentCredential().orElse(null);
  }

  /**
   * Closes the stream and releases the credential at the broker (the role is dropped); the files
   * stay.
   */
  @Override
  public void close() {
    client.close();
  }

  private static CredentialBrokerClient client(AgentSettings settings, ClientEventListener events) {
    CredentialBrokerClient.Builder builder =
        CredentialBrokerClient.builder()
            .target(settings.target())
            .tokenFile(settings.tokenFile())
            .eventListener(events);
    if (settings.trustedCertificates() != null) {
      builder.trustedCertificates(settings.trustedCertificates());
    }
    if (settings.plaintext()) {
      builder.plaintext().allowInsecureTransport();
    }
    return builder.build();
  }

  private static void write(AgentSettings settings, Credential credential) throws IOException {
    // Render all first: a template that cannot express a value must not leave half the files new.
    List<String> texts = new ArrayList<>();
    for (OutputFile file : settings.files()) {
      texts.add(file.template().render(credential));
    }
    for (int i = 0; i < texts.size(); i++) {
      settings.files().get(i).write(texts.get(i));
    }
  }

  private static List<String> paths(AgentSettings settings) {
    return settings.files().stream().map(file -> file.path().toString()).toList();
  }

  /** The SDK's listener: runs on the client's callback thread, one event at a time. */
  private final class Writer implements CredentialListener {

    @Override
    public void onCredential(Credential credential) {
      boolean first = !filesMayBeInUse.get();
      try {
        write(settings, credential);
      } catch (IOException | RuntimeException e) {
        LOG.log(
            System.Logger.Level.ERROR,
            "could not write the files for credential "
                + credential.credentialId()
                + "; not acknowledging it",
            e);
        throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
      }
      filesMayBeInUse.set(true);
      LOG.log(
          System.Logger.Level.INFO,
          "wrote {0} for credential {1} (user {2})",
          paths(settings),
          credential.credentialId(),
          credential.username());
      try {
        notifyApplication(first ? 1 : NOTIFY_ATTEMPTS);
      } catch (IOException e) {
        if (first) {
          LOG.log(
              System.Logger.Level.INFO,
              "did not notify the application of the first credential ({0}); it "
                  + "reads the files when it starts",
              e.getMessage());
        } else {
          LOG.log(
              System.Logger.Level.ERROR,
              "could not notify the application of credential "
                  + credential.credentialId()
                  + " ("
                  + e.getMessage()
                  + "); not acknowledging it: the replaced "
                  + "credential keeps working until the broker's previous_valid_for ends");
          throw new UncheckedIOException(e);
        }
      }
      firstWritten.complete(credential);
    }

    @Override
    public void onExpiring(Credential credential) {
      LOG.log(
          System.Logger.Level.WARNING,
          "the broker cannot renew credential {0} right now; it works until {1}",
          credential.credentialId(),
          credential.expireTime());
    }

    @Override
    public void onRevoked(Credential credential, String reason) {
      LOG.log(
          System.Logger.Level.WARNING,
          "credential {0} was revoked ({1})",
          credential.credentialId(),
          reason);
    }

    @Override
    public void onStopped(CredentialBrokerException error) {
      LOG.log(
          System.Logger.Level.ERROR,
          "the broker refused the credential stream for good: {0}",
          error.getMessage());
      stopped.complete(error);
    }

    /** Tries {@code attempts} times, waiting 1 s, then 2 s, ... in between. */
    private void notifyApplication(int attempts) throws IOException {
      Notifier notifier = settings.notifier();
      IOException last = null;
      for (int attempt = 1; attempt <= attempts; attempt++) {
        try {
          notifier.notifyApplication();
          if (notifier != Notifier.NONE) {
            LOG.log(System.Logger.Level.INFO, "notified the application: {0}", notifier.describe());
          }
          return;
        } catch (IOException e) {
          last = e;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while notifying the application", e);
        }
        if (attempt < attempts) {
          try {
            Thread.sleep(500L << attempt);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while notifying the application", e);
          }
        }
      }
      throw java.util.Objects.requireNonNull(last);
    }
  }
}
