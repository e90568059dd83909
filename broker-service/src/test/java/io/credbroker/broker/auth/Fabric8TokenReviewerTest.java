package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class Fabric8TokenReviewerTest {

  @Test
  void podBoundReviewYieldsNamespaceServiceAccountPodNameAndUid() {
    TokenReview review =
        new TokenReviewBuilder()
            .withNewStatus()
            .withAuthenticated(true)
            .withAudiences("credbroker")
            .withNewUser()
            .withUsername("system:serviceaccount:public:application")
            .withExtra(
                Map.of(
                    Fabric8TokenReviewer.POD_NAME_EXTRA, List.of("app-7d9c"),
                    Fabric8TokenReviewer.POD_UID_EXTRA, List.of("4f1c-uid")))
            .endUser()
            .endStatus()
            .build();

    TokenReviewOutcome outcome = Fabric8TokenReviewer.toOutcome(review);

    assertThat(outcome.identity())
        .isEqualTo(new PodIdentity("public", "application", "app-7d9c", "4f1c-uid"));
    assertThat(outcome.audiences()).containsExactly("credbroker");
  }

  @Test
  void reviewWithoutPodExtrasYieldsAnUnboundIdentity() {
    TokenReview review =
        new TokenReviewBuilder()
            .withNewStatus()
            .withAuthenticated(true)
            .withAudiences("credbroker")
            .withNewUser()
            .withUsername("system:serviceaccount:public:application")
            .endUser()
            .endStatus()
            .build();

    PodIdentity identity = Fabric8TokenReviewer.toOutcome(review).identity();

    assertThat(identity).isNotNull();
    assertThat(identity.boundToPod()).isFalse();
  }

  @Test
  void unauthenticatedReviewIsARejection() {
    TokenReview review =
        new TokenReviewBuilder()
            .withNewStatus()
            .withError("[invalid bearer token, service account token has been invalidated]")
            .withNewUser()
            .endUser()
            .endStatus()
            .build();

    assertThat(Fabric8TokenReviewer.toOutcome(review).authenticated()).isFalse();
  }

  @Test
  void userThatIsNotAServiceAccountIsARejection() {
    TokenReview review =
        new TokenReviewBuilder()
            .withNewStatus()
            .withAuthenticated(true)
            .withAudiences("credbroker")
            .withNewUser()
            .withUsername("alice")
            .endUser()
            .endStatus()
            .build();

    assertThat(Fabric8TokenReviewer.toOutcome(review).authenticated()).isFalse();
  }

  @Test
  void userReviewThatConfirmsNoneOfTheRequestedAudiencesIsARejection() {
    TokenReview unaware =
        new TokenReviewBuilder()
            .withNewStatus()
            .withAuthenticated(true)
            .withNewUser()
            .withUsername("alice")
            .endUser()
            .endStatus()
            .build();
    TokenReview otherAudience =
        new TokenReviewBuilder(unaware).editStatus().withAudiences("vault").endStatus().build();
    TokenReview confirmed =
        new TokenReviewBuilder(unaware)
            .editStatus()
            .withAudiences("credbroker-admin")
            .endStatus()
            .build();

    assertThat(Fabric8TokenReviewer.toUser(unaware, List.of("credbroker-admin"))).isNull();
    assertThat(Fabric8TokenReviewer.toUser(otherAudience, List.of("credbroker-admin"))).isNull();
    assertThat(Fabric8TokenReviewer.toUser(confirmed, List.of("credbroker-admin")).username())
        .isEqualTo("alice");
    // No audience asked for: the API server's own audience is implied and nothing is to confirm.
    assertThat(Fabric8TokenReviewer.toUser(unaware, List.of()).username()).isEqualTo("alice");
  }
}
