package io.credbroker.loadtest.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The measurement runs each engine in its own JVM through full handshakes and a record each way
 * (the child fails on a handshake that does not finish or a record that does not arrive), and
 * reports what the kept server engines hold. Only that it measures something is asserted here; the
 * figures belong in the report.
 */
class TlsEngineFootprintTest {

  /** Enough that the JVM's own heap noise (about 1 MB) is small next to the engines'. */
  private static final int CONNECTIONS = 1_500;

  @TempDir Path workDir;

  @Test
  void eachEngineIsMeasuredInAJvmOfItsOwn() throws Exception {
    TlsEngineFootprint.Result openSsl =
        TlsEngineFootprint.measureInChild("openssl", CONNECTIONS, workDir);
    TlsEngineFootprint.Result jdk = TlsEngineFootprint.measureInChild("jdk", CONNECTIONS, workDir);

    assertThat(openSsl.library()).startsWith("BoringSSL");
    assertThat(openSsl.connections()).isEqualTo(CONNECTIONS);
    assertThat(jdk.library()).startsWith("JDK");
    // The JDK's engine and its session live on the heap: far more of it than OpenSSL's handle.
    System.out.println(openSsl.line());
    System.out.println(jdk.line());
    assertThat(jdk.heapPerConnection()).isGreaterThan(openSsl.heapPerConnection() + 1_000);
  }
}
