package io.credbroker.loadtest.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ThreadCpuTest {

  @Test
  void compilerAndCollectorThreadsAreToldApartFromTheApplication() {
    assertThat(ThreadCpu.kind("C2 CompilerThre")).isEqualTo(ThreadCpu.Kind.JIT);
    assertThat(ThreadCpu.kind("C1 CompilerThre")).isEqualTo(ThreadCpu.Kind.JIT);
    assertThat(ThreadCpu.kind("GC Thread#1")).isEqualTo(ThreadCpu.Kind.GC_AND_VM);
    assertThat(ThreadCpu.kind("G1 Conc#0")).isEqualTo(ThreadCpu.Kind.GC_AND_VM);
    assertThat(ThreadCpu.kind("grpc-call-12")).isEqualTo(ThreadCpu.Kind.APPLICATION);
  }

  @Test
  void differenceCountsNewThreadsFromZeroAndIgnoresEndedOnes() {
    ThreadCpu before =
        new ThreadCpu(
            Map.of(
                1L,
                new ThreadCpu.Entry("grpc-call-1", 100),
                2L,
                new ThreadCpu.Entry("C2 CompilerThre", 50),
                3L,
                new ThreadCpu.Entry("ended", 70)));
    ThreadCpu after =
        new ThreadCpu(
            Map.of(
                1L,
                new ThreadCpu.Entry("grpc-call-1", 130),
                2L,
                new ThreadCpu.Entry("C2 CompilerThre", 60),
                4L,
                new ThreadCpu.Entry("grpc-call-2", 5)));

    assertThat(after.since(before, ThreadCpu.Kind.APPLICATION)).isEqualTo(Duration.ofMillis(350));
    assertThat(after.since(before, ThreadCpu.Kind.JIT)).isEqualTo(Duration.ofMillis(100));
    assertThat(after.since(before, ThreadCpu.Kind.GC_AND_VM)).isZero();
  }

  @Test
  void readsTheLiveThreadsOfThisProcessByTheirNames() throws Exception {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    Thread probe =
        new Thread(
            () -> {
              try {
                done.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "cpu-probe");
    probe.start();
    try {
      ThreadCpu self = ThreadCpu.of(ProcessHandle.current().pid());
      if (System.getProperty("os.name").startsWith("Linux")) {
        assertThat(self.threads().values()).extracting(ThreadCpu.Entry::name).contains("cpu-probe");
      }
    } finally {
      done.countDown();
      probe.join();
    }
  }
}
