package io.credbroker.loadtest;

import io.credbroker.loadtest.issuance.IssuanceReport;
import io.credbroker.loadtest.stack.ClassHistogram;
import io.credbroker.loadtest.streams.StreamsReport;
import java.util.List;
import java.util.Locale;

/** Renders a {@link RunReport} for people: the figures that answer the issues' budgets. */
final class SummaryText {

  private SummaryText() {}

  static String render(RunReport r) {
    StringBuilder out = new StringBuilder();
    line(out, "credential-broker load test, %s, %s", r.command(), r.startedAt());
    line(
        out,
        "machine: %d cores, Java %s, %s (client, broker, Vault stand-in and PostgreSQL share them)",
        r.machine().cores(),
        r.machine().javaVersion(),
        r.machine().os());
    line(
        out,
        "broker: jar %s (built %s), -Xmx%s; started in %.1f s (dev-stack %.1f s, setup %.1f s)",
        r.stack().brokerJarSha256(),
        r.stack().brokerJarModified(),
        r.stack().brokerHeap(),
        r.stack().startTimes().brokerSeconds(),
        r.stack().startTimes().devStackSeconds(),
        r.stack().startTimes().setupSeconds());
    if (r.issuance() != null) {
      issuance(out, r.issuance());
    }
    if (r.streams() != null) {
      streams(out, r.streams());
    }
    if (r.storm() != null) {
      line(out, "");
      line(out, "%s:", r.storm().scenario());
      r.storm().figures().forEach((name, value) -> line(out, "  %s: %s", name, value));
    }
    return out.toString();
  }

  private static void issuance(StringBuilder out, IssuanceReport r) {
    line(out, "");
    line(
        out,
        "issuance (%d requests per level, %d pods, warm-up %d):",
        r.options().requests(),
        r.options().pods(),
        Math.max(r.options().warmup(), r.options().pods()));
    for (IssuanceReport.Level l : r.levels()) {
      line(
          out,
          "  concurrency %d, %.1f s, %.1f pairs/s%s",
          l.concurrency(),
          l.seconds(),
          l.pairsPerSecond(),
          l.completed() ? "" : " (stopped at the time limit)");
      line(out, "    broker IssueCredential  %s", l.broker().render());
      line(out, "    Vault creds read        %s", l.vault().render());
      line(
          out,
          "    broker adds %+.2f ms at p50 (ratio %.2f); budget %.1f ms: %s",
          l.p50DifferenceMs(),
          l.p50Ratio(),
          r.options().budgetP50Ms(),
          l.withinBudget() ? "met" : "MISSED");
      IssuanceReport.BrokerSide b = l.brokerSide();
      line(
          out,
          "    inside the broker (means): call %.2f ms, its Vault read %.2f ms (p50 ~%.2f), state-store connection"
              + " held %.2f ms",
          b.grpcServerMeanMs(),
          b.vaultCredsMeanMs(),
          b.vaultCredsP50Ms(),
          b.jdbcUsageMeanMs());
      line(out, "    broker CPU: %s", cpu(l.brokerCpu(), "issuance"));
      line(
          out,
          "    failures: broker %d, Vault %d %s",
          l.brokerFailed(),
          l.vaultFailed(),
          l.failures().isEmpty() ? "" : l.failures().toString());
    }
    IssuanceReport.Releases rel = r.releases();
    line(
        out,
        "  releases at concurrency %d: %d released, %d failed %s in %.2f s",
        rel.concurrency(),
        rel.released(),
        rel.failed(),
        rel.failures().isEmpty() ? "" : rel.failures().toString(),
        rel.seconds());
    line(out, "    broker ReleaseCredential %s", rel.latency().render());
    line(
        out,
        "    broker CPU: %s; idle use %.2f ms/s",
        cpu(rel.brokerCpu(), "release"),
        rel.idleCpuMsPerSecond());
    IssuanceReport.TokenReviews t = r.tokenReviews();
    line(
        out,
        "  TokenReviews: %d for %d distinct tokens over %.1f s (cache window %.0f s, at most %d allowed): %s;"
            + " cache hits %d, misses %d",
        t.reviews(),
        t.distinctTokens(),
        t.elapsedSeconds(),
        t.cacheWindowSeconds(),
        t.allowedReviews(),
        t.withinBudget() ? "met" : "MISSED",
        t.cacheHits(),
        t.cacheMisses());
    line(out, "  cleanup: %s", r.cleanup().render());
  }

