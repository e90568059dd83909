package io.credbroker.broker.vault;

import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This replica's current {@link IssuingToken}, replaced by a new one once half of its life has
 * passed, so that every credential starts with at least half a token lifetime ahead of it. Tokens
 * are never revoked by the broker: an old one lives on, unused, until Vault expires it together
 * with whatever leases it still has (by then the broker has rotated them).
 *
 * <p>Thread-safe. The fast path is one volatile read; only the thread that finds the token stale
 * creates the next one, and the others wait for it (once per half lifetime).
 */
final class IssuingTokens {

  private static final Logger log = LoggerFactory.getLogger(IssuingTokens.class);

  private final Supplier<IssuingToken> create;
  private final Clock clock;
  private final Object lock = new Object();

  /** Written only while holding {@link #lock}; read without it on the fast path. */
  private volatile @Nullable IssuingToken current;

  /**
   * @param create asks Vault for a new issuing token (a call that may fail)
   */
  IssuingTokens(Supplier<IssuingToken> create, Clock clock) {
    this.create = Objects.requireNonNull(create, "create");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * The token to issue with now: the current one while it is fresh, else a new one. When Vault
   * cannot create a new one, a current token with more than a quarter of its life left is still
   * used (its credentials rotate early); otherwise the failure is thrown, rather than issuing
   * credentials that Vault revokes with their token minutes later.
   */
  IssuingToken current() {
    IssuingToken token = current;
    if (token != null && token.freshAt(clock.instant())) {
      return token;
    }
    synchronized (lock) {
      token = current;
      Instant now = clock.instant();
      if (token != null && token.freshAt(now)) {
        return token;
      }
      try {
        IssuingToken next = create.get();
        current = next;
        log.info(
            "New Vault issuing token (accessor {}) lives {} until {}",
            next.accessor(),
            next.ttl(),
            next.expireTime());
        return next;
      } catch (RuntimeException e) {
        if (token != null && token.usableAt(now)) {
          log.warn(
              "Could not create a new Vault issuing token; still issuing with accessor {} until {}",
              token.accessor(),
              token.expireTime());
          return token;
        }
        throw e;
      }
    }
  }

  /**
   * Forgets {@code token} if it is still the current one (Vault refused it: revoked by an
   * operator), so that the next call creates a new one.
   */
  void discard(IssuingToken token) {
    synchronized (lock) {
      if (current == token) {
        current = null;
      }
    }
  }
}
