package io.credbroker.broker.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.lease.ListSlice;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ListParametersTest {

  @Test
  void aCursorGivesBackThePositionOfTheLastItemOfItsPage() {
    Instant time = Instant.parse("2026-12-02T21:00:00.123456Z");
    UUID id = UUID.randomUUID();
    ListSlice first =
        ListParameters.slice(ListParameters.Kind.CREDENTIALS, null, null, null, 2, 1000);

    ListParameters.Page<String> page =
        ListParameters.page(
            ListParameters.Kind.CREDENTIALS,
            List.of("a", "b", "c"),
            first,
            item -> new ListSlice.Position(time, id.toString()));
    ListSlice next =
        ListParameters.slice(
            ListParameters.Kind.CREDENTIALS, null, null, page.nextCursor(), 2, 1000);

    assertThat(page.items()).containsExactly("a", "b");
    assertThat(next.after()).isEqualTo(new ListSlice.Position(time, id.toString()));
  }

  @Test
  void theLastPageHasNoCursor() {
    ListSlice slice =
        ListParameters.slice(ListParameters.Kind.AUDIT_EVENTS, null, null, null, 2, 1000);

    assertThat(
            ListParameters.page(
                    ListParameters.Kind.AUDIT_EVENTS, List.of("a", "b"), slice, x -> null)
                .nextCursor())
        .isNull();
  }

  @Test
  void aCursorOfAnotherListOrATamperedOneIsRefused() {
    String credentials =
        ListParameters.cursor(
            ListParameters.Kind.CREDENTIALS,
            new ListSlice.Position(Instant.EPOCH, UUID.randomUUID().toString()));
    String numeric =
        ListParameters.cursor(
            ListParameters.Kind.AUDIT_EVENTS, new ListSlice.Position(Instant.EPOCH, "1; DROP"));

    assertThatThrownBy(
            () ->
                ListParameters.slice(
                    ListParameters.Kind.AUDIT_EVENTS, null, null, credentials, 10, 1000))
        .isInstanceOf(BrokerException.class)
        .hasMessageContaining("cursor");
    assertThatThrownBy(
            () ->
                ListParameters.slice(
                    ListParameters.Kind.AUDIT_EVENTS, null, null, numeric, 10, 1000))
        .isInstanceOf(BrokerException.class);
    assertThatThrownBy(
            () ->
                ListParameters.slice(ListParameters.Kind.CREDENTIALS, null, null, "%%%", 10, 1000))
        .isInstanceOf(BrokerException.class);
  }

  @Test
  void theWindowMustBeRfc3339AndSinceBeforeUntil() {
    ListSlice window =
        ListParameters.slice(
            ListParameters.Kind.REVOCATION_QUEUE,
            "2026-01-01T01:00:00+01:00",
            "2026-01-02T00:00:00Z",
            null,
            10,
            1000);

    assertThat(window.since()).isEqualTo(Instant.parse("2026-01-01T00:00:00Z"));
    assertThatThrownBy(
            () ->
                ListParameters.slice(
                    ListParameters.Kind.REVOCATION_QUEUE, "yesterday", null, null, 10, 1000))
        .hasMessageContaining("since must be an RFC 3339 time");
    assertThatThrownBy(
            () ->
                ListParameters.slice(
                    ListParameters.Kind.REVOCATION_QUEUE,
                    "2026-01-02T00:00:00Z",
                    "2026-01-01T00:00:00Z",
                    null,
                    10,
                    1000))
        .hasMessageContaining("since must be before until");
  }
}
