package io.credbroker.broker.lease;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Which part of a time-ordered list to read: a time window, where the previous page ended, and how
 * many items at most. Lists are read by keyset (time, then a unique key), so a page stays right
 * while rows are added or removed elsewhere in the list.
 *
 * @param since only items at or after this time, or {@code null}
 * @param until only items before this time, or {@code null}
 * @param after the last item of the previous page, or {@code null} for the first page
 * @param limit at most this many items
 */
public record ListSlice(
    @Nullable Instant since, @Nullable Instant until, @Nullable Position after, int limit) {

  public ListSlice {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be positive");
    }
    if (since != null && until != null && !since.isBefore(until)) {
      throw new IllegalArgumentException("since must be before until");
    }
  }

  /** The first {@code limit} items, at any time. */
  public static ListSlice first(int limit) {
    return new ListSlice(null, null, null, limit);
  }

  /** The same window and position, one more item: tells whether another page follows. */
  public ListSlice oneMore() {
    return new ListSlice(since, until, after, limit + 1);
  }

  /**
   * Binds {@code :since}, {@code :until}, {@code :afterTime}, {@code :afterKey} and {@code :limit},
   * for SQL that writes each optional bound as {@code CAST(:p AS timestamptz) IS NULL OR ...}.
   */
  public JdbcClient.StatementSpec bind(JdbcClient.StatementSpec statement) {
    return statement
        .param("since", utc(since))
        .param("until", utc(until))
        .param("afterTime", after == null ? null : utc(after.time()))
        .param("afterKey", after == null ? null : after.key())
        .param("limit", limit);
  }

  private static @Nullable OffsetDateTime utc(@Nullable Instant time) {
    return time == null ? null : OffsetDateTime.ofInstant(time, ZoneOffset.UTC);
  }

  /**
   * Where a page ended: the time the list is ordered by and the key that orders items of the same
   * time.
   */
  public record Position(Instant time, String key) {
    public Position {
      Objects.requireNonNull(time, "time");
      Objects.requireNonNull(key, "key");
    }
  }
}
