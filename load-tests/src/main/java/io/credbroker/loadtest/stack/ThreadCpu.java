package io.credbroker.loadtest.stack;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The CPU time of one process's live threads, read from {@code /proc/<pid>/task/<tid>/stat},
 * grouped by what the JVM uses the thread for: the JIT compilers ({@code C1/C2 CompilerThre...}),
 * the garbage collector and VM threads, and everything else (the application). Linux only;
 * elsewhere a sample is empty. Immutable.
 *
 * <p>Threads that ended between two samples are missing from the second, so their time is not in
 * any group: a difference between samples under-counts a group whose threads come and go (HotSpot
 * stops idle compiler threads), and the process's total CPU time is the figure to trust.
 */
public record ThreadCpu(Map<Long, Entry> threads) {

  /** Clock ticks per second of {@code utime}/{@code stime}: USER_HZ, 100 on Linux. */
  private static final long TICKS_PER_SECOND = 100;

  /** One thread's name (as the kernel has it, at most 15 characters) and CPU time in ticks. */
  public record Entry(String name, long ticks) {}

  /** The groups. */
  public enum Kind {
    JIT,
    GC_AND_VM,
    APPLICATION
  }

  public ThreadCpu {
    threads = Map.copyOf(threads);
  }

  /** Reads every live thread of {@code pid}; empty where {@code /proc} does not have them. */
  public static ThreadCpu of(long pid) {
    Map<Long, Entry> threads = new HashMap<>();
    Path tasks = Path.of("/proc", Long.toString(pid), "task");
    if (!Files.isDirectory(tasks)) {
      return new ThreadCpu(threads);
    }
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(tasks)) {
      for (Path task : dir) {
        try {
          String stat = Files.readString(task.resolve("stat"));
          // pid (comm) state ppid ... : comm may hold spaces and parentheses, so split after the
          // last ')'.
          int open = stat.indexOf('(');
          int close = stat.lastIndexOf(')');
          String name = stat.substring(open + 1, close);
          String[] rest = stat.substring(close + 2).split(" ");
          // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
          long ticks = Long.parseLong(rest[11]) + Long.parseLong(rest[12]);
          threads.put(Long.parseLong(task.getFileName().toString()), new Entry(name, ticks));
        } catch (IOException | RuntimeException e) {
          // The thread ended while it was read.
        }
      }
    } catch (IOException e) {
      return new ThreadCpu(Map.of());
    }
    return new ThreadCpu(threads);
  }

  static Kind kind(String threadName) {
    if (threadName.startsWith("C1 Compiler") || threadName.startsWith("C2 Compiler")) {
      return Kind.JIT;
    }
    if (threadName.startsWith("GC Thread")
        || threadName.startsWith("G1 ")
        || threadName.equals("VM Thread")
        || threadName.startsWith("VM Periodic")) {
      return Kind.GC_AND_VM;
    }
    return Kind.APPLICATION;
  }

  /**
   * CPU time of one group's threads since {@code earlier} (threads that started since count from
   * zero).
   */
  public Duration since(ThreadCpu earlier, Kind kind) {
    long ticks = 0;
    for (Map.Entry<Long, Entry> t : threads.entrySet()) {
      if (kind(t.getValue().name()) != kind) {
        continue;
      }
      Entry before = earlier.threads().get(t.getKey());
      ticks += t.getValue().ticks() - (before == null ? 0 : before.ticks());
    }
    return Duration.ofMillis(ticks * 1000 / TICKS_PER_SECOND);
  }
}
