package io.credbroker.broker.cli;

import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** The namespace filter the lists share ({@code -n}): unset lists every namespace one may list. */
final class NamespaceFilter {

  @Option(
      names = {"-n", "--namespace"},
      description = "only this namespace (default: all you may list)")
  @Nullable String namespace;
}
