package io.credbroker.loadtest.heap;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The attribution, on a dump of this test's own JVM holding a known object graph. */
class HeapOwnersTest {

  /** Also reachable from outside the entries: never counted. */
  static final byte[] SHARED = new byte[200_000];

  /** A way into the measured part of the heap, as a channel is. */
  static final class Entry {
    final Part part = new Part();
    final byte[] own = new byte[30_000];
    final byte[] shared = SHARED;
  }

  /** A component: what is reached through it counts for it. */
  static final class Part {
    final byte[] buffer = new byte[50_000];
  }

  @TempDir Path dir;

  @Test
  void countsWhatOnlyTheEntriesKeepAliveForTheNearestComponent() throws Exception {
    List<Entry> entries = List.of(new Entry(), new Entry());
    Path dump = dir.resolve("test.hprof");
    ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
        .dumpHeap(dump.toString(), true);

    HeapOwners.Analysis analysis =
        HeapOwners.analyse(
            dump, List.of(Entry.class.getName()), Map.of(Part.class.getName(), "parts"));

    Map<String, HeapOwners.Owner> byComponent =
        analysis.owners().stream()
            .collect(java.util.stream.Collectors.toMap(HeapOwners.Owner::component, o -> o));
    HeapOwners.Owner parts = byComponent.get(Part.class.getName());
    assertThat(parts.layer()).isEqualTo("parts");
    assertThat(parts.objects()).isEqualTo(4); // two parts, two buffers
    assertThat(parts.bytes()).isBetween(2 * 50_000L, 2 * 50_000L + 200);
    HeapOwners.Owner own = byComponent.get(Entry.class.getName());
    assertThat(own.objects()).isEqualTo(4); // two entries, their own arrays
    assertThat(own.bytes()).isBetween(2 * 30_000L, 2 * 30_000L + 200);
    assertThat(analysis.totalBytes()).isEqualTo(parts.bytes() + own.bytes());
    assertThat(entries).hasSize(2);
  }
}
