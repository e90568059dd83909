package io.credbroker.broker.admin;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.lease.ListSlice;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The paging parameters of the admin API's lists: {@code since} and {@code until} (RFC 3339 times,
 * since inclusive, until exclusive), {@code limit}, and {@code cursor}, the opaque {@code
 * nextCursor} of the previous page. A cursor holds only where that page ended, so the next call
 * must repeat the same filters and window. Malformed values are a 400 that names the parameter.
 *
 * <p>Stateless.
 */
final class ListParameters {

  private static final String CURSOR_VERSION = "c1";

  /** The lists; a cursor of one is refused by another. */
  enum Kind {
    CREDENTIALS(true),
    AUDIT_EVENTS(false),
    REVOCATION_QUEUE(true);

    /** Items of the same time are ordered by a UUID, or else by a number. */
    private final boolean uuidKey;

    Kind(boolean uuidKey) {
      this.uuidKey = uuidKey;
    }
  }

  private ListParameters() {}

  static ListSlice slice(
      Kind kind,
      @Nullable String since,
      @Nullable String until,
      @Nullable String cursor,
      int limit,
      int max) {
    Instant from = time("since", since);
    Instant to = time("until", until);
    if (from != null && to != null && !from.isBefore(to)) {
      throw new BrokerException(Reason.INVALID_REQUEST, "since must be before until");
    }
    return new ListSlice(from, to, position(kind, cursor), KubernetesNames.limit(limit, max));
  }

  /**
   * The first {@code slice.limit()} of {@code rows} (read with one more than the limit) and, when
   * there were more, the cursor of the last one kept.
   */
  static <T> Page<T> page(
      Kind kind, List<T> rows, ListSlice slice, Function<T, ListSlice.Position> position) {
    if (rows.size() <= slice.limit()) {
      return new Page<>(rows, null);
    }
    List<T> items = new ArrayList<>(rows.subList(0, slice.limit()));
    return new Page<>(items, cursor(kind, position.apply(items.get(items.size() - 1))));
  }

  record Page<T>(List<T> items, @Nullable String nextCursor) {}

  static String cursor(Kind kind, ListSlice.Position position) {
    String plain = CURSOR_VERSION + "|" + kind + "|" + position.time() + "|" + position.key();
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(plain.getBytes(StandardCharsets.UTF_8));
  }

  private static ListSlice.@Nullable Position position(Kind kind, @Nullable String cursor) {
    if (cursor == null || cursor.isEmpty()) {
      return null;
    }
    try {
      String[] fields =
          new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8)
              .split("\\|", -1);
      if (fields.length == 4 && fields[0].equals(CURSOR_VERSION) && fields[1].equals(kind.name())) {
        // Parsed, so that only a well-formed key ever reaches the query.
        String key =
            kind.uuidKey
                ? UUID.fromString(fields[3]).toString()
                : Long.toString(Long.parseLong(fields[3]));
        return new ListSlice.Position(Instant.parse(fields[2]), key);
      }
    } catch (IllegalArgumentException | DateTimeParseException e) {
      // the clear message below
    }
    throw new BrokerException(
        Reason.INVALID_REQUEST, "cursor must be a nextCursor this API returned, unchanged");
  }

  private static @Nullable Instant time(String parameter, @Nullable String value) {
    if (value == null || value.isEmpty()) {
      return null;
    }
    try {
      return java.time.OffsetDateTime.parse(value).toInstant();
    } catch (DateTimeParseException e) {
      throw new BrokerException(
          Reason.INVALID_REQUEST,
          parameter + " must be an RFC 3339 time with an offset, e.g. 2026-01-31T23:00:00Z");
    }
  }
}
