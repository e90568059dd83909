package io.credbroker.broker.vault;

import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.github.resilience4j.timelimiter.TimeLimiterRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.vault.core.VaultOperations;

/**
 * Wires the Vault client. The {@link VaultOperations} (address, the broker's own login, session
 * renewal) comes from Spring Cloud Vault; the limits come from the Resilience4j instances named
 * {@value #INSTANCE}.
 */
@Configuration(proxyBeanMethods = false)
class VaultConfiguration {

  /** The Resilience4j instance name configured under {@code resilience4j.*.instances}. */
  static final String INSTANCE = "vault";

  /**
   * Runs the HTTP exchanges so that the calling thread can stop waiting at the time limit. The
   * bulkhead in front bounds how many run at once; threads idle out.
   */
  @Bean(destroyMethod = "shutdownNow")
  ExecutorService vaultCallExecutor() {
    AtomicInteger counter = new AtomicInteger();
    ThreadFactory threads =
        runnable -> {
          Thread thread = new Thread(runnable, "vault-call-" + counter.incrementAndGet());
          thread.setDaemon(true);
          return thread;
        };
    return Executors.newCachedThreadPool(threads);
  }

  @Bean
  VaultDatabaseCredentials vaultDatabaseCredentials(
      VaultOperations vaultOperations,
      CircuitBreakerRegistry circuitBreakers,
      BulkheadRegistry bulkheads,
      TimeLimiterRegistry timeLimiters,
      RetryRegistry retries,
      ExecutorService vaultCallExecutor,
      MeterRegistry meterRegistry) {
    return new VaultDatabaseCredentials(
        vaultOperations,
        circuitBreakers.circuitBreaker(INSTANCE),
        bulkheads.bulkhead(INSTANCE),
        timeLimiters.timeLimiter(INSTANCE),
        vaultCallExecutor,
        meterRegistry,
        retries.retry(INSTANCE));
  }
}
