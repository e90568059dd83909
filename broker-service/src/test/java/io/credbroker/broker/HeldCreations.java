package io.credbroker.broker;

import io.credbroker.devstack.DevStack;
import io.credbroker.devstack.http.HttpRequest;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Vault's credential creations held at the dev-stack's Vault, for interleavings a test needs. */
final class HeldCreations {

  private HeldCreations() {}

  /** A creds read, not a lease listing under {@code sys/leases/lookup/<mount>/creds/}. */
  static boolean isCreation(HttpRequest request) {
    return request.method().equals("GET")
        && request.path().contains("/database/creds/")
        && !request.path().contains("/sys/");
  }

  /**
   * Holds every creation from now on: each counts {@code arrived} down and waits for {@code
   * release}, never past 4 s (under the broker's Vault read timeout of 5 s), then is answered.
   */
  static void hold(DevStack devStack, CountDownLatch arrived, CountDownLatch release) {
    devStack
        .vaultFaults()
        .delay(
            request -> {
              if (!isCreation(request)) {
                return false;
              }
              arrived.countDown();
              try {
                release.await(4, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return true;
            },
            Duration.ZERO);
  }
}
