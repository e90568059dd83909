package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.credbroker.broker.auth.TokenSignatures.Verdict;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ClusterSigningKeysTest {

  private static final Duration REFRESH = Duration.ofSeconds(10);
  private static final RSAKey CLUSTER = rsa("cluster-key");
  private static final RSAKey OTHER_UNDER_THE_SAME_ID = rsa("cluster-key");

  private final AtomicLong nanos = new AtomicLong();
  private final AtomicInteger fetches = new AtomicInteger();
  private final AtomicReference<List<JWK>> published = new AtomicReference<>(List.of(CLUSTER));
  private final AtomicReference<RuntimeException> failure = new AtomicReference<>();

  private final ClusterSigningKeys keys =
      new ClusterSigningKeys(
          () -> {
            fetches.incrementAndGet();
            RuntimeException down = failure.get();
            if (down != null) {
              throw down;
            }
            return new JWKSet(published.get().stream().map(JWK::toPublicJWK).toList()).toString();
          },
          REFRESH,
          nanos::get);

  @Test
  void aTokenTheClusterSignedIsValidAndTheKeysAreReadOnce() {
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
    assertThat(fetches.get()).isEqualTo(1);
  }

  @Test
  void aTokenSignedByAnotherKeyUnderTheClustersKeyIdIsInvalid() {
    assertThat(keys.check(signed(OTHER_UNDER_THE_SAME_ID))).isEqualTo(Verdict.INVALID);
  }

  @Test
  void unsecuredAndSymmetricallySignedTokensAreInvalid() throws Exception {
    assertThat(keys.check(new PlainJWT(claims()))).isEqualTo(Verdict.INVALID);

    // HS256 "signed" with the cluster's public key as the secret: the classic confusion.
    SignedJWT confused =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("cluster-key").build(), claims());
    confused.sign(new MACSigner(CLUSTER.toRSAPublicKey().getEncoded()));
    assertThat(keys.check(confused)).isEqualTo(Verdict.INVALID);
  }

  @Test
  void madeUpKeyIdsAreInvalidAndCostOneReadOfTheKeysPerInterval() {
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
    for (int i = 0; i < 50; i++) {
      assertThat(keys.check(signedAs(OTHER_UNDER_THE_SAME_ID, "made-up-" + i)))
          .isEqualTo(Verdict.INVALID);
    }
    assertThat(fetches.get()).isEqualTo(1);

    nanos.addAndGet(REFRESH.toNanos());
    for (int i = 0; i < 50; i++) {
      assertThat(keys.check(signedAs(OTHER_UNDER_THE_SAME_ID, "made-up-again-" + i)))
          .isEqualTo(Verdict.INVALID);
    }
    assertThat(fetches.get()).isEqualTo(2);
  }

  @Test
  void aKeyTheClusterRotatedInIsReadOnItsFirstToken() {
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
    ECKey rotated = ec("rotated-key");
    published.set(List.of(CLUSTER, rotated));
    nanos.addAndGet(REFRESH.toNanos());

    assertThat(keys.check(signed(rotated))).isEqualTo(Verdict.VALID);
    assertThat(fetches.get()).isEqualTo(2);
  }

  @Test
  void tokensArrivingWhileTheFirstKeysAreReadWaitForThem() throws Exception {
    CountDownLatch reading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ClusterSigningKeys slow =
        new ClusterSigningKeys(
            () -> {
              fetches.incrementAndGet();
              reading.countDown();
              assertThat(release.await(10, TimeUnit.SECONDS)).isTrue();
              return new JWKSet(CLUSTER.toPublicJWK()).toString();
            },
            REFRESH,
            nanos::get);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Verdict>> verdicts = new ArrayList<>();
      verdicts.add(pool.submit(() -> slow.check(signed(OTHER_UNDER_THE_SAME_ID))));
      assertThat(reading.await(10, TimeUnit.SECONDS)).isTrue();
      for (int i = 0; i < 3; i++) {
        verdicts.add(pool.submit(() -> slow.check(signed(OTHER_UNDER_THE_SAME_ID))));
      }
      release.countDown();
      for (Future<Verdict> verdict : verdicts) {
        assertThat(verdict.get(10, TimeUnit.SECONDS)).isEqualTo(Verdict.INVALID);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(fetches.get()).isEqualTo(1);
  }

  @Test
  void whileTheKeysCannotBeReadTokensAreLeftToTheirReview() {
    failure.set(new IllegalStateException("403 Forbidden"));
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.UNCHECKED);
    assertThat(keys.check(signed(OTHER_UNDER_THE_SAME_ID))).isEqualTo(Verdict.UNCHECKED);
    assertThat(fetches.get()).isEqualTo(1);

    failure.set(null);
    nanos.addAndGet(REFRESH.toNanos());
    assertThat(keys.check(signed(OTHER_UNDER_THE_SAME_ID))).isEqualTo(Verdict.INVALID);
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
  }

  @Test
  void anUnknownKeyIdAfterAFailedReadIsLeftToItsReview() {
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
    failure.set(new IllegalStateException("connection refused"));
    nanos.addAndGet(REFRESH.toNanos());

    assertThat(keys.check(signedAs(OTHER_UNDER_THE_SAME_ID, "new-key")))
        .isEqualTo(Verdict.UNCHECKED);
    assertThat(keys.check(signed(CLUSTER))).isEqualTo(Verdict.VALID);
  }

  /** Signed with {@code key}, naming {@code keyId} as its key. */
  private static SignedJWT signedAs(RSAKey key, String keyId) {
    try {
      SignedJWT jwt =
          new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(keyId).build(), claims());
      jwt.sign(new RSASSASigner(key));
      return jwt;
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  private static SignedJWT signed(JWK key) {
    if (key instanceof RSAKey rsa) {
      return signedAs(rsa, rsa.getKeyID());
    }
    try {
      ECKey ec = (ECKey) key;
      SignedJWT jwt =
          new SignedJWT(
              new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(ec.getKeyID()).build(), claims());
      jwt.sign(new ECDSASigner(ec));
      return jwt;
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JWTClaimsSet claims() {
    return new JWTClaimsSet.Builder()
        .issuer("https://kubernetes.default.svc.cluster.local")
        .subject("system:serviceaccount:public:application")
        .expirationTime(Date.from(Instant.now().plusSeconds(600)))
        .build();
  }

  private static RSAKey rsa(String keyId) {
    try {
      return new RSAKeyGenerator(2048).keyID(keyId).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ECKey ec(String keyId) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(keyId).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }
}
