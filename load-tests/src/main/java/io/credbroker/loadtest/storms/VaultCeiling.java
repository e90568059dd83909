package io.credbroker.loadtest.storms;

import io.credbroker.loadtest.stack.LoadStack;
import io.credbroker.loadtest.stack.VaultClient;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * Vault's own ceiling, measured directly in the same run as a storm: how many credential creations
 * (or renewals) per second the Vault stand-in completes for the one database connection, which
 * serialises them as real Vault's PostgreSQL plugin does. More client threads than one only keep
 * the queue full. Stateless.
 */
final class VaultCeiling {

  /** Client threads keeping Vault's queue for the connection full. */
  static final int CONCURRENCY = 8;

  private VaultCeiling() {}

  /** Creates {@code count} credentials directly; returns them and the rate. */
  record Creations(List<String> leaseIds, double perSecond) {}

  static Creations creations(VaultClient vault, int count) {
    List<String> leases = Collections.synchronizedList(new ArrayList<>());
    double rate =
        rate(
            count,
            i -> leases.add(vault.readCredential(LoadStack.MOUNT, LoadStack.DATABASE).leaseId()));
    return new Creations(List.copyOf(leases), rate);
  }

  /** Renews {@code count} times, round-robin over {@code leaseIds}; returns renewals per second. */
  static double renewals(VaultClient vault, List<String> leaseIds, int count, long ttlSeconds) {
    return rate(count, i -> vault.renew(leaseIds.get(i % leaseIds.size()), ttlSeconds));
  }

  /** Revocations made directly: how many failed, and completions per second. */
  record Revocations(int failed, double perSecond) {}

  /** Revokes every lease; returns how many revocations failed and the rate. */
  static Revocations revoke(VaultClient vault, List<String> leaseIds) {
    int[] failed = new int[1];
    double rate =
        rate(
            leaseIds.size(),
            i -> {
              try {
                vault.revoke(leaseIds.get(i));
              } catch (RuntimeException e) {
                synchronized (failed) {
                  failed[0]++;
                }
              }
            });
    return new Revocations(failed[0], rate);
  }

  /** Runs {@code operation(0..count-1)} on {@link #CONCURRENCY} threads; completions per second. */
  private static double rate(int count, IntConsumer operation) {
    ExecutorService pool = Executors.newFixedThreadPool(CONCURRENCY);
    long start = System.nanoTime();
    try {
      List<Future<?>> work = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        int index = i;
        work.add(pool.submit(() -> operation.accept(index)));
      }
      for (Future<?> f : work) {
        f.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(
          "a direct Vault call failed: " + e.getCause().getMessage(), e);
    } finally {
      pool.shutdownNow();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return StormReport.round3(count / seconds);
  }
}
