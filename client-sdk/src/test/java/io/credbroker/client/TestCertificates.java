package io.credbroker.client;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway private CA and a broker certificate it issued for {@code localhost}, as the PEM files
 * gRPC's TLS credentials read: what a cluster with its own CA (cert-manager, say) hands the broker
 * and its clients.
 */
record TestCertificates(Path caCertificate, Path serverCertificate, Path serverKey) {

  static TestCertificates create(Path dir) throws IOException, GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(256);
    KeyPair caKeys = generator.generateKeyPair();
    KeyPair serverKeys = generator.generateKeyPair();
    X500Name caName = new X500Name("CN=credbroker test CA");
    Instant now = Instant.now();
    Date notBefore = Date.from(now.minus(Duration.ofHours(1)));
    Date notAfter = Date.from(now.plus(Duration.ofDays(1)));
    try {
      X509CertificateHolder ca =
          new JcaX509v3CertificateBuilder(
                  caName, BigInteger.ONE, notBefore, notAfter, caName, caKeys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
              .addExtension(
                  Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
              .build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate()));
      X509CertificateHolder server =
          new JcaX509v3CertificateBuilder(
                  caName,
                  BigInteger.TWO,
                  notBefore,
                  notAfter,
                  new X500Name("CN=localhost"),
                  serverKeys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
              .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
              .addExtension(
                  Extension.extendedKeyUsage,
                  false,
                  new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
              .addExtension(
                  Extension.subjectAlternativeName,
                  false,
                  new GeneralNames(
                      new GeneralName[] {
                        new GeneralName(GeneralName.dNSName, "localhost"),
                        new GeneralName(GeneralName.iPAddress, "127.0.0.1")
                      }))
              .build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate()));
      return new TestCertificates(
          Files.writeString(dir.resolve("ca.pem"), pem("CERTIFICATE", ca.getEncoded())),
          Files.writeString(dir.resolve("server.pem"), pem("CERTIFICATE", server.getEncoded())),
          Files.writeString(
              dir.resolve("server-key.pem"), pem("PRIVATE KEY", pkcs8(serverKeys.getPrivate()))));
    } catch (OperatorCreationException | CertIOException e) {
      throw new GeneralSecurityException("cannot issue the test certificates", e);
    }
  }

  private static byte[] pkcs8(PrivateKey key) {
    // The JDK encodes private keys as PKCS#8, the "PRIVATE KEY" PEM that Netty expects.
    return key.getEncoded();
  }

  private static String pem(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }
}
