package io.credbroker.loadtest.stack;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

/**
 * A pod of the Kubernetes stand-in and its projected service-account token. {@link #toString} hides
 * the token. Immutable.
 */
public record PodToken(String namespace, String podName, String token) {

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Adds {@code authorization: Bearer <token>} to every call, as the pod's SDK does. */
  public ClientInterceptor bearer() {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    return MetadataUtils.newAttachHeadersInterceptor(headers);
  }

  @Override
  public String toString() {
    return "PodToken[" + namespace + "/" + podName + ", token=****]";
  }
}
