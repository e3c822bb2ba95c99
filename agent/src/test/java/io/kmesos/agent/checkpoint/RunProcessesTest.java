package io.kmesos.agent.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import io.kmesos.api.agent.v1.RunProcessRecord;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real process, as a task's: its own session through setsid. */
class RunProcessesTest {
  @TempDir Path sandbox;

  @Test
  void aRunsProcessIsRecognisedUntilItEndsAndNeverByPidAlone() throws Exception {
    Process p = new ProcessBuilder("/usr/bin/setsid", "sleep", "60").start();
    try {
      // setsid(1) calls setsid(2) only after it started: until then the child is in our group.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  RunProcesses.describe("run-1", p.toHandle(), sandbox, "boot-1").getSid()
                      == p.pid());
      RunProcessRecord r = RunProcesses.describe("run-1", p.toHandle(), sandbox, "boot-1");
      assertThat(r.getPid()).isEqualTo(p.pid());
      assertThat(r.getPgid()).as("setsid made it a group leader").isEqualTo(p.pid());
      assertThat(r.getSid()).as("and a session leader").isEqualTo(p.pid());
      assertThat(r.hasProcessStartedAt()).isTrue();
      assertThat(r.getSandbox()).isEqualTo(sandbox.toString());
      assertThat(RunProcesses.stillRunning(r)).map(ProcessHandle::pid).contains(p.pid());

      // The same pid with another start time: another process that was given the pid.
      Timestamp other =
          r.getProcessStartedAt().toBuilder()
              .setSeconds(r.getProcessStartedAt().getSeconds() - 1)
              .build();
      assertThat(RunProcesses.stillRunning(r.toBuilder().setProcessStartedAt(other).build()))
          .isEmpty();

      p.destroy();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(RunProcesses.stillRunning(r)).isEmpty();
    } finally {
      p.destroyForcibly();
    }
  }
}
