package io.kmesos.agent.gc;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.agent.checkpoint.MetaLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sandboxes of frameworks without checkpoint, on a real work directory with the collector on a
 * clock the test moves: scheduled when a task's terminal update was acknowledged, removed after the
 * delay only when nothing references them, and at a restart the ones no checkpoint names.
 */
class SandboxesTest {
  static final Duration DELAY = Duration.ofHours(1);

  @TempDir Path work;

  final GarbageCollectorTest.TestClock clock = new GarbageCollectorTest.TestClock();
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  volatile double usage = 0.2;

  final Set<String> runningTasks = new HashSet<>();
  final Set<String> runningExecutors = new HashSet<>();
  final Set<String> pendingUpdates = new HashSet<>();

  GarbageCollector gc;
  Sandboxes sandboxes;

  @BeforeEach
  void start() {
    gc =
        new GarbageCollector(
            new GarbageCollector.Settings(DELAY, 0.1, Duration.ofMinutes(1)),
            clock,
            scheduler,
            () -> usage);

    sandboxes =
        new Sandboxes(
            work,
            new MetaLayout(work),
            gc,
            new Sandboxes.References() {
              @Override
              public boolean taskRuns(String frameworkId, String taskId) {
                return runningTasks.contains(frameworkId + "/" + taskId);
              }

              @Override
              public boolean executorRuns(String frameworkId, String executorId) {
                return runningExecutors.contains(frameworkId + "/" + executorId);
              }

              @Override
              public boolean updatesPending(String frameworkId, String taskId) {
                return taskId == null
                    ? pendingUpdates.stream().anyMatch(k -> k.startsWith(frameworkId + "/"))
                    : pendingUpdates.contains(frameworkId + "/" + taskId);
              }
            },
            clock,
            Runnable::run);
  }

  @AfterEach
  void stop() {
    gc.close();
    scheduler.shutdownNow();
  }

  Path sandbox(String fw, String task, String run) throws Exception {
    Path dir =
        Files.createDirectories(work.resolve("sandboxes").resolve(fw).resolve(task).resolve(run));
    Files.writeString(dir.resolve("stdout"), "output of " + task);
    Files.createDirectories(dir.resolve("deep/er"));
    Files.createSymbolicLink(dir.resolve("deep/er/outside"), work.resolve("keep"));
    return dir;
  }

  Path executorSandbox(String fw, String executor, String run) throws Exception {
    Path dir =
        Files.createDirectories(
            work.resolve("executors").resolve(fw).resolve(executor).resolve(run));
    Files.writeString(dir.resolve("stderr"), "executor " + executor);
    return dir;
  }

  @Test
  void aFinishedTasksSandboxGoesAfterTheDelayAndNothingElse() throws Exception {
    Files.writeString(work.resolve("keep"), "not the agent's to remove");
    Path done = sandbox("fw", "done", "r1");
    Path other = sandbox("fw", "other", "r2");
    sandboxes.taskDone("fw", "done");
    assertThat(gc.pending(Sandboxes.key(done))).isTrue();
    assertThat(gc.pending(Sandboxes.key(other))).isFalse();

    clock.advance(DELAY.minusMinutes(1));
    gc.runDue();
    assertThat(done).exists();

    clock.advance(Duration.ofMinutes(2));
    gc.runDue();
    assertThat(done).doesNotExist();
    assertThat(done.getParent()).as("the task's directory, empty").doesNotExist();
    assertThat(other).exists();
    assertThat(work.resolve("keep")).as("a link's target").exists();
    assertThat(gc.collected()).isEqualTo(1);
  }

  @Test
  void aSandboxStillReferencedStaysUntilItIsNot() throws Exception {
    Path again = sandbox("fw", "again", "r1");
    Path relaunched = sandbox("fw", "again", "r2");
    sandboxes.taskDone("fw", "again");
    // The task ID was launched again meanwhile, and its new run has updates unacknowledged.
    runningTasks.add("fw/again");
    pendingUpdates.add("fw/again");
    usage = 0.99; // even under pressure
    clock.advance(DELAY.plusMinutes(1));
    gc.checkDiskUsage();
    assertThat(again).exists();
    assertThat(relaunched).exists();
    assertThat(gc.pending(Sandboxes.key(again))).isTrue();

    runningTasks.clear();
    clock.advance(GarbageCollector.MIN_RETRY);
    gc.checkDiskUsage();
    assertThat(again).as("an update still unacknowledged").exists();

    pendingUpdates.clear();
    clock.advance(GarbageCollector.MIN_RETRY);
    gc.checkDiskUsage();
    assertThat(again).doesNotExist();
    assertThat(relaunched).doesNotExist();
  }

