package io.credbroker.broker.cli;

import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The pod a command acts on, typed as {@code namespace/pod} or as {@code pod} with {@code -n}. */
final class PodArgument {

  @Parameters(paramLabel = "POD", description = "<namespace>/<pod>, or <pod> with -n")
  String pod = "";

  @Option(
      names = {"-n", "--namespace"},
      description = "the pod's namespace")
  @Nullable String namespace;

  PodRef ref() {
    return PodRef.of(pod, namespace);
  }
}
