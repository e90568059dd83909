package io.credbroker.broker.setup;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The CA certificates setup trusts for Vault's TLS certificate, read from a PEM bundle (the file
 * the vault CLI's {@code VAULT_CACERT} names). When given, they replace the JVM's default trust
 * store for setup's Vault client: a Vault certificate from an internal CA is accepted, one from any
 * other CA is not. Host names are still verified.
 *
 * <p>Immutable and thread-safe.
 */
public final class VaultCaCertificates {

  private final Path source;
  private final List<X509Certificate> certificates;

  private VaultCaCertificates(Path source, List<X509Certificate> certificates) {
    this.source = source;
    this.certificates = certificates;
  }

  /**
   * Reads every certificate in {@code pemFile}.
   *
   * @throws IllegalArgumentException when the file is missing or unreadable, or holds no
   *     certificate; the message names the file and the reason
   */
  public static VaultCaCertificates read(Path pemFile) {
    byte[] pem;
    try {
      pem = Files.readAllBytes(pemFile);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read the Vault CA certificates from " + pemFile + ": " + reason(e));
    }
    Collection<? extends Certificate> parsed;
    try {
      parsed =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(new ByteArrayInputStream(pem));
    } catch (CertificateException e) {
      throw noCertificate(pemFile, " (" + e.getMessage() + ")");
    }
    List<X509Certificate> certificates =
        parsed.stream()
            .filter(X509Certificate.class::isInstance)
            .map(X509Certificate.class::cast)
            .toList();
    if (certificates.isEmpty()) {
      throw noCertificate(pemFile, "");
    }
    return new VaultCaCertificates(pemFile, certificates);
  }

  /**
   * A TLS context whose only trust anchors are these certificates (PKIX validation, as the JVM does
   * with its own trust store).
   */
  SSLContext sslContext() {
    try {
      KeyStore trustStore = KeyStore.getInstance(KeyStore.getDefaultType());
      trustStore.load(null, null);
      for (int i = 0; i < certificates.size(); i++) {
        trustStore.setCertificateEntry("vault-ca-" + i, certificates.get(i));
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(trustStore);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      // Every JVM has these algorithms, and an empty in-memory key store loads without I/O.
      throw new IllegalStateException("cannot build a trust store of the Vault CA certificates", e);
    }
  }

  @Override
  public String toString() {
    return certificates.size() + " CA certificate(s) from " + source;
  }

  private static IllegalArgumentException noCertificate(Path pemFile, String detail) {
    return new IllegalArgumentException(
        "the Vault CA file "
            + pemFile
            + " holds no certificate"
            + detail
            + ": give a PEM bundle of the CA certificates that signed Vault's certificate");
  }

  private static String reason(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }
}
