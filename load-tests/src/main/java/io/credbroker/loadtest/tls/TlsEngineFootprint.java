package io.credbroker.loadtest.tls;

import io.credbroker.devstack.kubernetes.ServingCertificates;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCounted;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * What one idle TLS connection of the gRPC server costs in each engine, heap and native memory,
 * with nothing else in the process: the broker's own stack (Netty's {@code SslContext} with ALPN
 * {@code h2}, the broker's session settings, netty-tcnative's BoringSSL for OpenSSL) on the server
 * side, the JDK's engine as the client, handshakes and one record each way in memory, no sockets.
 *
 * <p>Why beside the streams scenario: OpenSSL keeps a connection's state outside the Java heap, and
 * the broker process's resident memory moves by tens of MB between runs (JIT code, compiler arenas,
 * GC structures), so native memory per pod cannot be read from it. Here the heap is committed and
 * touched at start ({@code -Xms} equal to {@code -Xmx}, {@code -XX:+AlwaysPreTouch}), the serial
 * collector keeps no remembered sets, the code is warmed up first, and what grows while {@code
 * connections} server engines are kept is mostly what the engines keep: the live heap after a full
 * collection, and the process's anonymous resident memory ({@code RssAnon}), which the heap no
 * longer moves. The JVM still adds a little of its own (compiled code, for one): the native figure
 * of the JDK's engine, which keeps nothing outside the heap, shows how much (about ±1.5 KB per
 * connection at 6,000).
 */
public final class TlsEngineFootprint {

  private static final int WARM_UP = 2_000;

  private TlsEngineFootprint() {}

  /** The figures of one engine. */
  public record Result(
      String engine, String library, int connections, long heapBytes, long nativeBytes) {

    public long heapPerConnection() {
      return heapBytes / connections;
    }

    public long nativePerConnection() {
      return nativeBytes / connections;
    }

    public String line() {
      return String.format(
          Locale.ROOT,
          "%-8s %,7d connections: heap %,6d B, native %,6d B, total %,6d B per connection (%s)",
          engine,
          connections,
          heapPerConnection(),
          nativePerConnection(),
          heapPerConnection() + nativePerConnection(),
          library);
    }
  }

  /**
   * Measures {@code engine} (see {@link #main}) in a new JVM with a 1 GiB heap, so that nothing of
   * another measurement is resident.
   */
  public static Result measureInChild(String engine, int connections, Path workDir)
      throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path log = workDir.resolve("tls-" + engine + ".log");
    Files.createDirectories(workDir);
    Process child =
        new ProcessBuilder(
                java.toString(),
                "-Xms1g",
                "-Xmx1g",
                "-XX:+AlwaysPreTouch",
                // No remembered sets: the collector's own native memory does not grow with the
                // objects kept.
                "-XX:+UseSerialGC",
                "-cp",
                System.getProperty("java.class.path"),
                TlsEngineFootprint.class.getName(),
                engine,
                Integer.toString(connections),
                workDir.resolve("tls-" + engine).toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    if (child.waitFor() != 0) {
      throw new IllegalStateException(
          "the " + engine + " measurement failed; see " + log + ":\n" + Files.readString(log));
    }
    List<String> lines = Files.readAllLines(log);
    String[] fields = lines.get(lines.size() - 1).split("\t");
    if (fields.length != 5 || !fields[0].equals("result")) {
      throw new IllegalStateException("no result in " + log);
    }
    return new Result(
        engine, fields[4], connections, Long.parseLong(fields[2]), Long.parseLong(fields[3]));
  }

  /**
   * The child: {@code engine connections certificateDir}, where engine is {@code openssl}, {@code
   * openssl-shared-key} or {@code jdk}; prints a tab-separated result line.
   */
  public static void main(String[] args) throws Exception {
    String engine = args[0];
    SslProvider provider = engine.startsWith("openssl") ? SslProvider.OPENSSL : SslProvider.JDK;
    int connections = Integer.parseInt(args[1]);
    Path tls = Path.of(args[2]);
    ServingCertificates.issue(tls, List.of("localhost"));
    if (provider == SslProvider.OPENSSL && !OpenSsl.isAvailable()) {
      throw new IllegalStateException("OpenSSL is not available", OpenSsl.unavailabilityCause());
    }
    SslContext server = serverContext(tls, provider, engine.equals("openssl-shared-key"));
    SslContext client = clientContext(tls);

    List<SSLEngine> kept = new ArrayList<>(connections);
    for (int i = 0; i < WARM_UP; i++) {
      release(connect(server, client));
    }
    long heapBefore = liveHeap();
    long nativeBefore = anonymousResident();
    for (int i = 0; i < connections; i++) {
      kept.add(connect(server, client));
    }
    long heapAfter = liveHeap();
    long nativeAfter = anonymousResident();
    String library =
        provider == SslProvider.OPENSSL
            ? OpenSsl.versionString()
            : "JDK " + System.getProperty("java.version");
    System.out.printf(
        Locale.ROOT,
        "result\t%d\t%d\t%d\t%s%n",
        kept.size(),
        heapAfter - heapBefore,
        nativeAfter - nativeBefore,
        library);
    kept.forEach(TlsEngineFootprint::release);
  }