  private static void streams(StringBuilder out, StreamsReport r) {
    line(out, "");
    line(
        out, "streams (%d requested over %d connections):", r.options().streams(), r.connections());
    line(
        out,
        "  opened %d, failed %d %s; pods and tokens made in %.1f s; opened in %.1f s (%.0f streams/s)",
        r.opened(),
        r.failed(),
        r.failures().isEmpty() ? "" : r.failures().toString(),
        r.podSetupSeconds(),
        r.openSeconds(),
        r.openSeconds() > 0 ? r.opened() / r.openSeconds() : 0);
    line(out, "  time to first event     %s", r.firstEvent().render());
    line(out, "  broker reports %d active streams", r.activeStreamsReported());
    line(
        out,
        "  live heap: before the pods %s, baseline %s, connected %s, with streams %s, after close %s",
        mib(r.beforePods().liveBytes()),
        mib(r.baseline().liveBytes()),
        mib(r.connected().liveBytes()),
        mib(r.withStreams().liveBytes()),
        mib(r.afterClose().liveBytes()));
    line(
        out,
        "  per stream %d B (%.2f KiB; budget %.0f KiB: %s), per connection %d B, per pod stream incl. its"
            + " share of connections %d B",
        r.bytesPerStream(),
        r.bytesPerStream() / 1024.0,
        r.options().budgetBytesPerStream() / 1024.0,
        r.withinBudget() ? "met" : "MISSED",
        r.bytesPerConnection(),
        r.bytesPerPodStream());
    line(
        out,
        "  per pod of the cluster, connected or not (the broker's watch of pods): %d B; %s for %d pods",
        r.bytesPerClusterPod(),
        mib(r.bytesPerClusterPod() * r.options().targetStreams()),
        r.options().targetStreams());
    line(
        out,
        "  projected live heap for %d streams: %s of -Xmx %s: %s",
        r.options().targetStreams(),
        mib(r.projectedHeapBytesForTarget()),
        mib(r.brokerMaxHeapBytes()),
        r.targetFitsHeap() ? "fits" : "DOES NOT FIT");
    line(
        out,
        "  threads: baseline %d, connected %d, with streams %d, after close %d (%.4f per stream);"
            + " scheduler entries added %d",
        r.baseline().liveThreads(),
        r.connected().liveThreads(),
        r.withStreams().liveThreads(),
        r.afterClose().liveThreads(),
        r.threadsPerStream(),
        r.schedulerEntriesAdded());
    line(out, "  thread groups with streams: %s", r.withStreams().largestThreadGroups());
    line(out, "  thread groups after close:  %s", r.afterClose().largestThreadGroups());
    line(out, "  events after the first: %s", r.eventsAfterFirst());
    growth(out, "  largest growth from connecting:", r.largestConnectionGrowth());
    growth(out, "  largest growth with streams open:", r.largestGrowth());
    line(out, "  cleanup: %s", r.cleanup().render());
  }

  private static void growth(StringBuilder out, String title, List<ClassHistogram.Delta> deltas) {
    line(out, title);
    deltas.stream()
        .limit(8)
        .forEach(d -> line(out, "    %+12d B %+9d  %s", d.bytes(), d.instances(), d.className()));
  }

  private static String cpu(IssuanceReport.BrokerCpu c, String operation) {
    return String.format(
        Locale.ROOT,
        "%.0f ms, %.3f ms per %s (%.3f ms less idle use); JIT %.0f ms, GC and VM %.0f ms,"
            + " application threads %.0f ms = %.3f ms per %s",
        c.cpuMs(),
        c.msPerOperation(),
        operation,
        c.msPerOperationLessIdle(),
        c.jitMs(),
        c.gcAndVmMs(),
        c.applicationMs(),
        c.applicationMsPerOperation(),
        operation);
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  private static void line(StringBuilder out, String format, Object... args) {
    out.append(String.format(Locale.ROOT, format, args)).append('\n');
  }
}
