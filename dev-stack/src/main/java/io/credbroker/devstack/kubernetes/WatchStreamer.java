package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.HttpResponse;
import io.credbroker.devstack.http.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Writes one watch to its client: each event as one line of JSON ({@code
 * {"type":...,"object":...}}, the real server's JSON watch framing, newline-delimited), flushed at
 * once so it goes out as a chunk.
 *
 * <p>The response ends after {@code timeout} (the request's {@code timeoutSeconds}), when the watch
 * ends (a 410 ERROR event, or a watcher too far behind), when a write fails because the client went
 * away, or when the endpoint closes and interrupts the worker. With {@code
 * allowWatchBookmarks=true} a BOOKMARK is sent every {@code bookmarkInterval} and once more just
 * before the timeout, so a client can resume from a recent resourceVersion even when nothing it
 * watches changed; the real server sends them about once a minute and before the timeout, and
 * clients must not rely on when.
 *
 * <p>Used by one worker thread.
 */
final class WatchStreamer implements HttpResponse.Streamer {

  private final ClusterStore store;
  private final Watch watch;
  private final Duration timeout;
  private final @Nullable Duration bookmarkInterval;

  WatchStreamer(
      ClusterStore store, Watch watch, Duration timeout, @Nullable Duration bookmarkInterval) {
    this.store = store;
    this.watch = watch;
    this.timeout = timeout;
    this.bookmarkInterval = bookmarkInterval;
  }

  @Override
  public void writeTo(OutputStream out) throws IOException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    long nextBookmark =
        bookmarkInterval == null ? Long.MAX_VALUE : start + bookmarkInterval.toNanos();
    try {
      while (true) {
        ObjectNode event = watch.pollNow();
        if (event == null) {
          if (watch.ended()) {
            return;
          }
          long now = System.nanoTime();
          if (now - deadline >= 0) {
            if (bookmarkInterval != null) {
              store.bookmark(watch);
              drain(out);
            }
            return;
          }
          if (now - nextBookmark >= 0) {
            store.bookmark(watch);
            nextBookmark = now + bookmarkInterval.toNanos();
            continue;
          }
          long wait = Math.min(deadline - now, nextBookmark - now);
          event = watch.poll(Duration.ofNanos(wait).toMillis() + 1);
          if (event == null) {
            continue;
          }
        }
        write(out, event);
        drain(out);
        out.flush();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      store.cancel(watch);
    }
  }

  private void drain(OutputStream out) throws IOException {
    for (ObjectNode event = watch.pollNow(); event != null; event = watch.pollNow()) {
      write(out, event);
    }
    out.flush();
  }

  private static void write(OutputStream out, ObjectNode event) throws IOException {
    out.write(Json.MAPPER.writeValueAsBytes(event));
    out.write('\n');
  }
}
