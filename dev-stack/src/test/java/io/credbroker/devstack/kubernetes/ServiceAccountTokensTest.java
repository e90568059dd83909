package io.credbroker.devstack.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServiceAccountTokensTest {

  @TempDir Path stateDir;

  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private ClusterStore store;
  private ServiceAccountTokens tokens;
  private String saUid;

  @BeforeEach
  void setUp() {
    store = new ClusterStore(clock);
    store.create(ResourceKind.NAMESPACE, null, named("prod", null));
    saUid =
        store
            .create(ResourceKind.SERVICE_ACCOUNT, "prod", named("payments", "prod"))
            .at("/metadata/uid")
            .asText();
    tokens = ServiceAccountTokens.loadOrCreate(stateDir, store, clock);
  }

  @Test
  void expiredTokenIsAcceptedWithinTheSixtySecondLeewayAndRejectedAfter() {
    String token = issue(List.of("vault"), Duration.ofMinutes(10));

    clock.advance(Duration.ofMinutes(10).plusSeconds(59));
    assertThat(tokens.review(token, List.of("vault")).isAuthenticated()).isTrue();

    clock.advance(Duration.ofSeconds(2));
    assertThat(tokens.review(token, List.of("vault")).error())
        .isEqualTo("[invalid bearer token, service account token has expired]");
  }

  @Test
  void reviewIntersectsTargetAudiencesWithTheTokens() {
    String token = issue(List.of("vault", "credbroker"), Duration.ofMinutes(10));

    TokenReviewOutcome outcome = tokens.review(token, List.of("credbroker", "other"));

    assertThat(outcome.audiences()).containsExactly("credbroker");
    assertThat(outcome.user().uid()).isEqualTo(saUid);
    assertThat(outcome.user().extra()).doesNotContainKey("authentication.kubernetes.io/pod-name");
  }

  @Test
  void deletedServiceAccountInvalidatesItsTokens() {
    String token = issue(List.of("vault"), Duration.ofMinutes(10));

    store.delete(ResourceKind.SERVICE_ACCOUNT, "prod", "payments");

    assertThat(tokens.review(token, List.of("vault")).error())
        .isEqualTo("[invalid bearer token, serviceaccounts \"payments\" not found]");
  }

  @Test
  void recreatedServiceAccountDoesNotAcceptTheOldAccountsTokens() {
    String token = issue(List.of("vault"), Duration.ofMinutes(10));
    store.delete(ResourceKind.SERVICE_ACCOUNT, "prod", "payments");
    String newUid =
        store
            .create(ResourceKind.SERVICE_ACCOUNT, "prod", named("payments", "prod"))
            .at("/metadata/uid")
            .asText();

    assertThat(tokens.review(token, List.of("vault")).error())
        .isEqualTo(
            "[invalid bearer token, service account UID ("
                + newUid
                + ") does not match claim ("
                + saUid
                + ")]");
  }

  @Test
  void garbageIsNotClaimedByAnyAuthenticator() {
    assertThat(tokens.review("not-a-jwt", List.of("vault")).error())
        .isEqualTo("invalid bearer token");
  }

  @Test
  void signingKeySurvivesARestartSoJwksStaysValid() {
    String token = issue(List.of("vault"), Duration.ofMinutes(10));

    ServiceAccountTokens reloaded = ServiceAccountTokens.loadOrCreate(stateDir, store, clock);

    assertThat(reloaded.jwksJson()).isEqualTo(tokens.jwksJson());
    assertThat(reloaded.review(token, List.of("vault")).isAuthenticated()).isTrue();
  }

  @Test
  void issuedTokenDoesNotPrintItsSecret() {
    IssuedToken issued =
        tokens.issue(
            "prod", "payments", saUid, null, null, List.of("vault"), Duration.ofMinutes(10));

    assertThat(issued.toString()).doesNotContain(issued.token()).contains("<redacted>");
  }

  private String issue(List<String> audiences, Duration ttl) {
    return tokens.issue("prod", "payments", saUid, null, null, audiences, ttl).token();
  }

  private static ObjectNode named(String name, String namespace) {
    ObjectNode object = Json.MAPPER.createObjectNode();
    ObjectNode metadata = object.putObject("metadata").put("name", name);
    if (namespace != null) {
      metadata.put("namespace", namespace);
    }
    return object;
  }

  /** A clock the test moves by hand. */
  static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void advance(Duration by) {
      now = now.plus(by);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
