package io.credbroker.client.internal;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.SecurityLevel;
import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;

/**
 * Adds {@code authorization: Bearer <token>} to every call, reading the token file anew each time
 * because the kubelet rewrites the projected token (atomically) long before it expires. Immutable,
 * hence thread-safe.
 *
 * <p>The token goes only onto a channel that gRPC reports as {@link
 * SecurityLevel#PRIVACY_AND_INTEGRITY} (TLS, or in-process), unless the application allowed
 * insecure transport. Otherwise the call fails with UNAUTHENTICATED before the file is read, and
 * {@link #refusedInsecureTransport(Status)} tells the stream that retrying cannot help.
 *
 * <p>A missing, unreadable or empty file fails the call with UNAUTHENTICATED, which the stream
 * treats like a rejected token: it retries a few times, since the kubelet may not have written the
 * file yet.
 */
public final class TokenFileCallCredentials extends CallCredentials {

  /**
   * The {@code reason} the client reports when it refused to send the token over a channel that is
   * not secure.
   */
  public static final String INSECURE_TRANSPORT = "INSECURE_TRANSPORT";

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Path tokenFile;
  private final boolean allowInsecureTransport;

  /**
   * @param allowInsecureTransport sends the token over any channel, including plaintext; only for a
   *     channel secured outside gRPC or a loopback development setup
   */
  public TokenFileCallCredentials(Path tokenFile, boolean allowInsecureTransport) {
    this.tokenFile = tokenFile;
    this.allowInsecureTransport = allowInsecureTransport;
  }

  /** Whether a call failed because these credentials refused a channel that is not secure. */
  public static boolean refusedInsecureTransport(Status status) {
    return status.getCause() instanceof InsecureTransportRefused;
  }

  @Override
  public void applyRequestMetadata(
      RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
    // The same check, and message, as grpc-java's GoogleAuthLibraryCallCredentials: a bearer token
    // is worth as much
    // as the identity it proves, so it never crosses a channel without privacy. Done before reading
    // the file, so the
    // token is not even loaded for a call that could leak it.
    SecurityLevel security = requestInfo.getSecurityLevel();
    if (security != SecurityLevel.PRIVACY_AND_INTEGRITY && !allowInsecureTransport) {
      applier.fail(
          Status.UNAUTHENTICATED
              .withDescription(
                  "Credentials require channel with PRIVACY_AND_INTEGRITY security level. "
                      + "Observed security level: "
                      + security
                      + ". The client does not send the pod's token over this "
                      + "channel; use TLS, or allowInsecureTransport() if the channel is secured outside gRPC")
              .withCause(new InsecureTransportRefused()));
      return;
    }
    // File I/O may block; gRPC asks for it to happen off the transport thread.
    appExecutor.execute(
        () -> {
          String token;
          try {
            token = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
          } catch (IOException | RuntimeException e) {
            applier.fail(
                Status.UNAUTHENTICATED
                    .withDescription(
                        "cannot read the token file "
                            + tokenFile
                            + " ("
                            + e.getClass().getSimpleName()
                            + ")")
                    .withCause(e));
            return;
          }
          if (token.isEmpty()) {
            applier.fail(
                Status.UNAUTHENTICATED.withDescription(
                    "the token file " + tokenFile + " is empty"));
            return;
          }
          Metadata headers = new Metadata();
          headers.put(AUTHORIZATION, "Bearer " + token);
          applier.apply(headers);
        });
  }

  @Override
  public String toString() {
    return "TokenFileCallCredentials["
        + tokenFile
        + (allowInsecureTransport ? ", insecure transport allowed" : "")
        + "]";
  }

  /**
   * Marks the refusal in the call's status, where the stream finds it; carries no stack trace, it
   * is no bug.
   */
  private static final class InsecureTransportRefused extends Exception {

    private static final long serialVersionUID = 1L;

    InsecureTransportRefused() {
      super("channel security level below PRIVACY_AND_INTEGRITY", null, false, false);
    }
  }
}
