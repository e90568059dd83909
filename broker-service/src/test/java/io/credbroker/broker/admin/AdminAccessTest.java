package io.credbroker.broker.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.BearerToken;
import io.credbroker.broker.auth.KubernetesUser;
import io.credbroker.broker.auth.UserTokenReviewer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class AdminAccessTest {

  private static final KubernetesUser SRE =
      new KubernetesUser(
          "system:serviceaccount:ops:sre", "uid-1", List.of("system:serviceaccounts"), Map.of());

  private final AtomicLong nanos = new AtomicLong();
  private final RecordingUserReviewer users = new RecordingUserReviewer();
  private final RecordingAccessReviewer rbac = new RecordingAccessReviewer();
  private final AdminAccess access =
      new AdminAccess(
          users,
          rbac,
          List.of(),
          Duration.ofSeconds(10),
          Duration.ofSeconds(5),
          Clock.systemUTC(),
          nanos::get);

  @Test
  void callWithoutBearerTokenIsUnauthenticatedWithoutAskingKubernetes() {
    assertReason(() -> access.authenticate(null), Reason.TOKEN_MISSING);
    assertReason(() -> access.authenticate("Basic dXNlcjpwdw=="), Reason.TOKEN_MISSING);
    assertThat(users.calls).isEmpty();
  }

  @Test
  void rejectedTokenIsUnauthenticatedAndTheRejectionIsCached() {
    users.answer = null;

    assertReason(() -> access.authenticate("Bearer forged"), Reason.TOKEN_REJECTED);
    assertReason(() -> access.authenticate("Bearer forged"), Reason.TOKEN_REJECTED);

    assertThat(users.calls).hasSize(1);
  }

  @Test
  void operatorTokenIsReviewedForTheApiServersOwnAudience() {
    users.answer = SRE;

    assertThat(access.authenticate("Bearer sre-token")).isEqualTo(SRE);

    assertThat(users.audiences).containsExactly(List.of());
  }

  @Test
  void rbacDecisionIsCachedForItsTtlThenAskedAgain() {
    rbac.allowed = true;

    assertThat(access.authorize(SRE, AdminVerb.REVOKE, "public").username())
        .isEqualTo(SRE.username());
    access.authorize(SRE, AdminVerb.REVOKE, "public");
    assertThat(rbac.questions).hasSize(1);

    nanos.addAndGet(Duration.ofSeconds(6).toNanos());
    access.authorize(SRE, AdminVerb.REVOKE, "public");
    assertThat(rbac.questions).hasSize(2);
  }

  @Test
  void deniedVerbIsAccessDeniedNamingVerbAndNamespace() {
    rbac.allowed = false;

    assertThatThrownBy(() -> access.authorize(SRE, AdminVerb.REVOKE, "payments"))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.ACCESS_DENIED);
              assertThat(e.getMessage())
                  .contains("revoke", "credentials.credbroker.io", "payments");
            });
  }

  @Test
  void questionsDifferingInVerbOrNamespaceAreAskedSeparately() {
    rbac.allowed = true;

    access.authorize(SRE, AdminVerb.LIST, null);
    access.authorize(SRE, AdminVerb.LIST, "public");
    access.authorize(SRE, AdminVerb.GET, "public");

    assertThat(rbac.questions).containsExactly("list@*", "list@public", "get@public");
  }

  @Test
  void kubernetesOutageIsNotCached() {
    rbac.unavailable.set(true);
    assertReason(
        () -> access.authorize(SRE, AdminVerb.GET, "public"), Reason.KUBERNETES_UNAVAILABLE);

    rbac.unavailable.set(false);
    rbac.allowed = true;
    assertThat(access.authorize(SRE, AdminVerb.GET, "public").username()).isEqualTo(SRE.username());
  }

  private static void assertReason(Runnable call, Reason reason) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(reason));
  }

  private static final class RecordingUserReviewer implements UserTokenReviewer {
    final List<BearerToken> calls = new CopyOnWriteArrayList<>();
    final List<List<String>> audiences = new CopyOnWriteArrayList<>();
    @Nullable KubernetesUser answer;

    @Override
    public @Nullable KubernetesUser reviewUser(BearerToken token, List<String> audiences) {
      calls.add(token);
      this.audiences.add(audiences);
      return answer;
    }
  }

  private static final class RecordingAccessReviewer implements AccessReviewer {
    final List<String> questions = new ArrayList<>();
    final AtomicBoolean unavailable = new AtomicBoolean();
    boolean allowed;

    @Override
    public boolean allowed(KubernetesUser user, AdminVerb verb, @Nullable String namespace) {
      if (unavailable.get()) {
        throw new BrokerException(
            Reason.KUBERNETES_UNAVAILABLE, "down", Duration.ofSeconds(1), null);
      }
      questions.add(verb.rbacName() + "@" + (namespace == null ? "*" : namespace));
      return allowed;
    }
  }
}
