package io.credbroker.devstack.kubernetes;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The stand-in's PKI: a self-signed cluster CA, kept in the state directory so clients that trusted
 * it keep trusting it across restarts, and a serving certificate signed by it, made fresh at every
 * start for the SANs real clients check ({@code 127.0.0.1}, {@code localhost}, {@code ::1}, {@code
 * kubernetes.default.svc} and the bind host).
 *
 * <p>Immutable once built; BouncyCastle is used only to build certificates, signing goes through
 * the JDK's default providers (BC is never registered as a JCA provider).
 */
final class ClusterCertificates {

  static final String CA_CERT_FILE = "ca.crt";
  static final String CA_KEY_FILE = "ca.key";

  private static final SecureRandom RANDOM = new SecureRandom();

  private final X509Certificate caCertificate;
  private final PrivateKey caKey;
  private final String caPem;
  private final SSLContext sslContext;

  private ClusterCertificates(
      X509Certificate caCertificate, PrivateKey caKey, String caPem, SSLContext sslContext) {
    this.caCertificate = caCertificate;
    this.caKey = caKey;
    this.caPem = caPem;
    this.sslContext = sslContext;
  }

  /** Loads the CA from {@code stateDir} (or creates and stores it) and issues a serving cert. */
  static ClusterCertificates loadOrCreate(Path stateDir, String host) {
    try {
      Path certFile = stateDir.resolve(CA_CERT_FILE);
      Path keyFile = stateDir.resolve(CA_KEY_FILE);
      X509Certificate caCert;
      PrivateKey caKey;
      if (Files.isRegularFile(certFile) && Files.isRegularFile(keyFile)) {
        caCert = readCertificate(Files.readString(certFile));
        caKey = readPrivateKey(Files.readString(keyFile));
      } else {
        KeyPair caPair = rsaKeyPair();
        caCert = selfSignedCa(caPair);
        caKey = caPair.getPrivate();
        StateFiles.writePrivate(keyFile, pem(caKey));
        StateFiles.writePublic(certFile, pem(caCert));
      }
      KeyPair serverPair = rsaKeyPair();
      X509Certificate serverCert =
          serverCertificate(serverPair, caCert, caKey, "kube-apiserver", subjectAltNames(host));
      SSLContext ssl = serverContext(serverPair.getPrivate(), serverCert, caCert);
      return new ClusterCertificates(caCert, caKey, pem(caCert), ssl);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or write the cluster CA in " + stateDir, e);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot build the cluster certificates", e);
    }
  }

  /**
   * Issues a serving certificate signed by the CA, for {@code commonName} and the DNS names and IP
   * addresses in {@code names}, and writes it into {@code dir} the way the kubelet projects a
   * Kubernetes TLS Secret into a volume ({@code pkg/volume/util/atomic_writer.go}): the files are
   * in a new hidden directory {@code ..<time>}, symlink {@code ..data} is switched to it by an
   * atomic rename, and {@code tls.crt}, {@code tls.key} and {@code ca.crt} are symlinks through
   * {@code ..data}. A reader sees the old set or the new one, never half of each, and a file
   * watcher sees what it sees in a pod when cert-manager renews the Secret. The key is readable by
   * its owner only.
   */
  void writeServingCertificate(Path dir, String commonName, List<String> names) {
    try {
      KeyPair pair = rsaKeyPair();
      X509Certificate certificate =
          serverCertificate(pair, caCertificate, caKey, commonName, generalNames(names));
      Files.createDirectories(dir);
      Path version = Files.createTempDirectory(dir, "..data-");
      StateFiles.writePrivate(version.resolve("tls.key"), pem(pair.getPrivate()));
      StateFiles.writePublic(version.resolve("ca.crt"), caPem);
      StateFiles.writePublic(version.resolve("tls.crt"), pem(certificate));
      Path data = dir.resolve("..data");
      Path previous = Files.isSymbolicLink(data) ? dir.resolve(Files.readSymbolicLink(data)) : null;
      Path next = dir.resolve("..data_tmp");
      Files.deleteIfExists(next);
      Files.createSymbolicLink(next, version.getFileName());
      Files.move(next, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      for (String file : List.of("tls.crt", "tls.key", "ca.crt")) {
        Path link = dir.resolve(file);
        if (!Files.isSymbolicLink(link)) {
          Files.deleteIfExists(link);
          Files.createSymbolicLink(link, Path.of("..data", file));
        }
      }
      if (previous != null && !previous.equals(version)) {
        for (String file : List.of("tls.crt", "tls.key", "ca.crt")) {
          Files.deleteIfExists(previous.resolve(file));
        }
        Files.deleteIfExists(previous);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write a serving certificate to " + dir, e);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot issue a serving certificate", e);
    }
  }

  /**
   * A server TLS context serving the certificate and key that {@link #writeServingCertificate} left
   * in {@code dir}, with the CA's certificate after it in the chain.
   */
  SSLContext servingContext(Path dir) {
    try {
      return serverContext(
          readPrivateKey(Files.readString(dir.resolve("tls.key"))),
          readCertificate(Files.readString(dir.resolve("tls.crt"))),
          caCertificate);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the serving certificate in " + dir, e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot serve the certificate in " + dir, e);
    }
  }

  private static SSLContext serverContext(
      PrivateKey key, X509Certificate certificate, X509Certificate ca)
      throws IOException, GeneralSecurityException {
    KeyStore keyStore = KeyStore.getInstance("PKCS12");
    keyStore.load(null, null);
    char[] password = new char[0];
    keyStore.setKeyEntry("server", key, password, new X509Certificate[] {certificate, ca});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keyStore, password);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), null, RANDOM);
    return ssl;
  }

  /** A client TLS context that trusts this CA, and no other. */
  SSLContext clientContext() {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("ca", caCertificate);
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, tmf.getTrustManagers(), RANDOM);
      return ssl;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot build a client TLS context for the cluster CA", e);
    }
  }

  X509Certificate caCertificate() {
    return caCertificate;
  }

  /** The CA certificate as PEM, what kubeconfig's certificate-authority-data carries. */
  String caPem() {
    return caPem;
  }

  SSLContext sslContext() {
    return sslContext;
  }

  private static KeyPair rsaKeyPair() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048, RANDOM);
    return generator.generateKeyPair();
  }

  private static X509Certificate selfSignedCa(KeyPair pair)
      throws GeneralSecurityException, OperatorCreationException, IOException {
    X500Name name = new X500Name("CN=credbroker-dev-stack-ca");
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder builder =
        new JcaX509v3CertificateBuilder(
            name,
            new BigInteger(64, RANDOM),
            Date.from(now.minus(Duration.ofHours(1))),
            Date.from(now.plus(Duration.ofDays(3650))),
            name,
            pair.getPublic());
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    builder.addExtension(
        Extension.keyUsage,
        true,
        new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature));
    builder.addExtension(
        Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
    return toJdk(builder.build(signer(pair.getPrivate())));
  }

  private static X509Certificate serverCertificate(
      KeyPair pair, X509Certificate ca, PrivateKey caKey, String commonName, GeneralNames names)
      throws GeneralSecurityException, OperatorCreationException, IOException {
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder builder =
        new JcaX509v3CertificateBuilder(
            ca,
            new BigInteger(64, RANDOM),
            Date.from(now.minus(Duration.ofHours(1))),
            Date.from(now.plus(Duration.ofDays(365))),
            new X500Name("CN=" + commonName),
            pair.getPublic());
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    builder.addExtension(
        Extension.keyUsage,
        true,
        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    builder.addExtension(
        Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
    builder.addExtension(
        Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
    builder.addExtension(Extension.subjectAlternativeName, false, names);
    return toJdk(builder.build(signer(caKey)));
  }

  private static GeneralNames subjectAltNames(String host) {
    java.util.LinkedHashSet<GeneralName> names = new java.util.LinkedHashSet<>();
    names.add(new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
    names.add(new GeneralName(GeneralName.iPAddress, "::1"));
    names.add(new GeneralName(GeneralName.dNSName, "localhost"));
    for (String dns :
        new String[] {
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          "kubernetes.default.svc.cluster.local"
        }) {
      names.add(new GeneralName(GeneralName.dNSName, dns));
    }
    String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    if (!bare.isEmpty() && !bare.equals("0.0.0.0") && !bare.equals("::")) {
      boolean ip = bare.contains(":") || bare.matches("[0-9.]+");
      names.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, bare));
    }
    return new GeneralNames(names.toArray(GeneralName[]::new));
  }

  private static GeneralNames generalNames(List<String> names) {
    GeneralName[] general = new GeneralName[names.size()];
    for (int i = 0; i < names.size(); i++) {
      String name = names.get(i);
      boolean ip = name.contains(":") || name.matches("[0-9.]+");
      general[i] = new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, name);
    }
    return new GeneralNames(general);
  }

  private static ContentSigner signer(PrivateKey key) throws OperatorCreationException {
    // No setProvider(...): the JDK's default providers do the signing.
    return new JcaContentSignerBuilder("SHA256withRSA").build(key);
  }

  private static X509Certificate toJdk(X509CertificateHolder holder)
      throws GeneralSecurityException, IOException {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    return (X509Certificate)
        factory.generateCertificate(new java.io.ByteArrayInputStream(holder.getEncoded()));
  }

  private static X509Certificate readCertificate(String pem) throws GeneralSecurityException {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    return (X509Certificate)
        factory.generateCertificate(
            new java.io.ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
  }

  private static PrivateKey readPrivateKey(String pem)
      throws IOException, GeneralSecurityException {
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      Object object = parser.readObject();
      PrivateKeyInfo info;
      if (object instanceof PrivateKeyInfo pki) {
        info = pki;
      } else if (object instanceof org.bouncycastle.openssl.PEMKeyPair pair) {
        info = pair.getPrivateKeyInfo();
      } else {
        throw new IOException("the key file holds no private key");
      }
      return KeyFactory.getInstance("RSA")
          .generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
    }
  }

  static String pem(Object object) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(object);
    }
    return out.toString();
  }
}
