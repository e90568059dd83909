package io.credbroker.broker;

import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Clients of a broker's TLS ports as the tests use them: trusting only the dev-stack's CA and
 * checking the name {@code 127.0.0.1} against the broker's certificate, as grpcurl and curl do with
 * {@code -cacert}/{@code --cacert}.
 */
final class TestTls {

  private TestTls() {}

  /** A gRPC channel over TLS to {@code 127.0.0.1:port}, trusting only {@code caFile}. */
  static ManagedChannel channel(int port, Path caFile) {
    try {
      return Grpc.newChannelBuilderForAddress(
              "127.0.0.1",
              port,
              TlsChannelCredentials.newBuilder().trustManager(caFile.toFile()).build())
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An HTTP client whose TLS trusts only {@code caFile}. */
  static HttpClient httpClient(Path caFile) {
    return HttpClient.newBuilder().sslContext(sslContext(caFile)).build();
  }

  /** A TLS context that trusts only the certificates in {@code caFile}. */
  static SSLContext sslContext(Path caFile) {
    try (InputStream in = Files.newInputStream(caFile)) {
      KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
      trusted.load(null, null);
      int i = 0;
      for (Certificate certificate :
          CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        trusted.setCertificateEntry("ca-" + i++, certificate);
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
