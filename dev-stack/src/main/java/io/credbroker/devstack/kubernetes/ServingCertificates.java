package io.credbroker.devstack.kubernetes;

import java.nio.file.Path;
import java.util.List;

/** Serving certificates for tests that run without a dev-stack (for example against containers). */
public final class ServingCertificates {

  private ServingCertificates() {}

  /**
   * Makes a CA in {@code dir} (kept there as {@code ca.crt} and {@code ca.key}, or reused when
   * present) and a serving certificate signed by it for {@code names} (DNS names and IP addresses),
   * written into {@code dir} as a Kubernetes TLS Secret is mounted: {@code tls.crt}, {@code
   * tls.key}, {@code ca.crt}.
   */
  public static void issue(Path dir, List<String> names) {
    ClusterCertificates.loadOrCreate(dir, "127.0.0.1")
        .writeServingCertificate(dir, names.isEmpty() ? "server" : names.get(0), names);
  }
}
