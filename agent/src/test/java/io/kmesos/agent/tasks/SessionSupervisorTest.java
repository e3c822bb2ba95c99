package io.kmesos.agent.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run's cgroups still held a moment after its end (a SIGKILLed process the kernel has not
 * finished, a task its executor started) go once released, not only at the next agent's start; on a
 * directory tree laid out as a cgroup file system (a file in a cgroup stands for a process).
 */
class SessionSupervisorTest {
  @TempDir Path fs;
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timers.shutdownNow();
  }

  private TaskCgroups cgroups() throws Exception {
    for (String h : new String[] {"memory", "pids"}) {
      Files.createDirectories(fs.resolve(h));
      Files.writeString(fs.resolve(h).resolve("cgroup.procs"), "");
    }
    return TaskCgroups.open(fs, "/tasks", "4:memory:/kubepods/besteffort/pod1/c\n");
  }

  @Test
  void aCgroupStillHeldAtTheRunsEndIsRemovedOnceReleased() throws Exception {
    SessionSupervisor sessions = new SessionSupervisor(timers);
    sessions.useCgroups(cgroups());
    sessions.makeCgroups("run-1");
    Path held = fs.resolve("memory/tasks/run-1/held");
    Files.writeString(held, "");

    sessions.removeCgroups("run-1");
    assertThat(fs.resolve("memory/tasks/run-1")).exists();
    assertThat(fs.resolve("pids/tasks/run-1")).doesNotExist();

    Files.delete(held); // the last process of the run is gone
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> assertThat(fs.resolve("memory/tasks/run-1")).doesNotExist());
  }

  @Test
  void aStoppedSupervisorLeavesAHeldCgroupToTheNextAgentsSweep() throws Exception {
    SessionSupervisor sessions = new SessionSupervisor(timers);
    TaskCgroups cgroups = cgroups();
    sessions.useCgroups(cgroups);
    sessions.makeCgroups("run-2");
    Path held = fs.resolve("memory/tasks/run-2/held");
    Files.writeString(held, "");
    sessions.close();

    sessions.removeCgroups("run-2");
    Files.delete(held);
    assertThat(fs.resolve("memory/tasks/run-2")).exists();
    assertThat(cgroups.removeEmpty()).isEqualTo(1);
    assertThat(fs.resolve("memory/tasks/run-2")).doesNotExist();
  }
}
