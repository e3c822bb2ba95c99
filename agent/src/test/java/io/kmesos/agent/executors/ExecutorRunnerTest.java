package io.kmesos.agent.executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.kmesos.agent.tasks.TaskCgroups;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.StatusUpdates;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.executor.v1.Call;
import io.kmesos.api.executor.v1.Event;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.ExecutorInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.api.v1.TaskStatus.Reason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's side of custom executors, with a real executor process (a {@code sleep} that never
 * subscribes by itself: the test subscribes in its place, as {@link ExecutorServer} would).
 */
class ExecutorRunnerTest {
  static final Duration PATIENCE = Duration.ofSeconds(60);
  static final FrameworkInfo FRAMEWORK =
      FrameworkInfo.newBuilder()
          .setId("fw")
          .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
          .build();

  @TempDir Path work;
  final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);
  final List<TaskStatus> updates = new CopyOnWriteArrayList<>();
  final List<Event> events = new CopyOnWriteArrayList<>();
  TaskRunner tasks;
  ExecutorRunner runner;

  final StreamObserver<Event> stream =
      new StreamObserver<>() {
        @Override
        public void onNext(Event e) {
          events.add(e);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };

  @BeforeEach
  void start() {
    tasks =
        new TaskRunner(
            work,
            Map.of("cpus", 1.0),
            Duration.ofSeconds(1),
            timers,
            (f, s) -> {},
            TaskRunner.RunCheckpoints.NONE);
    tasks.setAgentId("agent-1");
    runner =
        new ExecutorRunner(
            work,
            timers,
            (f, s) -> updates.add(s),
            tasks,
            Duration.ofMillis(200),
            Duration.ofMinutes(3));
  }

  @AfterEach
  void stop() {
    runner.close();
    tasks.close();
    timers.shutdownNow();
  }

  static ExecutorInfo executor(String id) {
    return ExecutorInfo.newBuilder()
        .setExecutorId(id)
        .setCommand(CommandInfo.newBuilder().setValue("exec sleep 1000.8282"))
        .build();
  }

  static TaskInfo task(String id, String executorId, double cpus) {
    return TaskInfo.newBuilder()
        .setTaskId(id)
        .addResources(Resource.newBuilder().setName("cpus").setScalar(cpus))
        .setCommand(CommandInfo.newBuilder().setValue("true"))
        .setExecutor(executor(executorId))
        .build();
  }

  static ByteString uuid(int n) {
    byte[] b = new byte[16];
    b[15] = (byte) n;
    return ByteString.copyFrom(b);
  }

  static TaskStatus status(String task, TaskState state, int uuid) {
    return TaskStatus.newBuilder().setTaskId(task).setState(state).setUuid(uuid(uuid)).build();
  }

  ExecutorRunner.Run subscribed(String executorId) {
    ExecutorRunner.Run run =
        await()
            .atMost(PATIENCE)
            .until(() -> runner.run("fw", executorId), Optional::isPresent)
            .orElseThrow();
    runner.subscribe(run, Call.Subscribe.getDefaultInstance(), stream);
    return run;
  }

  List<Event.EventCase> kinds() {
    return events.stream().map(Event::getEventCase).toList();
  }

  TaskStatus awaitUpdate(String task, TaskState state) {
    return await()
        .atMost(PATIENCE)
        .until(
            () ->
                updates.stream()
                    .filter(u -> u.getTaskId().equals(task) && u.getState() == state)
                    .findFirst(),
            Optional::isPresent)
        .orElseThrow();
  }

  @Test
  void invalidExecutorsAndTasksThatDoNotFitAreRefused() {
    runner.launch(FRAMEWORK, task("t1", "../x", 0.1));
    runner.launch(FRAMEWORK, task("t2", "ex", 2.0));
    TaskInfo noCommand =
        task("t3", "ex", 0.1).toBuilder()
            .setExecutor(ExecutorInfo.newBuilder().setExecutorId("ex"))
            .build();
    runner.launch(FRAMEWORK, noCommand);
    assertThat(updates)
        .extracting(TaskStatus::getTaskId, TaskStatus::getState, TaskStatus::getReason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "t1", TaskState.TASK_ERROR, Reason.REASON_TASK_INVALID),
            org.assertj.core.groups.Tuple.tuple(
                "t2", TaskState.TASK_DROPPED, Reason.REASON_UNSPECIFIED),
            org.assertj.core.groups.Tuple.tuple(
                "t3", TaskState.TASK_ERROR, Reason.REASON_TASK_INVALID));
    assertThat(updates.get(0).getMessage()).contains("executor.executor_id");
    assertThat(updates.get(1).getMessage()).contains("only 1.0 of 1.0 are free");
    assertThat(runner.executors()).isZero();
    assertThat(tasks.used()).isEmpty();
  }

  @Test
  void tasksWaitForTheSubscriptionAndShareTheExecutor() {
    runner.launch(FRAMEWORK, task("t1", "ex", 0.25));
    runner.launch(FRAMEWORK, task("t2", "ex", 0.25));
    assertThat(tasks.used()).containsEntry("cpus", 0.5);
    ExecutorRunner.Run run = subscribed("ex");
    assertThat(runner.executors()).isEqualTo(1);
    assertThat(kinds())
        .containsExactly(
            Event.EventCase.SUBSCRIBED, Event.EventCase.LAUNCH, Event.EventCase.LAUNCH);
    assertThat(events.get(0).getSubscribed().getAgentId()).isEqualTo("agent-1");
    runner.launch(FRAMEWORK, task("t3", "ex", 0.25));
    assertThat(events.get(3).getLaunch().getTask().getTaskId()).isEqualTo("t3");
    assertThat(runner.tasks()).hasSize(3);

    // Another ExecutorInfo under the same ID is refused.
    TaskInfo other =
        task("t4", "ex", 0.1).toBuilder()
            .setExecutor(executor("ex").toBuilder().setName("another"))
            .build();
    runner.launch(FRAMEWORK, other);
    assertThat(awaitUpdate("t4", TaskState.TASK_ERROR).getMessage())
        .contains("another ExecutorInfo");
    assertThat(runner.environment(run))
        .containsEntry("KMESOS_EXECUTOR_TOKEN", run.token)
        .containsEntry("MESOS_RECOVERY_TIMEOUT", "180000ms")
        .containsEntry("MESOS_CHECKPOINT", "0");
  }

  @Test
  void updatesKeepTheirUuidAndAcknowledgementsReachTheExecutor() {
    runner.launch(FRAMEWORK, task("t1", "ex", 0.25));
    ExecutorRunner.Run run = subscribed("ex");
    runner.update(run, status("t1", TaskState.TASK_RUNNING, 1));
    runner.update(run, status("t1", TaskState.TASK_RUNNING, 1)); // re-sent: taken once
    assertThat(updates).hasSize(1);
    TaskStatus sent = updates.get(0);
    assertThat(sent.getUuid()).isEqualTo(uuid(1));
    assertThat(sent.getAgentId()).isEqualTo("agent-1");
    assertThat(sent.getFrameworkId()).isEqualTo("fw");
    assertThat(sent.getSource()).isEqualTo(TaskStatus.Source.SOURCE_EXECUTOR);
    assertThat(sent.hasTimestamp()).isTrue();

    // Refused: no 16-byte uuid, STAGING, a task that is not the executor's.
    runner.update(
        run, status("t1", TaskState.TASK_RUNNING, 2).toBuilder().setUuid(ByteString.EMPTY).build());
    runner.update(run, status("t1", TaskState.TASK_STAGING, 3));
    runner.update(run, status("nope", TaskState.TASK_RUNNING, 4));
    assertThat(events.stream().filter(Event::hasError).map(e -> e.getError().getMessage()))
        .hasSize(3)
        .anyMatch(m -> m.contains("uuid must be 16 bytes"))
        .anyMatch(m -> m.contains("TASK_STAGING"))
        .anyMatch(m -> m.contains("not a live task"));
    assertThat(updates).hasSize(1);

    List<ByteString> acked = new CopyOnWriteArrayList<>();
    StatusUpdates path = runner.acknowledging(new AcceptingUpdates(acked));
    path.acknowledge("fw", "t1", uuid(1));
    assertThat(acked).containsExactly(uuid(1));
    assertThat(events.get(events.size() - 1).getAcknowledged().getUuid()).isEqualTo(uuid(1));
  }

  @Test
  void theLastTaskEndingShutsTheExecutorDown() {
    runner.launch(FRAMEWORK, task("t1", "ex", 0.25));
    ExecutorRunner.Run run = subscribed("ex");
    long pid = runner.pid("fw", "ex").orElseThrow();
    runner.update(run, status("t1", TaskState.TASK_RUNNING, 1));
    runner.update(run, status("t1", TaskState.TASK_FINISHED, 2));
    assertThat(tasks.used()).isEmpty();
    assertThat(kinds()).contains(Event.EventCase.SHUTDOWN);
    // The sleep ignores SHUTDOWN: killed after the grace period.
    await().atMost(PATIENCE).until(() -> runner.executors() == 0);
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(updates).hasSize(2); // no task was left to fail
    // A new task starts a new run.
    runner.launch(FRAMEWORK, task("t2", "ex", 0.25));
    await().atMost(PATIENCE).until(() -> runner.pid("fw", "ex").isPresent());
    assertThat(runner.pid("fw", "ex").orElseThrow()).isNotEqualTo(pid);
  }

  @Test
  void aKillBeforeTheSubscriptionNeverReachesTheExecutorAndAKillAfterItDoes() {
    runner.launch(FRAMEWORK, task("t1", "ex", 0.25));
    runner.launch(FRAMEWORK, task("t2", "ex", 0.25));
    runner.kill("fw", "t1", Optional.empty());
    TaskStatus killed = awaitUpdate("t1", TaskState.TASK_KILLED);
    assertThat(killed.getReason()).isEqualTo(Reason.REASON_TASK_KILLED_DURING_LAUNCH);
    assertThat(runner.owns("fw", "t1")).isFalse();
    subscribed("ex");
    assertThat(
            events.stream().filter(Event::hasLaunch).map(e -> e.getLaunch().getTask().getTaskId()))
        .containsExactly("t2");
    runner.kill("fw", "t2", Optional.of(Duration.ofSeconds(7)));
    Event kill = events.get(events.size() - 1);
    assertThat(kill.getKill().getTaskId()).isEqualTo("t2");
    assertThat(kill.getKill().getGracePeriod().getSeconds()).isEqualTo(7);
  }

  @Test
  void anExecutorThatDiesFailsItsTasks() {
    runner.launch(FRAMEWORK, task("t1", "ex", 0.25));
    ExecutorRunner.Run run = subscribed("ex");
    runner.update(run, status("t1", TaskState.TASK_RUNNING, 1));
    ProcessHandle.of(runner.pid("fw", "ex").orElseThrow()).orElseThrow().destroyForcibly();
    TaskStatus failed = awaitUpdate("t1", TaskState.TASK_FAILED);
    assertThat(failed.getReason()).isEqualTo(Reason.REASON_EXECUTOR_TERMINATED);
    assertThat(failed.getSource()).isEqualTo(TaskStatus.Source.SOURCE_AGENT);
    assertThat(runner.executors()).isZero();
    assertThat(tasks.used()).isEmpty();
    assertThat(runner.byToken(run.token)).isEmpty();
  }

  @Test
  void onlyARunningExecutorsTokenNamesIt() {
    runner.launch(FRAMEWORK, task("t1", "ex", 0.25));
    ExecutorRunner.Run run = subscribed("ex");
    assertThat(runner.byToken(run.token)).contains(run);
    assertThat(runner.byToken("x" + run.token)).isEmpty();
    assertThat(runner.byToken(null)).isEmpty();
    assertThat(run.token).hasSizeGreaterThanOrEqualTo(43); // 256 bits, base64url
  }

  /** Plain directories stand for the cgroup file system: a pid written to cgroup.procs is kept. */
  Path cgroupFs() throws Exception {
    Path fs = work.resolve("cgroupfs");
    for (String h : List.of("cpu", "memory")) {
      Files.createDirectories(fs.resolve(h));
      Files.writeString(fs.resolve(h).resolve("cgroup.procs"), "");
    }
    return fs;
  }

  /**
   * With --task-cgroups the executor of a checkpointing framework joins its run's cgroups before it
   * runs (the joining shell execs it: the same pid); one of a framework without checkpointing stays
   * in the agent's. The run's cgroups go when the executor ended.
   */
  @Test
  void aCheckpointingFrameworksExecutorRunsInItsRunsCgroupsWhichGoWithIt() throws Exception {
    Path fs = cgroupFs();
    runner.useCgroups(TaskCgroups.open(fs, "/tasks", ""));
    FrameworkInfo plain = FRAMEWORK.toBuilder().setId("fw-plain").build();
    runner.launch(plain, task("p1", "plain", 0.1));
    runner.launch(FRAMEWORK.toBuilder().setCheckpoint(true).build(), task("t1", "ex", 0.1));
    ExecutorRunner.Run run = subscribed("ex");
    long pid =
        await().atMost(PATIENCE).until(() -> runner.pid("fw", "ex"), Optional::isPresent).get();
    await().atMost(PATIENCE).until(() -> runner.pid("fw-plain", "plain").isPresent());
    for (String h : List.of("cpu", "memory")) {
      Path procs = fs.resolve(h).resolve("tasks").resolve(run.runId).resolve("cgroup.procs");
      await()
          .atMost(PATIENCE)
          .until(() -> Files.exists(procs) && Files.readString(procs).strip().equals("" + pid));
      try (var cgroups = Files.list(fs.resolve(h).resolve("tasks"))) {
        assertThat(cgroups).containsExactly(procs.getParent()); // none for "plain"
      }
    }
    // It is the executor's own process that joined, the shell having exec'ed it.
    await()
        .atMost(PATIENCE)
        .until(() -> Files.readString(Path.of("/proc/" + pid + "/cmdline")).contains("1000.8282"));

    // The kernel empties a cgroup's cgroup.procs as its processes end; here the test does.
    for (String h : List.of("cpu", "memory")) {
      Files.delete(fs.resolve(h).resolve("tasks").resolve(run.runId).resolve("cgroup.procs"));
    }
    runner.update(run, status("t1", TaskState.TASK_FINISHED, 1)); // its last task: shut down
    await().atMost(PATIENCE).until(() -> runner.pid("fw", "ex").isEmpty());
    for (String h : List.of("cpu", "memory")) {
      Path cgroup = fs.resolve(h).resolve("tasks").resolve(run.runId);
      await().atMost(PATIENCE).until(() -> !Files.exists(cgroup));
    }
  }

  @Test
  void anExecutorWhoseCgroupCannotBeMadeFailsItsTasksWithoutRunning() throws Exception {
    Path fs = work.resolve("cgroupfs");
    Files.createDirectories(fs.resolve("memory"));
    Files.writeString(fs.resolve("memory/cgroup.procs"), "");
    runner.useCgroups(TaskCgroups.open(fs, "/tasks", ""));
    // The root went away (or is not the agent's to write): /proc takes no directory.
    Files.delete(fs.resolve("memory/tasks"));
    Files.createSymbolicLink(fs.resolve("memory/tasks"), Path.of("/proc/self"));
    runner.launch(FRAMEWORK.toBuilder().setCheckpoint(true).build(), task("t1", "ex", 0.25));
    TaskStatus failed = awaitUpdate("t1", TaskState.TASK_FAILED);
    assertThat(failed.getReason()).isEqualTo(Reason.REASON_CONTAINER_LAUNCH_FAILED);
    assertThat(failed.getMessage()).startsWith("The agent cannot make the executor's cgroup: ");
    assertThat(runner.executors()).isZero();
    assertThat(tasks.used()).isEmpty();
    assertThat(work.resolve("executors")).doesNotExist(); // nothing ran
  }

  @Test
  void aShellThatCannotJoinItsCgroupEndsBeforeTheExecutorRuns() throws Exception {
    // The kernel refuses a write to cgroup.procs (no permission, an empty cpuset): here a
    // directory stands in its way.
    Path cgroup = work.resolve("cgroup");
    Files.createDirectories(cgroup.resolve("cgroup.procs"));
    Path ran = work.resolve("ran");
    ExecutorInfo touching =
        executor("ex").toBuilder()
            .setCommand(CommandInfo.newBuilder().setValue("touch " + ran))
            .build();
    Process p =
        new ProcessBuilder(ExecutorRunner.command(touching, List.of(cgroup)))
            .directory(work.toFile())
            .start();
    assertThat(p.waitFor()).isEqualTo(ExecutorRunner.CGROUP_JOIN_FAILED);
    assertThat(ran).doesNotExist();
  }

  /** An update path whose every acknowledgement is of the head. */
  record AcceptingUpdates(List<ByteString> acked) implements StatusUpdates {
    @Override
    public TaskStatus add(FrameworkInfo framework, TaskStatus status) {
      return status;
    }

    @Override
    public boolean acknowledge(String frameworkId, String taskId, ByteString uuid) {
      acked.add(uuid);
      return true;
    }

    @Override
    public void connected(Consumer<StatusUpdate> sender) {}

    @Override
    public void disconnected() {}

    @Override
    public void dropFramework(String frameworkId) {}

    @Override
    public List<Pending> pending() {
      return List.of();
    }
  }
}
