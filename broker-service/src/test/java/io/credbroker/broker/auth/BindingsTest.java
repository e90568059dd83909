package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BindingsTest {

  private static final ConnectionHints HINTS =
      new ConnectionHints("127.0.0.1", 5432, "db1", "disable");
  private static final Binding DB1 =
      new Binding("db1", "database", "db1", Set.of("public"), Set.of("application"), HINTS);
  private final Bindings bindings = new Bindings(List.of(DB1));

  @Test
  void boundServiceAccountObtainsItsRole() {
    PodIdentity pod = new PodIdentity("public", "application", "app-1", "uid-1");

    assertThat(bindings.authorize(pod, "db1")).isEqualTo(DB1);
  }

  @Test
  void serviceAccountOfAnotherNamespaceIsDenied() {
    PodIdentity pod = new PodIdentity("other", "application", "app-1", "uid-1");

    assertThatThrownBy(() -> bindings.authorize(pod, "db1"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_BOUND));
  }

  @Test
  void unlistedServiceAccountInABoundNamespaceIsDenied() {
    PodIdentity pod = new PodIdentity("public", "default", "app-1", "uid-1");

    assertThatThrownBy(() -> bindings.authorize(pod, "db1"))
        .isInstanceOfSatisfying(
            BrokerException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_BOUND));
  }

  @Test
  void roleThatNoBindingNamesIsNotFound() {
    PodIdentity pod = new PodIdentity("public", "application", "app-1", "uid-1");

    assertThatThrownBy(() -> bindings.authorize(pod, "db2"))
        .isInstanceOfSatisfying(
            BrokerException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.UNKNOWN_DATABASE_ROLE));
  }

  @Test
  void withoutBindingsEveryoneIsRefused() {
    PodIdentity pod = new PodIdentity("public", "application", "app-1", "uid-1");

    assertThatThrownBy(() -> new Bindings(List.of()).authorize(pod, "db1"))
        .isInstanceOf(BrokerException.class);
  }

  @Test
  void bindingTheSameRoleTwiceIsAConfigurationError() {
    assertThatThrownBy(() -> new Bindings(List.of(DB1, DB1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("db1");
  }

  @Test
  void connectionHintsBuildAJdbcUrlWithoutCredentials() {
    assertThat(HINTS.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:5432/db1?sslmode=disable");
  }
}
