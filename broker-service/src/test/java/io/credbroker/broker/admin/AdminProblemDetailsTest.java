package io.credbroker.broker.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import java.net.URI;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.jdbc.CannotGetJdbcConnectionException;

class AdminProblemDetailsTest {

  private final AdminProblemDetails problems = new AdminProblemDetails();

  @Test
  void everyReasonMapsToTheStatusOfItsCategory() {
    assertThat(status(Reason.TOKEN_MISSING)).isEqualTo(401);
    assertThat(status(Reason.TOKEN_REJECTED)).isEqualTo(401);
    assertThat(status(Reason.ACCESS_DENIED)).isEqualTo(403);
    assertThat(status(Reason.POD_NOT_FOUND)).isEqualTo(404);
    assertThat(status(Reason.CREDENTIAL_NOT_FOUND)).isEqualTo(404);
    assertThat(status(Reason.INVALID_REQUEST)).isEqualTo(400);
    assertThat(status(Reason.KUBERNETES_UNAVAILABLE)).isEqualTo(503);
    assertThat(status(Reason.STATE_STORE_UNAVAILABLE)).isEqualTo(503);
    assertThat(status(Reason.INTERNAL)).isEqualTo(500);
    for (Reason reason : Reason.values()) {
      assertThat(status(reason)).as(reason.name()).isBetween(400, 599);
    }
  }

  @Test
  void problemCarriesReasonTypeAndTheCallersMessage() {
    ResponseEntity<ProblemDetail> response =
        problems.brokerException(
            new BrokerException(Reason.POD_NOT_FOUND, "no record of pod public/x"));

    ProblemDetail problem = response.getBody();
    assertThat(problem.getDetail()).isEqualTo("no record of pod public/x");
    assertThat(problem.getType()).isEqualTo(URI.create("/problems/pod-not-found"));
    assertThat(problem.getProperties()).containsEntry("reason", "POD_NOT_FOUND");
  }

  @Test
  void unauthenticatedAnswerNamesTheBearerScheme() {
    ResponseEntity<ProblemDetail> response =
        problems.brokerException(new BrokerException(Reason.TOKEN_MISSING, "missing"));

    assertThat(response.getHeaders().getFirst(HttpHeaders.WWW_AUTHENTICATE)).isEqualTo("Bearer");
  }

  @Test
  void unavailableAnswerSaysWhenToRetry() {
    ResponseEntity<ProblemDetail> response =
        problems.brokerException(
            new BrokerException(
                Reason.KUBERNETES_UNAVAILABLE, "down", Duration.ofMillis(1500), null));

    assertThat(response.getHeaders().getFirst(HttpHeaders.RETRY_AFTER)).isEqualTo("1");
  }

  @Test
  void aStateDatabaseFailureIsUnavailableWithARetryNotAnInternalError() {
    ResponseEntity<ProblemDetail> response =
        problems.stateStoreFailure(
            new CannotGetJdbcConnectionException(
                "Failed to obtain JDBC Connection", new SQLException("connection refused")));

    assertThat(response.getStatusCode().value()).isEqualTo(503);
    assertThat(response.getBody().getProperties())
        .containsEntry("reason", "STATE_STORE_UNAVAILABLE");
    assertThat(response.getHeaders().getFirst(HttpHeaders.RETRY_AFTER)).isEqualTo("5");
  }

  @Test
  void unexpectedFailureNeverShowsItsMessage() {
    ResponseEntity<ProblemDetail> response =
        problems.unexpected(new IllegalStateException("password=hunter2 in a stack"));

    assertThat(response.getStatusCode().value()).isEqualTo(500);
    assertThat(response.getBody().getDetail()).isEqualTo("internal error");
    assertThat(response.getBody().toString()).doesNotContain("hunter2");
  }

  private int status(Reason reason) {
    return problems.brokerException(new BrokerException(reason, "x")).getStatusCode().value();
  }
}
