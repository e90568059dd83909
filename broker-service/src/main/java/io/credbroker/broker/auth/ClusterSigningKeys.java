package io.credbroker.broker.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.SignedJWT;
import java.security.Key;
import java.text.ParseException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks tokens against the keys the cluster signs service-account tokens with, as the API server
 * publishes them at {@code /openid/v1/jwks} (service account issuer discovery; the default RBAC
 * binding {@code system:service-account-issuer-discovery} lets every service account read it).
 *
 * <p>Why. A TokenReview is the only authority on a token (it also knows whether the token's pod
 * still exists), but reviews of unknown tokens are rate-limited for the whole replica, so a caller
 * with fresh forged tokens would use up the budget that new pods need. A forged token is not signed
 * by the cluster, which a public key shows without asking anybody: such tokens are refused here and
 * cost no review. A token signed by the cluster still gets its review.
 *
 * <p>The key set is fetched on first use and again when a token names a key it does not hold (the
 * cluster rotated its keys), at most once per {@code minRefreshInterval}, so tokens naming made-up
 * keys cause at most one fetch per interval. While no key set could be fetched (the API server is
 * down, or RBAC denies the path) every token is {@link Verdict#UNCHECKED} and goes to its review as
 * before; a token naming an unknown key is {@code UNCHECKED} too when the last fetch failed.
 *
 * <p>Thread-safe: the key set is replaced as a whole; one caller fetches at a time, and the others
 * go on with the set they have or, before the first set, wait for that fetch.
 */
public final class ClusterSigningKeys implements TokenSignatures {

  private static final Logger log = LoggerFactory.getLogger(ClusterSigningKeys.class);
  private static final DefaultJWSVerifierFactory VERIFIERS = new DefaultJWSVerifierFactory();

  /** Fetches the JWKS document; throws when it cannot. */
  @FunctionalInterface
  public interface Source {
    String fetch() throws Exception;
  }

  private final Source source;
  private final long minRefreshNanos;
  private final LongSupplier nanoTime;
  private final ReentrantLock fetching = new ReentrantLock();

  private volatile @Nullable JWKSet keys;
  private volatile boolean lastFetchFailed;

  /** When the last fetch started; meaningful once {@link #fetched} is true. */
  private volatile long lastFetchNanos;

  private volatile boolean fetched;

  /**
   * @param nanoTime the clock of the refresh interval ({@link System#nanoTime} but in tests)
   */
  public ClusterSigningKeys(Source source, Duration minRefreshInterval, LongSupplier nanoTime) {
    this.source = Objects.requireNonNull(source, "source");
    if (minRefreshInterval.isNegative() || minRefreshInterval.isZero()) {
      throw new IllegalArgumentException("minRefreshInterval must be positive");
    }
    this.minRefreshNanos = minRefreshInterval.toNanos();
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
  }

  @Override
  public Verdict check(JWT jwt) {
    if (!(jwt instanceof SignedJWT signed)) {
      // Unsecured: Kubernetes never issues one.
      return Verdict.INVALID;
    }
    JWKSet current = keys;
    if (current == null) {
      current = refreshIfDue();
      if (current == null) {
        return Verdict.UNCHECKED;
      }
    }
    String keyId = signed.getHeader().getKeyID();
    List<JWK> candidates = candidates(current, keyId);
    if (candidates.isEmpty()) {
      JWKSet refreshed = refreshIfDue();
      if (refreshed != null) {
        current = refreshed;
        candidates = candidates(current, keyId);
      }
      if (candidates.isEmpty()) {
        // A key the cluster does not have, by a key set as fresh as the interval allows; unless
        // that set could not be fetched again, in which case the review decides.
        return lastFetchFailed ? Verdict.UNCHECKED : Verdict.INVALID;
      }
    }
    for (JWK key : candidates) {
      if (verifies(signed, key)) {
        return Verdict.VALID;
      }
    }
    return Verdict.INVALID;
  }

  /** The keys {@code keyId} names, or every key when the token names none. */
  private static List<JWK> candidates(JWKSet set, @Nullable String keyId) {
    if (keyId == null) {
      return set.getKeys();
    }
    JWK key = set.getKeyByKeyId(keyId);
    return key == null ? List.of() : List.of(key);
  }

  private static boolean verifies(SignedJWT signed, JWK jwk) {
    JWSHeader header = signed.getHeader();
    try {
      Key key;
      if (jwk instanceof RSAKey rsa) {
        key = rsa.toRSAPublicKey();
      } else if (jwk instanceof ECKey ec) {
        key = ec.toECPublicKey();
      } else {
        return false;
      }
      // Throws for an algorithm the key cannot verify (HS256 against a public key, for one).
      return signed.verify(VERIFIERS.createJWSVerifier(header, key));
    } catch (JOSEException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Fetches the key set unless one was fetched (or tried) less than the interval ago; returns the
   * newest set known after that, or {@code null}. While another caller fetches, a caller that holds
   * a set goes on with it, and one without any waits for that fetch (as long as the API server's
   * request timeout at most), so that the first tokens after a start are checked too.
   */
  private @Nullable JWKSet refreshIfDue() {
    if (keys == null) {
      fetching.lock();
    } else if (nanoTime.getAsLong() - lastFetchNanos < minRefreshNanos || !fetching.tryLock()) {
      return keys;
    }
    try {
      long now = nanoTime.getAsLong();
      if (fetched && now - lastFetchNanos < minRefreshNanos) {
        return keys;
      }
      lastFetchNanos = now;
      fetched = true;
      try {
        JWKSet set = JWKSet.parse(source.fetch());
        keys = set;
        if (lastFetchFailed) {
          log.info("Read the cluster's {} token signing key(s) again", set.getKeys().size());
        }
        lastFetchFailed = false;
      } catch (Exception e) {
        if (!lastFetchFailed) {
          // Without the keys every token goes to its TokenReview, as it would without this check.
          log.warn(
              "Cannot read the cluster's token signing keys (/openid/v1/jwks): {}; tokens are"
                  + " checked by TokenReview alone until they can be read",
              e instanceof ParseException ? "not a JWK set" : e.toString());
        }
        lastFetchFailed = true;
      }
      return keys;
    } finally {
      fetching.unlock();
    }
  }
}
