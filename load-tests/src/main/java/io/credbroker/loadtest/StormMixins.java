package io.credbroker.loadtest;

import io.credbroker.loadtest.storms.FailoverScenario;
import io.credbroker.loadtest.storms.RenewalScenario;
import io.credbroker.loadtest.storms.RolloutScenario;
import java.time.Duration;
import picocli.CommandLine.Option;

/** The storm scenarios' options, and what their stacks use by default. */
final class StormMixins {

  private StormMixins() {}

  /** The renewal scenario's default credential TTL: short, so renewals run all the time. */
  static final Duration RENEWAL_TTL = Duration.ofSeconds(30);

  static final class RolloutMixin {
    @Option(
        names = "--pods",
        defaultValue = "2000",
        description = "Pods that start (default ${DEFAULT-VALUE})")
    int pods = 2000;

    @Option(
        names = "--window",
        defaultValue = "10s",
        converter = DurationConverter.class,
        description = "The time over which they start (default ${DEFAULT-VALUE})")
    Duration window = Duration.ofSeconds(10);

    @Option(
        names = "--connections-per-replica",
        defaultValue = "20",
        description = "Connections to each replica the pods share (default ${DEFAULT-VALUE})")
    int connectionsPerReplica = 20;

    @Option(
        names = "--ceiling-samples",
        defaultValue = "200",
        description = "Direct Vault creations measuring its ceiling (default ${DEFAULT-VALUE})")
    int ceilingSamples = 200;

    @Option(
        names = "--await-untracked-roles",
        defaultValue = "0s",
        converter = DurationConverter.class,
        description =
            "Once every pod holds, wait up to this long for the roles beyond one per pod (creations"
                + " that timed out in the broker while Vault still made them) to be revoked by the"
                + " broker's lease reconciler; shorten credbroker.lease.reconcile.interval and grace"
                + " with --broker-property to see it (default ${DEFAULT-VALUE}: no wait)")
    Duration awaitUntrackedRoles = Duration.ZERO;

    @Option(
        names = "--replace",
        description =
            "A rolling update: as many pods already hold a credential, and one of them shuts down"
                + " (releases its credential, its pod is deleted) as each new pod starts")
    boolean replace;

    RolloutScenario.Options options(Duration maxDuration) {
      return new RolloutScenario.Options(
          pods,
          window,
          connectionsPerReplica,
          ceilingSamples,
          maxDuration,
          awaitUntrackedRoles,
          replace);
    }
  }

  static final class FailoverMixin {
    @Option(
        names = "--streams",
        defaultValue = "5000",
        description = "Streams on the replica that is killed (default ${DEFAULT-VALUE})")
    int streams = 5000;

    @Option(
        names = "--connections",
        defaultValue = "100",
        description =
            "Connections the pods share, each to every replica (default ${DEFAULT-VALUE})")
    int connections = 100;

    @Option(
        names = "--open-concurrency",
        defaultValue = "32",
        description = "Pods waiting for their first credential at once (default ${DEFAULT-VALUE})")
    int openConcurrency = 32;

    FailoverScenario.Options options(Duration maxDuration) {
      return new FailoverScenario.Options(streams, connections, openConcurrency, maxDuration);
    }
  }

  static final class RenewalsMixin {
    @Option(
        names = "--credentials",
        defaultValue = "20000",
        description = "Live credentials, one pod and stream each (default ${DEFAULT-VALUE})")
    int credentials = 20_000;

    @Option(
        names = "--connections-per-replica",
        defaultValue = "100",
        description = "Connections to each replica the pods share (default ${DEFAULT-VALUE})")
    int connectionsPerReplica = 100;

    @Option(
        names = "--open-concurrency",
        defaultValue = "32",
        description = "Pods waiting for their first credential at once (default ${DEFAULT-VALUE})")
    int openConcurrency = 32;

    @Option(
        names = "--measure",
        defaultValue = "2m",
        converter = DurationConverter.class,
        description = "How long the steady state is observed (default ${DEFAULT-VALUE})")
    Duration measure = Duration.ofMinutes(2);

    @Option(
        names = "--ceiling-samples",
        defaultValue = "500",
        description = "Direct Vault renewals measuring its ceiling (default ${DEFAULT-VALUE})")
    int ceilingSamples = 500;

    RenewalScenario.Options options(Duration maxDuration) {
      return new RenewalScenario.Options(
          credentials,
          connectionsPerReplica,
          openConcurrency,
          measure,
          ceilingSamples,
          maxDuration);
    }
  }
}
