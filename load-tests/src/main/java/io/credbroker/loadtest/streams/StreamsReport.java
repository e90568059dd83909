package io.credbroker.loadtest.streams;

import io.credbroker.loadtest.report.LatencySummary;
import io.credbroker.loadtest.stack.ClassHistogram;
import io.credbroker.loadtest.stack.Cleanup;
import java.util.List;
import java.util.Map;

/**
 * The figures of one streams run. Immutable; serialised as the {@code streams} part of the JSON
 * report. Heap figures are live bytes after a full collection of the broker process.
 *
 * @param opened streams whose first event arrived
 * @param failed streams that ended before their first event
 * @param openSeconds from the first stream opened to the last first event
 * @param firstEvent time from opening a stream to its {@code issued} event (a TokenReview, a Vault
 *     read and a state insert each)
 * @param activeStreamsReported the broker's {@code credbroker_streams_active} with all streams open
 * @param beforePods after the warm-up, before the measured pods were created
 * @param baseline the broker before any connection of the run, once its watch held the pods
 * @param connected after the connections were made, before any stream
 * @param withStreams with every stream open
 * @param afterClose after every stream was cancelled and the broker saw it
 * @param bytesPerClusterPod (baseline − beforePods) / streams: what a pod of the cluster costs the
 *     broker before it connects (its watch of every pod)
 * @param bytesPerConnection (connected − baseline) / connections
 * @param bytesPerStream (withStreams − connected) / opened: the stream's own cost
 * @param bytesPerPodStream (withStreams − baseline) / opened: stream plus its share of connections
 * @param withinBudget whether {@code bytesPerStream} is at most the budget
 * @param projectedHeapBytesForTarget baseline + target streams × bytesPerPodStream
 * @param brokerMaxHeapBytes the broker's {@code -Xmx}
 * @param threadsPerStream (threads with streams − threads connected) / opened
 * @param schedulerEntriesAdded live scheduled-task objects ({@code *ScheduledFutureTask}, {@code
 *     *HashedWheelTimeout}) with streams minus connected
 * @param largestGrowth the classes whose live bytes grew most from connected to withStreams
 * @param largestConnectionGrowth the classes whose live bytes grew most from baseline to connected
 * @param eventsAfterFirst events received after each stream's first, by kind
 */
public record StreamsReport(
    StreamsOptions options,
    int connections,
    int opened,
    int failed,
    Map<String, Integer> failures,
    double podSetupSeconds,
    double openSeconds,
    LatencySummary firstEvent,
    long activeStreamsReported,
    Sample beforePods,
    Sample baseline,
    Sample connected,
    Sample withStreams,
    Sample afterClose,
    long bytesPerClusterPod,
    long bytesPerConnection,
    long bytesPerStream,
    long bytesPerPodStream,
    boolean withinBudget,
    long projectedHeapBytesForTarget,
    long brokerMaxHeapBytes,
    boolean targetFitsHeap,
    double threadsPerStream,
    long schedulerEntriesAdded,
    List<ClassHistogram.Delta> largestGrowth,
    List<ClassHistogram.Delta> largestConnectionGrowth,
    Map<String, Long> eventsAfterFirst,
    Cleanup.Report cleanup) {

  /**
   * The broker at one moment.
   *
   * @param liveBytes live heap after a full collection ({@code jcmd GC.class_histogram})
   * @param heapUsedBytes the broker's {@code jvm_memory_used_bytes{area="heap"}} right after
   * @param liveThreads {@code jvm_threads_live_threads}
   * @param schedulerEntries live scheduled-task objects
   * @param largestThreadGroups the broker's threads by name with numbers replaced by {@code #}
   */
  public record Sample(
      long liveBytes,
      long heapUsedBytes,
      long liveThreads,
      long schedulerEntries,
      Map<String, Integer> largestThreadGroups) {}
}