  @Test
  void anExecutorsSandboxGoesOnceItEndedAndItsFrameworksUpdatesAreAcknowledged() throws Exception {
    Path executor = executorSandbox("fw", "exec", "r1");
    runningExecutors.add("fw/exec");
    sandboxes.taskDone("fw", "task-of-exec");
    assertThat(gc.pending(Sandboxes.key(executor))).isTrue();
    clock.advance(DELAY.plusMinutes(1));
    gc.runDue();
    assertThat(executor).as("its executor runs").exists();

    runningExecutors.clear();
    pendingUpdates.add("fw/another-task");
    clock.advance(DELAY.plusMinutes(1));
    gc.runDue();
    assertThat(executor).as("an update of the framework unacknowledged").exists();

    pendingUpdates.clear();
    clock.advance(DELAY.plusMinutes(1));
    gc.runDue();
    assertThat(executor).doesNotExist();
    assertThat(work.resolve("executors/fw")).doesNotExist();
  }

  @Test
  void aShutDownFrameworksSandboxesAreScheduled() throws Exception {
    Path a = sandbox("fw", "a", "r1");
    Path b = executorSandbox("fw", "e", "r2");
    Path other = sandbox("fw2", "a", "r3");
    sandboxes.frameworkDone("fw");
    clock.advance(DELAY.plusSeconds(1));
    gc.runDue();
    assertThat(a).doesNotExist();
    assertThat(b).doesNotExist();
    assertThat(other).exists();
  }

  @Test
  void atARestartTheSandboxesNoCheckpointNamesAreScheduledAfterWhatIsLeftOfTheDelay()
      throws Exception {
    MetaLayout layout = new MetaLayout(work);
    Path old = sandbox("fw", "old", "r-old");
    Files.setLastModifiedTime(old, FileTime.from(clock.instant().minus(Duration.ofMinutes(50))));
    Path recent = sandbox("fw", "recent", "r-recent");
    Files.setLastModifiedTime(recent, FileTime.from(clock.instant()));
    Path exec = executorSandbox("fw", "e", "r-exec");
    Files.setLastModifiedTime(exec, FileTime.from(clock.instant().minus(Duration.ofDays(3))));
    // A checkpointed run's sandbox: its checkpoints decide.
    Path checkpointed = sandbox("cfw", "t", "r-ckpt");
    Files.setLastModifiedTime(
        checkpointed, FileTime.from(clock.instant().minus(Duration.ofDays(3))));
    Files.createDirectories(layout.run("cfw", "t", "r-ckpt"));

    assertThat(sandboxes.scheduleLeftovers()).isEqualTo(3);
    assertThat(gc.pending(Sandboxes.key(checkpointed))).isFalse();

    gc.runDue();
    assertThat(exec).as("older than the delay").doesNotExist();
    assertThat(old).exists();
    clock.advance(Duration.ofMinutes(11));
    gc.runDue();
    assertThat(old).doesNotExist();
    assertThat(recent).exists();
    clock.advance(Duration.ofMinutes(50));
    gc.runDue();
    assertThat(recent).doesNotExist();
    assertThat(checkpointed).exists();
  }

  @Test
  void aSandboxWhoseRunGotCheckpointsIsLeftToThem() throws Exception {
    Path run = sandbox("fw", "t", "r1");
    sandboxes.taskDone("fw", "t");
    Files.createDirectories(new MetaLayout(work).run("fw", "t", "r1"));
    clock.advance(DELAY.plusSeconds(1));
    gc.runDue();
    assertThat(run).exists();
    assertThat(gc.pending()).isZero();
  }
}
