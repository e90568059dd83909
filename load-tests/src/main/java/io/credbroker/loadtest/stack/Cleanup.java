package io.credbroker.loadtest.stack;

import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Revokes what a scenario created, so the target database does not fill up with roles: broker
 * credentials through {@code ReleaseCredential} (the pod's own call), direct Vault leases through
 * {@code sys/leases/revoke}. When the broker does not offer {@code ReleaseCredential}
 * (UNIMPLEMENTED) or a release fails, a final {@code sys/leases/revoke-prefix/<mount>/creds/<role>}
 * sweeps the rest.
 *
 * <p>Stateless; each call blocks until done.
 */
public final class Cleanup {

  private static final int THREADS = 4;

  /** A credential the broker issued, with the pod that may release it. */
  public record BrokerCredential(PodToken pod, String credentialId) {}

  /**
   * What the cleanup did. Immutable.
   *
   * @param released broker credentials released through {@code ReleaseCredential}
   * @param releaseUnimplemented releases the broker answered UNIMPLEMENTED (the RPC does not exist
   *     yet)
   * @param releaseFailed releases that failed otherwise
   * @param vaultRevoked direct leases revoked one by one
   * @param prefixSweep whether the revoke-prefix sweep ran
   * @param dynamicRolesLeft PostgreSQL {@code v-...} roles that still exist afterwards
   */
  public record Report(
      int released,
      int releaseUnimplemented,
      int releaseFailed,
      int vaultRevoked,
      int vaultRevokeFailed,
      boolean prefixSweep,
      long dynamicRolesLeft,
      double seconds) {

    public String render() {
      return String.format(
          "released %d through the broker (%d UNIMPLEMENTED, %d failed), %d direct leases revoked (%d failed)%s;"
              + " %d dynamic roles left; %.1f s",
          released,
          releaseUnimplemented,
          releaseFailed,
          vaultRevoked,
          vaultRevokeFailed,
          prefixSweep ? ", revoke-prefix sweep" : "",
          dynamicRolesLeft,
          seconds);
    }
  }

  private Cleanup() {}

  /**
   * @param sweepTimeout how long the revoke-prefix sweep may take (thousands of roles take minutes)
   * @param sweepAlways run the sweep even if every release succeeded (the last scenario of a run)
   */
  public static Report revokeAll(
      LoadStack stack,
      List<BrokerCredential> brokerCredentials,
      List<String> directLeaseIds,
      Duration sweepTimeout,
      boolean sweepAlways) {
    long start = System.nanoTime();
    AtomicInteger released = new AtomicInteger();
    AtomicInteger unimplemented = new AtomicInteger();
    AtomicInteger releaseFailed = new AtomicInteger();
    AtomicInteger revoked = new AtomicInteger();
    AtomicInteger revokeFailed = new AtomicInteger();
    // Once the broker says UNIMPLEMENTED, asking again for every other credential is pointless.
    AtomicBoolean noRelease = new AtomicBoolean();
    ManagedChannel channel = stack.broker().newChannel();
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<?>> work = new ArrayList<>();
      for (BrokerCredential c : brokerCredentials) {
        work.add(
            pool.submit(
                () -> {
                  if (noRelease.get()) {
                    unimplemented.incrementAndGet();
                    return;
                  }
                  try {
                    CredentialBrokerGrpc.newBlockingStub(channel)
                        .withInterceptors(c.pod().bearer())
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .releaseCredential(
                            ReleaseCredentialRequest.newBuilder()
                                .setCredentialId(c.credentialId())
                                .build());
                    released.incrementAndGet();
                  } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
                      noRelease.set(true);
                      unimplemented.incrementAndGet();
                    } else {
                      releaseFailed.incrementAndGet();
                    }
                  }
                }));
      }
      for (String leaseId : directLeaseIds) {
        work.add(
            pool.submit(
                () -> {
                  try {
                    stack.vault().revoke(leaseId);
                    revoked.incrementAndGet();
                  } catch (RuntimeException e) {
                    revokeFailed.incrementAndGet();
                  }
                }));
      }
      for (Future<?> f : work) {
        f.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted during cleanup", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("cleanup task failed", e.getCause());
    } finally {
      pool.shutdownNow();
      channel.shutdownNow();
    }
    boolean sweep =
        sweepAlways || unimplemented.get() > 0 || releaseFailed.get() > 0 || revokeFailed.get() > 0;
    if (sweep) {
      stack.vault().revokePrefix(LoadStack.MOUNT + "/creds/" + LoadStack.DATABASE, sweepTimeout);
    }
    return new Report(
        released.get(),
        unimplemented.get(),
        releaseFailed.get(),
        revoked.get(),
        revokeFailed.get(),
        sweep,
        stack.dynamicRoles(),
        Math.round((System.nanoTime() - start) / 1e8) / 10.0);
  }
}
