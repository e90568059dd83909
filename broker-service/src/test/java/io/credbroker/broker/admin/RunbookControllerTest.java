package io.credbroker.broker.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;

/** The runbook as packaged with the broker, and each problem type's entry in it. */
class RunbookControllerTest {

  private final RunbookController runbook = new RunbookController();

  @Test
  void everyReasonHasARunbookEntryWithCauseAndFix() {
    for (Reason reason : Reason.values()) {
      ResponseEntity<String> entry = runbook.problemType(RunbookController.slug(reason.name()));

      assertThat(entry.getStatusCode().value()).as(reason.name()).isEqualTo(200);
      assertThat(entry.getBody())
          .as(reason.name())
          .startsWith("### Reason: " + reason.name() + "\n")
          .contains("**Cause:**")
          .contains("**Fix:**");
      // One entry, not the rest of the document.
      assertThat(entry.getBody().split("### Reason: ", -1)).as(reason.name()).hasSize(2);
    }
  }

  @Test
  void theTypeOfAProblemIsTheRunbookEntryOfItsReason() {
    ProblemDetail problem =
        new AdminProblemDetails()
            .brokerException(new BrokerException(Reason.POD_REVOKED, "revoked"))
            .getBody();
    URI type = problem.getType();

    assertThat(type.toString()).isEqualTo("/problems/pod-revoked");
    assertThat(runbook.problemType(type.getPath().substring("/problems/".length())).getBody())
        .startsWith("### Reason: POD_REVOKED");
  }

  @Test
  void unknownProblemTypeIsNotFound() {
    assertThat(runbook.problemType("no-such-reason").getStatusCode().value()).isEqualTo(404);
  }

  @Test
  void theWholeRunbookIsServedToo() {
    assertThat(runbook.runbook().getBody())
        .startsWith("# Credential broker runbook")
        .contains("## Alerts", "## Error reasons", "## Minimum Vault version");
  }

  @Test
  void aRunbookWithoutAnEntryForEveryReasonIsRefusedAtStartup() {
    assertThatThrownBy(
            () -> new RunbookController("# Runbook\n\n### Reason: TOKEN_MISSING\n\nCause.\n"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("TOKEN_MALFORMED");
  }
}
