package io.credbroker.client.internal;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;

/**
 * Adds {@code authorization: Bearer <token>} to every call, reading the token file anew each time because the
 * kubelet rewrites the projected token (atomically) long before it expires. Stateless, hence thread-safe.
 *
 * <p>A missing, unreadable or empty file fails the call with UNAUTHENTICATED, which the stream treats like a
 * rejected token: it retries a few times, since the kubelet may not have written the file yet.
 */
public final class TokenFileCallCredentials extends CallCredentials {

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Path tokenFile;

  public TokenFileCallCredentials(Path tokenFile) {
    this.tokenFile = tokenFile;
  }

  @Override
  public void applyRequestMetadata(RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
    // File I/O may block; gRPC asks for it to happen off the transport thread.
    appExecutor.execute(() -> {
      String token;
      try {
        token = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
      } catch (IOException | RuntimeException e) {
        applier.fail(Status.UNAUTHENTICATED
            .withDescription("cannot read the token file " + tokenFile + " (" + e.getClass().getSimpleName() + ")")
            .withCause(e));
        return;
      }
      if (token.isEmpty()) {
        applier.fail(Status.UNAUTHENTICATED.withDescription("the token file " + tokenFile + " is empty"));
        return;
      }
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      applier.apply(headers);
    });
  }

  @Override
  public String toString() {
    return "TokenFileCallCredentials[" + tokenFile + "]";
  }
}
