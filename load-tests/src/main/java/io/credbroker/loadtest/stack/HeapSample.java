package io.credbroker.loadtest.stack;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The broker's heap and threads at one moment, right after a full collection. Immutable.
 *
 * @param histogram live objects per class
 * @param heapUsedBytes what the broker's own {@code jvm_memory_used_bytes{area="heap"}} said just
 *     after (includes whatever was allocated since the collection)
 * @param liveThreads {@code jvm_threads_live_threads}
 * @param threadGroups the largest groups of threads by name, numbers replaced by {@code #}
 */
public record HeapSample(
    ClassHistogram histogram,
    long heapUsedBytes,
    long liveThreads,
    Map<String, Integer> threadGroups) {

  public HeapSample {
    threadGroups = Collections.unmodifiableMap(new LinkedHashMap<>(threadGroups));
  }

  public long liveBytes() {
    return histogram.totalBytes();
  }
}