  /**
   * The gRPC server's TLS context as grpc-java builds it, with the broker's session settings. With
   * {@code sharedKey}, OpenSSL is given the key material once for every connection ({@link
   * OpenSslCachingX509KeyManagerFactory}); otherwise, as for any other key manager, it converts the
   * key and chain into each connection's own native copy at its handshake.
   */
  private static SslContext serverContext(Path tls, SslProvider provider, boolean sharedKey)
      throws Exception {
    SslContextBuilder builder =
        sharedKey
            ? SslContextBuilder.forServer(
                new OpenSslCachingX509KeyManagerFactory(keyManagerFactory(tls)))
            : SslContextBuilder.forServer(
                tls.resolve("tls.crt").toFile(), tls.resolve("tls.key").toFile());
    SslContext context = builder.sslProvider(provider).applicationProtocolConfig(h2()).build();
    // As the broker's NoSessionTickets sets them on the first connection.
    if (context.sessionContext() instanceof OpenSslSessionContext openSsl) {
      openSsl.setSessionCacheEnabled(false);
    } else {
      context.sessionContext().setSessionTimeout(7 * 24 * 60 * 60 + 1);
    }
    return context;
  }

  private static KeyManagerFactory keyManagerFactory(Path tls) throws Exception {
    PrivateKey key;
    try (PEMParser pem = new PEMParser(Files.newBufferedReader(tls.resolve("tls.key")))) {
      Object read = pem.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      key =
          read instanceof PEMKeyPair pair
              ? converter.getKeyPair(pair).getPrivate()
              : converter.getPrivateKey((PrivateKeyInfo) read);
    }
    Certificate[] chain;
    try (var in = Files.newInputStream(tls.resolve("tls.crt"))) {
      chain =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(in)
              .toArray(Certificate[]::new);
    }
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("server", key, new char[0], chain);
    KeyManagerFactory factory =
        KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    factory.init(store, new char[0]);
    return factory;
  }

  private static SslContext clientContext(Path tls) throws SSLException {
    return SslContextBuilder.forClient()
        .sslProvider(SslProvider.JDK)
        .trustManager(tls.resolve("ca.crt").toFile())
        .applicationProtocolConfig(h2())
        .build();
  }

  private static ApplicationProtocolConfig h2() {
    return new ApplicationProtocolConfig(
        ApplicationProtocolConfig.Protocol.ALPN,
        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
        ApplicationProtocolNames.HTTP_2);
  }

  /**
   * A server engine after a full handshake with a new client (each pod has its own TLS context, so
   * nothing is resumed) and one small record each way, as an idle connection after its first
   * exchange; the client is dropped.
   */
  private static SSLEngine connect(SslContext serverContext, SslContext clientContext)
      throws SSLException {
    SSLEngine server = serverContext.newEngine(ByteBufAllocator.DEFAULT);
    SSLEngine client = clientContext.newEngine(ByteBufAllocator.DEFAULT, "localhost", 443);
    int packet = Math.max(server.getSession().getPacketBufferSize(), 1 << 15);
    int app = Math.max(server.getSession().getApplicationBufferSize(), 1 << 15);
    ByteBuffer toServer = ByteBuffer.allocate(packet);
    ByteBuffer toClient = ByteBuffer.allocate(packet);
    ByteBuffer serverIn = ByteBuffer.allocate(app);
    ByteBuffer clientIn = ByteBuffer.allocate(app);
    ByteBuffer empty = ByteBuffer.allocate(0);
    server.beginHandshake();
    client.beginHandshake();
    for (int round = 0; round < 100 && !(done(server) && done(client)); round++) {
      step(client, empty, toServer, toClient, clientIn);
      step(server, empty, toClient, toServer, serverIn);
    }
    if (!(done(server) && done(client))) {
      throw new SSLException("the handshake did not finish");
    }
    exchange(client, "PRI * HTTP/2.0", toServer, server, serverIn);
    exchange(server, "SETTINGS", toClient, client, clientIn);
    release(client);
    return server;
  }

  private static boolean done(SSLEngine engine) {
    HandshakeStatus status = engine.getHandshakeStatus();
    return status == HandshakeStatus.NOT_HANDSHAKING || status == HandshakeStatus.FINISHED;
  }

  /** Lets {@code engine} write what it has into {@code out} and read what waits in {@code in}. */
  private static void step(
      SSLEngine engine, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer appIn)
      throws SSLException {
    for (int i = 0; i < 10; i++) {
      runTasks(engine);
      SSLEngineResult wrote = engine.wrap(empty, out);
      runTasks(engine);
      in.flip();
      SSLEngineResult read = engine.unwrap(in, appIn);
      in.compact();
      appIn.clear();
      if (wrote.bytesProduced() == 0 && read.bytesConsumed() == 0) {
        return;
      }
    }
  }

  private static void runTasks(SSLEngine engine) {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) {
      task.run();
    }
  }

  private static void exchange(
      SSLEngine from, String text, ByteBuffer wire, SSLEngine to, ByteBuffer appIn)
      throws SSLException {
    from.wrap(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)), wire);
    wire.flip();
    while (wire.hasRemaining()) {
      SSLEngineResult read = to.unwrap(wire, appIn);
      runTasks(to);
      if (read.bytesConsumed() == 0) {
        break;
      }
    }
    wire.compact();
    appIn.flip();
    String received = StandardCharsets.US_ASCII.decode(appIn).toString();
    appIn.clear();
    if (!received.equals(text)) {
      throw new IllegalStateException("sent " + text + ", received " + received);
    }
  }

  private static void release(SSLEngine engine) {
    if (engine instanceof ReferenceCounted counted) {
      counted.release();
    }
  }

  private static long liveHeap() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** The process's anonymous resident memory in bytes, from {@code /proc/self/status}. */
  private static long anonymousResident() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("RssAnon:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IllegalStateException("no RssAnon in /proc/self/status");
  }
}
