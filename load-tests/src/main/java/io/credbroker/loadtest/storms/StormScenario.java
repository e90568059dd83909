package io.credbroker.loadtest.storms;

import io.credbroker.loadtest.stack.BrokerProcess;
import io.credbroker.loadtest.stack.Cleanup;
import io.credbroker.loadtest.stack.LoadStack;
import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** What the storm scenarios share: their stack, progress output, connections and cleanup. */
abstract class StormScenario {

  final LoadStack stack;
  final PrintStream progress;

  StormScenario(LoadStack stack, PrintStream progress) {
    this.stack = stack;
    this.progress = progress;
  }

  /** Runs the storm and its cleanup; blocks until both are done. */
  public abstract StormReport run();

  /**
   * {@code perReplica} connections to each replica, interleaved: connection {@code i} goes to
   * replica {@code i mod R}. The caller shuts them down.
   */
  final List<ManagedChannel> connectionsToEachReplica(int perReplica) {
    List<ManagedChannel> channels = new ArrayList<>();
    for (int c = 0; c < perReplica; c++) {
      for (BrokerProcess b : stack.brokers()) {
        channels.add(b.newChannel());
      }
    }
    return channels;
  }

  /**
   * Closes every pod's client (each releases its credential through the broker), then sweeps what
   * is left in Vault; returns the cleanup's summary, which ends with the dynamic roles left.
   */
  final String releaseAll(StormPods pods, Duration sweepTimeout) {
    progress.printf("%s: releasing every credential%n", getClass().getSimpleName());
    pods.close();
    return Cleanup.revokeAll(stack, List.of(), List.of(), sweepTimeout, true).render();
  }
}
