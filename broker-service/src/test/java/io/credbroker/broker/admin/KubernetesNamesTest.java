package io.credbroker.broker.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.BrokerException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class KubernetesNamesTest {

  @Test
  void validNamesPassUnchanged() {
    assertThat(KubernetesNames.namespace("team-payments")).isEqualTo("team-payments");
    assertThat(KubernetesNames.podName("payments-7d9c-x2k")).isEqualTo("payments-7d9c-x2k");
    assertThat(KubernetesNames.podName("web.v2-0")).isEqualTo("web.v2-0");
    assertThat(KubernetesNames.optionalNamespace("")).isNull();
    assertThat(KubernetesNames.optionalUsername("v-kubernetes-db1-AbC123"))
        .isEqualTo("v-kubernetes-db1-AbC123");
  }

  @ParameterizedTest
  @ValueSource(strings = {"Public", "-ns", "ns-", "n_s", "a.b", "ns/x", "ns%2Fx"})
  void malformedNamespaceIsAnInvalidRequest(String name) {
    assertInvalid(() -> KubernetesNames.namespace(name));
  }

  @Test
  void namespaceLongerThan63CharactersIsAnInvalidRequest() {
    assertInvalid(() -> KubernetesNames.namespace("a".repeat(64)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"Pod", "-pod", "pod.", "pod..x", "pod_1", "pod x"})
  void malformedPodNameIsAnInvalidRequest(String name) {
    assertInvalid(() -> KubernetesNames.podName(name));
  }

  @Test
  void userNameWithQuotesOrSpacesIsAnInvalidRequest() {
    assertInvalid(() -> KubernetesNames.optionalUsername("x'; DROP TABLE credential;--"));
    assertInvalid(() -> KubernetesNames.optionalDatabaseRole("db 1"));
  }

  @Test
  void limitOutsideItsRangeIsAnInvalidRequest() {
    assertThat(KubernetesNames.limit(1000, 1000)).isEqualTo(1000);
    assertInvalid(() -> KubernetesNames.limit(0, 1000));
    assertInvalid(() -> KubernetesNames.limit(1001, 1000));
  }

  private static void assertInvalid(Runnable call) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(BrokerException.Reason.INVALID_REQUEST));
  }
}
