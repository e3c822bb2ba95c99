package io.kmesos.agent.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner with real processes: states from exit statuses, kills that leave nothing behind. */
class TaskRunnerTest {
  static final Duration PATIENCE = Duration.ofSeconds(60);
  static final FrameworkInfo FRAMEWORK =
      FrameworkInfo.newBuilder()
          .setId("fw-1")
          .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
          .build();

  @TempDir Path work;
  final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);
  final List<TaskStatus> updates = new CopyOnWriteArrayList<>();
  TaskRunner runner;

  TaskRunner runner(Map<String, Double> total) {
    runner = new TaskRunner(work, total, Duration.ofSeconds(30), timers, (f, s) -> updates.add(s));
    return runner;
  }

  @AfterEach
  void stop() {
    if (runner != null) {
      runner.close();
    }
    timers.shutdownNow();
  }

  static TaskInfo shell(String id, String command) {
    return TaskInfo.newBuilder()
        .setTaskId(id)
        .setCommand(CommandInfo.newBuilder().setValue(command))
        .build();
  }

  List<TaskState> states(String taskId) {
    return updates.stream()
        .filter(s -> s.getTaskId().equals(taskId))
        .map(TaskStatus::getState)
        .toList();
  }

  TaskStatus last(String taskId) {
    List<TaskStatus> of = updates.stream().filter(s -> s.getTaskId().equals(taskId)).toList();
    return of.get(of.size() - 1);
  }

  void awaitTerminal(String taskId) {
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                states(taskId).stream()
                    .anyMatch(
                        s ->
                            s != TaskState.TASK_STARTING
                                && s != TaskState.TASK_RUNNING
                                && s != TaskState.TASK_KILLING));
  }

  void awaitState(String taskId, TaskState state) {
    await().atMost(PATIENCE).until(() -> states(taskId).contains(state));
  }

  Path sandbox(String taskId) throws Exception {
    try (Stream<Path> runs = Files.list(work.resolve("sandboxes/fw-1").resolve(taskId))) {
      return runs.findFirst().orElseThrow();
    }
  }

  /** The sleep processes whose argument is the marker, not zombies. */
  static List<Long> processesWith(String marker) throws Exception {
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs
          .filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .filter(
              p -> {
                try {
                  String cmd = Files.readString(p.resolve("cmdline")).replace('\0', ' ');
                  return cmd.startsWith("sleep " + marker)
                      && ProcessTree.alive(Long.parseLong(p.getFileName().toString()));
                } catch (Exception e) {
                  return false;
                }
              })
          .map(p -> Long.parseLong(p.getFileName().toString()))
          .toList();
    }
  }

  @Test
  void exitZeroFinishesAndTheSandboxHoldsItsOutput() throws Exception {
    runner(Map.of("cpus", 2.0));
    runner.launch(
        FRAMEWORK,
        shell("ok", "echo hello; echo oops >&2; echo \"$MESOS_TASK_ID\" $GREETING").toBuilder()
            .setCommand(
                CommandInfo.newBuilder()
                    .setValue("echo hello; echo oops >&2; echo \"$MESOS_TASK_ID\" $GREETING")
                    .putEnvironment("GREETING", "hi"))
            .build());
    awaitTerminal("ok");
    assertThat(states("ok")).containsExactly(TaskState.TASK_RUNNING, TaskState.TASK_FINISHED);
    assertThat(last("ok").getExitCode()).isZero();
    Path sandbox = sandbox("ok");
    assertThat(Files.readString(sandbox.resolve("stdout"))).isEqualTo("hello\nok hi\n");
    assertThat(Files.readString(sandbox.resolve("stderr"))).isEqualTo("oops\n");
    assertThat(runner.running()).isZero();
  }

  /**
   * A checkpointed task with cgroups of its own: its shell joins them before the command runs, so
   * the command's process is already in them; the run's cgroups go when it ends. (Plain directories
   * stand for the cgroup file system: a pid written to one's cgroup.procs is kept.)
   */
  @Test
  void aCheckpointedTasksShellJoinsItsCgroupsBeforeTheCommandRuns() throws Exception {
    Path fs = work.resolve("cgroupfs");
    for (String h : List.of("cpu", "memory")) {
      Files.createDirectories(fs.resolve(h));
      Files.writeString(fs.resolve(h).resolve("cgroup.procs"), "");
    }
    runner(Map.of("cpus", 2.0));
    runner.useCgroups(TaskCgroups.open(fs, "/tasks", ""));
    FrameworkInfo checkpointing = FRAMEWORK.toBuilder().setCheckpoint(true).build();
    runner.launch(checkpointing, shell("in-cgroup", "echo $PPID"));
    awaitTerminal("in-cgroup");
    assertThat(states("in-cgroup"))
        .containsExactly(TaskState.TASK_RUNNING, TaskState.TASK_FINISHED);
    // The command's parent is the shell, whose pid went into the run's cgroup in both hierarchies.
    String shellPid = Files.readString(sandbox("in-cgroup").resolve("stdout")).strip();
    String runId = sandbox("in-cgroup").getFileName().toString();
    for (String h : List.of("cpu", "memory")) {
      Path procs = fs.resolve(h).resolve("tasks").resolve(runId).resolve("cgroup.procs");
      assertThat(Files.readString(procs).strip()).isEqualTo(shellPid);
    }
  }

  @Test
  void aShellThatCannotJoinItsCgroupEndsBeforeItsCommandRuns() throws Exception {
    // The kernel refuses a write to cgroup.procs (no permission, an empty cpuset): here a
    // directory stands in its way.
    Path cgroup = work.resolve("cgroup");
    Files.createDirectories(cgroup.resolve("cgroup.procs"));
    Path ran = work.resolve("ran");
    List<String> argv =
        TaskRunner.command(
            shell("refused", "touch " + ran), work.resolve("exit_status"), List.of(cgroup));
    Process p = new ProcessBuilder(argv).directory(work.toFile()).start();
    assertThat(p.waitFor()).isEqualTo(TaskRunner.CGROUP_JOIN_FAILED);
    assertThat(ran).doesNotExist();
    assertThat(work.resolve("exit_status")).doesNotExist();
  }

  @Test
  void aRunWhoseCgroupCannotBeMadeFailsWithoutRunning() throws Exception {
    Path fs = work.resolve("cgroupfs");
    Files.createDirectories(fs.resolve("memory"));
    Files.writeString(fs.resolve("memory/cgroup.procs"), "");
    runner(Map.of("cpus", 2.0));
    runner.useCgroups(TaskCgroups.open(fs, "/tasks", ""));
    // The root went away (or is not the agent's to write): /proc takes no directory.
    Files.delete(fs.resolve("memory/tasks"));
    Files.createSymbolicLink(fs.resolve("memory/tasks"), Path.of("/proc/self"));
    runner.launch(FRAMEWORK.toBuilder().setCheckpoint(true).build(), shell("no-cgroup", "true"));
    awaitTerminal("no-cgroup");
    assertThat(states("no-cgroup")).containsExactly(TaskState.TASK_FAILED);
    assertThat(last("no-cgroup").getMessage())
        .startsWith("The agent cannot make the task's cgroup: ");
    assertThat(runner.running()).isZero();
  }

  @Test
  void nonZeroExitFailsWithItsStatus() {
    runner(Map.of());
    runner.launch(FRAMEWORK, shell("bad", "exit 3"));
    awaitTerminal("bad");
    assertThat(last("bad").getState()).isEqualTo(TaskState.TASK_FAILED);
    assertThat(last("bad").getMessage()).isEqualTo("Command exited with status 3");
    assertThat(last("bad").getExitCode()).isEqualTo(3);
  }

  @Test
  void deathBySignalFailsNamingTheSignal() {
    runner(Map.of());
    runner.launch(FRAMEWORK, shell("sig", "kill -SEGV $$"));
    awaitTerminal("sig");
    assertThat(last("sig").getState()).isEqualTo(TaskState.TASK_FAILED);
    assertThat(last("sig").getMessage()).contains("SIGSEGV");
    assertThat(last("sig").hasExitCode()).isFalse();
  }

  @Test
  void argvCommandRunsWithoutAShell() throws Exception {
    runner(Map.of());
    runner.launch(
        FRAMEWORK,
        TaskInfo.newBuilder()
            .setTaskId("argv")
            .setCommand(
                CommandInfo.newBuilder()
                    .setShell(false)
                    .setValue("echo")
                    .addAllArguments(List.of("echo", "$HOME", "a b")))
            .build());
    awaitTerminal("argv");
    assertThat(last("argv").getState()).isEqualTo(TaskState.TASK_FINISHED);
    assertThat(Files.readString(sandbox("argv").resolve("stdout"))).isEqualTo("$HOME a b\n");
  }

  @Test
  void eachTaskLeadsItsOwnSessionAndProcessGroup() throws Exception {
    runner(Map.of());
    runner.launch(
        FRAMEWORK, shell("group", "echo $$ > pid; ps -o pid=,pgid=,sid= -p $$ > ids; sleep 1000"));
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                Files.exists(sandbox("group").resolve("ids"))
                    && Files.size(sandbox("group").resolve("ids")) > 0);
    String[] ids = Files.readString(sandbox("group").resolve("ids")).trim().split("\\s+");
    assertThat(ids[1]).as("pgid").isEqualTo(ids[0]);
    assertThat(ids[2]).as("sid").isEqualTo(ids[0]);
    assertThat(ids[0]).isNotEqualTo(Long.toString(ProcessHandle.current().pid()));
    runner.kill("fw-1", "group", Optional.of(Duration.ofSeconds(5)));
    awaitTerminal("group");
    assertThat(last("group").getState()).isEqualTo(TaskState.TASK_KILLED);
  }

  @Test
  void killLeavesNoProcessOfTheTree() throws Exception {
    runner(Map.of());
    String marker = "1000.4242";
    runner.launch(
        FRAMEWORK,
        shell(
            "tree",
            "sleep " + marker + " & sleep " + marker + " & sh -c 'sleep " + marker + "' & wait"));
    await().atMost(PATIENCE).until(() -> processesWith(marker).size() == 3);
    runner.kill("fw-1", "tree", Optional.empty());
    awaitTerminal("tree");
    assertThat(last("tree").getState()).isEqualTo(TaskState.TASK_KILLED);
    assertThat(processesWith(marker)).isEmpty();
    assertThat(runner.running()).isZero();
  }

  @Test
  void aBackgroundChildDoesNotOutliveATaskThatExits() throws Exception {
    runner(Map.of());
    String marker = "1000.4343";
    runner.launch(FRAMEWORK, shell("leaves", "sleep " + marker + " & exit 0"));
    awaitTerminal("leaves");
    assertThat(last("leaves").getState()).isEqualTo(TaskState.TASK_FINISHED);
    assertThat(processesWith(marker)).isEmpty();
  }

  @Test
  void aChildThatLeftTheSessionIsKilledToo() throws Exception {
    runner(Map.of());
    String marker = "1000.4444";
    runner.launch(FRAMEWORK, shell("escape", "setsid sleep " + marker + " & wait"));
    await().atMost(PATIENCE).until(() -> processesWith(marker).size() == 1);
    runner.kill("fw-1", "escape", Optional.of(Duration.ofSeconds(2)));
    awaitTerminal("escape");
    await().atMost(PATIENCE).until(() -> processesWith(marker).isEmpty());
  }

  @Test
  void aTaskThatIgnoresSigtermIsSigkilledAfterItsGracePeriod() throws Exception {
    runner(Map.of());
    String marker = "1000.4545";
    runner.launch(
        FRAMEWORK,
        shell(
                "stubborn",
                "trap 'echo got TERM' TERM; echo trapping; while true; do sleep "
                    + marker
                    + " & wait; done")
            .toBuilder()
            .setKillGracePeriod(Durations.fromMillis(1500))
            .build());
    await()
        .atMost(PATIENCE)
        .until(() -> Files.readString(sandbox("stubborn").resolve("stdout")).contains("trapping"));
    long killedAt = System.nanoTime();
    runner.kill("fw-1", "stubborn", Optional.empty());
    await()
        .atMost(PATIENCE)
        .until(() -> Files.readString(sandbox("stubborn").resolve("stdout")).contains("got TERM"));
    assertThat(states("stubborn")).doesNotContain(TaskState.TASK_KILLED);
    awaitTerminal("stubborn");
    assertThat(System.nanoTime() - killedAt)
        .isGreaterThanOrEqualTo(Duration.ofMillis(1500).toNanos());
    assertThat(last("stubborn").getState()).isEqualTo(TaskState.TASK_KILLED);
    assertThat(processesWith(marker)).isEmpty();
  }

  @Test
  void killingStateForFrameworksThatAskForIt() {
    runner(Map.of());
    FrameworkInfo killing =
        FRAMEWORK.toBuilder().addCapabilities(FrameworkInfo.Capability.TASK_KILLING_STATE).build();
    runner.launch(killing, shell("k", "sleep 1000"));
    awaitState("k", TaskState.TASK_RUNNING);
    runner.kill("fw-1", "k", Optional.of(Duration.ofSeconds(5)));
    awaitTerminal("k");
    assertThat(states("k"))
        .containsExactly(TaskState.TASK_RUNNING, TaskState.TASK_KILLING, TaskState.TASK_KILLED);
  }

  @Test
  void aTaskThatDoesNotFitNeverRuns() throws Exception {
    runner(Map.of("cpus", 2.0, "mem", 1024.0));
    TaskInfo first =
        shell("first", "sleep 1000").toBuilder()
            .addResources(Resource.newBuilder().setName("cpus").setScalar(1.5))
            .build();
    runner.launch(FRAMEWORK, first);
    assertThat(runner.used()).isEqualTo(Map.of("cpus", 1.5));
    assertThat(runner.free()).containsEntry("cpus", 0.5).containsEntry("mem", 1024.0);
    runner.launch(
        FRAMEWORK,
        shell("second", "touch ran").toBuilder()
            .addResources(Resource.newBuilder().setName("cpus").setScalar(1))
            .build());
    assertThat(states("second")).containsExactly(TaskState.TASK_DROPPED);
    assertThat(last("second").getMessage()).contains("cpus").contains("0.5");
    assertThat(work.resolve("sandboxes/fw-1/second")).doesNotExist();
    runner.launch(
        FRAMEWORK,
        shell("gpu", "true").toBuilder()
            .addResources(Resource.newBuilder().setName("gpus").setScalar(1))
            .build());
    assertThat(last("gpu").getState()).isEqualTo(TaskState.TASK_DROPPED);
    assertThat(last("gpu").getMessage()).contains("gpus").contains("does not offer");
    runner.kill("fw-1", "first", Optional.of(Duration.ofSeconds(5)));
    awaitTerminal("first");
    assertThat(runner.used()).isEmpty();
    runner.launch(
        FRAMEWORK,
        shell("third", "true").toBuilder()
            .addResources(Resource.newBuilder().setName("cpus").setScalar(2))
            .build());
    awaitTerminal("third");
    assertThat(last("third").getState()).isEqualTo(TaskState.TASK_FINISHED);
  }

  @Test
  void notPartitionAwareFrameworksGetTaskLostForDropsAndUnknownKills() {
    runner(Map.of());
    FrameworkInfo old = FrameworkInfo.newBuilder().setId("fw-1").build();
    runner.launch(
        old,
        shell("big", "true").toBuilder()
            .addResources(Resource.newBuilder().setName("cpus").setScalar(1))
            .build());
    assertThat(last("big").getState()).isEqualTo(TaskState.TASK_LOST);
    runner.kill("fw-1", "nope", Optional.empty());
    assertThat(last("nope").getState()).isEqualTo(TaskState.TASK_LOST);
    assertThat(last("nope").getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_UNKNOWN);
  }

  @Test
  void invalidTasksGetTaskError() {
    runner(Map.of());
    runner.launch(FRAMEWORK, shell("../etc", "true"));
    assertThat(last("../etc").getState()).isEqualTo(TaskState.TASK_ERROR);
    assertThat(last("../etc").getMessage()).contains("Invalid task ID");
    runner.launch(FRAMEWORK, TaskInfo.newBuilder().setTaskId("nocmd").build());
    assertThat(last("nocmd").getState()).isEqualTo(TaskState.TASK_ERROR);
    assertThat(last("nocmd").getMessage()).contains("no command");
  }

  @Test
  void shutdownFrameworkKillsAllItsTasksOnly() {
    runner(Map.of());
    FrameworkInfo other = FrameworkInfo.newBuilder().setId("fw-2").build();
    runner.launch(FRAMEWORK, shell("a", "sleep 1000"));
    runner.launch(FRAMEWORK, shell("b", "sleep 1000"));
    runner.launch(other, shell("c", "sleep 1000"));
    runner.shutdownFramework("fw-1");
    awaitTerminal("a");
    awaitTerminal("b");
    assertThat(last("a").getState()).isEqualTo(TaskState.TASK_KILLED);
    assertThat(last("b").getState()).isEqualTo(TaskState.TASK_KILLED);
    assertThat(runner.tasks()).extracting(t -> t.getInfo().getTaskId()).containsExactly("c");
  }

  @Test
  void aSecondRunTaskOfTheSameTaskIsIgnored() {
    runner(Map.of());
    runner.launch(FRAMEWORK, shell("once", "sleep 1000"));
    runner.launch(FRAMEWORK, shell("once", "sleep 1000"));
    awaitState("once", TaskState.TASK_RUNNING);
    runner.launch(FRAMEWORK, shell("once", "sleep 1000"));
    assertThat(states("once")).containsExactly(TaskState.TASK_RUNNING);
    assertThat(runner.running()).isEqualTo(1);
  }

  @Test
  void aTaskKilledBeforeItsProcessStartedNeverRuns() throws Exception {
    List<Runnable> held = new CopyOnWriteArrayList<>();
    runner =
        new TaskRunner(
            work,
            Map.of("cpus", 1.0),
            Duration.ofSeconds(30),
            timers,
            (f, s) -> updates.add(s),
            TaskRunner.RunCheckpoints.NONE,
            held::add);
    runner.launch(
        FRAMEWORK,
        shell("early", "touch ran").toBuilder()
            .addResources(Resource.newBuilder().setName("cpus").setScalar(1))
            .build());
    assertThat(runner.used()).isEqualTo(Map.of("cpus", 1.0));
    assertThat(runner.tasks())
        .singleElement()
        .satisfies(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STARTING));
    runner.kill("fw-1", "early", Optional.empty());
    assertThat(states("early")).isEmpty();
    held.forEach(Runnable::run);
    assertThat(states("early")).containsExactly(TaskState.TASK_KILLED);
    assertThat(last("early").getReason())
        .isEqualTo(TaskStatus.Reason.REASON_TASK_KILLED_DURING_LAUNCH);
    assertThat(work.resolve("sandboxes/fw-1/early")).doesNotExist();
    assertThat(runner.running()).isZero();
    assertThat(runner.used()).isEmpty();
  }

  @Test
  void manyShortTasksAreAllReportedAndTheirResourcesFreed() {
    runner(Map.of("cpus", 1.0));
    for (int i = 0; i < 50; i++) {
      runner.launch(
          FRAMEWORK,
          shell("short-" + i, "true").toBuilder()
              .addResources(Resource.newBuilder().setName("cpus").setScalar(0.02))
              .build());
    }
    for (int i = 0; i < 50; i++) {
      awaitTerminal("short-" + i);
      assertThat(states("short-" + i))
          .containsExactly(TaskState.TASK_RUNNING, TaskState.TASK_FINISHED);
    }
    assertThat(runner.running()).isZero();
    assertThat(runner.used()).isEmpty();
  }
}
