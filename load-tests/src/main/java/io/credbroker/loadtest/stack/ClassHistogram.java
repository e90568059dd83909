package io.credbroker.loadtest.stack;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The output of {@code jcmd <pid> GC.class_histogram}: live instances and bytes per class, taken
 * right after the full collection the command forces. Immutable.
 *
 * @param totalBytes the bytes of all live objects
 * @param totalInstances the number of live objects
 * @param classes instances and bytes per class name (module suffix removed)
 */
public record ClassHistogram(long totalBytes, long totalInstances, Map<String, Entry> classes) {

  /** One class's live instances and their shallow bytes. */
  public record Entry(long instances, long bytes) {}

  /** How one class grew between two histograms. */
  public record Delta(String className, long instances, long bytes) {}

  public ClassHistogram {
    classes = Map.copyOf(classes);
  }

  /**
   * @throws IllegalArgumentException when the text has no {@code Total} line
   */
  public static ClassHistogram parse(String text) {
    Map<String, Entry> classes = new HashMap<>();
    long totalBytes = -1;
    long totalInstances = -1;
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      String[] f = line.split("\\s+");
      if (f.length >= 3 && f[0].equals("Total")) {
        totalInstances = Long.parseLong(f[1]);
        totalBytes = Long.parseLong(f[2]);
      } else if (f.length >= 4 && f[0].endsWith(":") && f[1].chars().allMatch(Character::isDigit)) {
        // "  12:   345   6789  java.lang.String (java.base@17)"; one class may appear once per
        // loader.
        Entry e = new Entry(Long.parseLong(f[1]), Long.parseLong(f[2]));
        classes.merge(
            f[3], e, (a, b) -> new Entry(a.instances() + b.instances(), a.bytes() + b.bytes()));
      }
    }
    if (totalBytes < 0) {
      throw new IllegalArgumentException("no Total line in the class histogram");
    }
    return new ClassHistogram(totalBytes, totalInstances, classes);
  }

  /** Instances of {@code className} (0 when none are live). */
  public long instancesOf(String className) {
    Entry e = classes.get(className);
    return e == null ? 0 : e.instances();
  }

  /** The {@code limit} classes that grew most in bytes since {@code before}. */
  public List<Delta> largestGrowthSince(ClassHistogram before, int limit) {
    List<Delta> deltas = new ArrayList<>();
    for (Map.Entry<String, Entry> e : classes.entrySet()) {
      Entry old = before.classes().getOrDefault(e.getKey(), new Entry(0, 0));
      deltas.add(
          new Delta(
              e.getKey(),
              e.getValue().instances() - old.instances(),
              e.getValue().bytes() - old.bytes()));
    }
    deltas.sort(Comparator.comparingLong(Delta::bytes).reversed());
    return List.copyOf(deltas.subList(0, Math.min(limit, deltas.size())));
  }
}
