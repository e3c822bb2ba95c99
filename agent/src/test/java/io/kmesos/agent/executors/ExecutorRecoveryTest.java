package io.kmesos.agent.executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.kmesos.agent.checkpoint.CheckpointStore;
import io.kmesos.agent.checkpoint.MetaLayout;
import io.kmesos.agent.recovery.AgentRecovery;
import io.kmesos.agent.recovery.TaskCheckpoints;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.agent.updates.StatusUpdates;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpointed custom executors recovered by the next agent on the same work directory, with real
 * executor processes (a {@code sleep}; the test subscribes in its place) and real checkpoints. The
 * first "agent" is abandoned without stopping, as a crash leaves it.
 */
class ExecutorRecoveryTest {
  static final Duration PATIENCE = Duration.ofSeconds(60);
  static final FrameworkInfo FRAMEWORK =
      FrameworkInfo.newBuilder()
          .setId("fw")
          .setCheckpoint(true)
          .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
          .build();
  static final ExecutorInfo EXECUTOR =
      ExecutorInfo.newBuilder()
          .setExecutorId("ex")
          .setCommand(CommandInfo.newBuilder().setValue("exec sleep 1000.3434"))
          .build();
  static final TaskInfo TASK =
      TaskInfo.newBuilder()
          .setTaskId("t")
          .addResources(Resource.newBuilder().setName("cpus").setScalar(0.5))
          .setCommand(CommandInfo.newBuilder().setValue("true"))
          .setExecutor(EXECUTOR)
          .build();

  @TempDir Path work;
  final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);
  final List<Agent> agents = new CopyOnWriteArrayList<>();

  final class Agent {
    final TaskCheckpoints checkpoints;
    final StatusUpdateQueues queues;
    final TaskRunner runner;
    final ExecutorRunner executors;
    final List<Event> events = new CopyOnWriteArrayList<>();
    final Duration gcDelay;

    Agent(Duration reregistrationTimeout) throws Exception {
      this(reregistrationTimeout, Duration.ofMillis(200), Duration.ofHours(1));
    }

    Agent(Duration reregistrationTimeout, Duration shutdownGrace, Duration gcDelay)
        throws Exception {
      this.gcDelay = gcDelay;
      checkpoints = new TaskCheckpoints(CheckpointStore.open(work), work, "boot", gcDelay, timers);
      queues =
          new StatusUpdateQueues(
              RetryTimer.of(timers),
              Duration.ofSeconds(30),
              Duration.ofSeconds(60),
              checkpoints,
              e -> {
                throw new AssertionError(e);
              });
      runner =
          new TaskRunner(
              work, Map.of("cpus", 1.0), Duration.ofSeconds(1), timers, queues::add, checkpoints);
      runner.setAgentId("agent-1");
      executors =
          new ExecutorRunner(
              work,
              timers,
              queues::add,
              runner,
              shutdownGrace,
              Duration.ofMinutes(15),
              checkpoints,
              reregistrationTimeout);
      agents.add(this);
    }

    AgentRecovery.Outcome recover(AgentRecovery.Mode mode) throws Exception {
      return new AgentRecovery(
              work,
              mode,
              true,
              "agent-1",
              "host",
              "boot",
              gcDelay,
              checkpoints,
              runner,
              queues,
              executors)
          .recover();
    }

    ExecutorRunner.Run subscribe(Call.Subscribe subscribe) {
      ExecutorRunner.Run run =
          await()
              .atMost(PATIENCE)
              .until(() -> executors.run("fw", "ex"), Optional::isPresent)
              .orElseThrow();
      executors.subscribe(
          run,
          subscribe,
          new StreamObserver<>() {
            @Override
            public void onNext(Event e) {
              events.add(e);
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          });
      return run;
    }

    /** What the task's queue holds: head first. */
    Optional<StatusUpdates.Pending> pending() {
      return queues.pending().stream().filter(p -> p.head().getTaskId().equals("t")).findFirst();
    }

    /** Abandoned, as a dead agent: nothing more is checkpointed; processes keep running. */
    void crash() {
      runner.close();
      executors.close(); // kills the executors of frameworks without checkpoint only
      checkpoints.close();
    }
  }

  @AfterEach
  void stop() {
    for (Agent a : agents) {
      a.executors.killAllAndClose();
      a.runner.close();
    }
    timers.shutdownNow();
  }

  static ByteString uuid(int n) {
    byte[] b = new byte[16];
    b[15] = (byte) n;
    return ByteString.copyFrom(b);
  }

  static final TaskStatus RUNNING =
      TaskStatus.newBuilder()
          .setTaskId("t")
          .setState(TaskState.TASK_RUNNING)
          .setUuid(uuid(1))
          .build();

  /** A first agent whose executor runs the task, RUNNING checkpointed, then the agent dies. */
  Agent crashedWithALiveExecutor() throws Exception {
    Agent first = new Agent(Duration.ofSeconds(10));
    first.recover(AgentRecovery.Mode.RECONNECT); // an empty work directory: the agent's info
    first.executors.launch(FRAMEWORK, TASK);
    ExecutorRunner.Run run = first.subscribe(Call.Subscribe.getDefaultInstance());
    first.executors.update(run, RUNNING);
    assertThat(first.pending().orElseThrow().head().getUuid()).isEqualTo(uuid(1));
    first.crash();
    return first;
  }

  @Test
  void aLiveExecutorIsReadoptedAndReSubscribesWithItsToken() throws Exception {
    Agent first = crashedWithALiveExecutor();
    long pid = first.executors.pid("fw", "ex").orElseThrow();
    String token = first.executors.run("fw", "ex").orElseThrow().token;

    Agent second = new Agent(Duration.ofSeconds(30));
    AgentRecovery.Outcome o = second.recover(AgentRecovery.Mode.RECONNECT);
    assertThat(o.adopted()).isEqualTo(1);
    assertThat(second.executors.pid("fw", "ex")).contains(pid);
    assertThat(second.executors.byToken(token)).isPresent();
    assertThat(second.executors.tasks())
        .singleElement()
        .satisfies(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_RUNNING));
    assertThat(second.runner.used()).containsEntry("cpus", 0.5);
    // Its unacknowledged RUNNING is queued again once, whether the executor re-sends it or not.
    second.subscribe(Call.Subscribe.newBuilder().addUnacknowledgedUpdates(RUNNING).build());
    assertThat(second.events).extracting(Event::getEventCase).contains(Event.EventCase.SUBSCRIBED);
    assertThat(second.events).noneMatch(Event::hasLaunch).noneMatch(Event::hasError);
    assertThat(second.pending().orElseThrow().head().getUuid()).isEqualTo(uuid(1));
    assertThat(second.pending().orElseThrow().latestState()).isEqualTo(TaskState.TASK_RUNNING);
  }

  @Test
  void anUpdateAcknowledgedWhileTheAgentWasAwayIsAcknowledgedToTheExecutor() throws Exception {
    Agent first = new Agent(Duration.ofSeconds(10));
    first.recover(AgentRecovery.Mode.RECONNECT);
    first.executors.launch(FRAMEWORK, TASK);
    ExecutorRunner.Run run = first.subscribe(Call.Subscribe.getDefaultInstance());
    first.executors.update(run, RUNNING);
    first.queues.acknowledge("fw", "t", uuid(1)); // journaled; the executor never heard of it
    first.crash();

    Agent second = new Agent(Duration.ofSeconds(30));
    second.recover(AgentRecovery.Mode.RECONNECT);
    second.subscribe(Call.Subscribe.newBuilder().addUnacknowledgedUpdates(RUNNING).build());
    assertThat(second.events)
        .filteredOn(Event::hasAcknowledged)
        .singleElement()
        .satisfies(e -> assertThat(e.getAcknowledged().getUuid()).isEqualTo(uuid(1)));
    assertThat(second.pending()).as("not queued again").isEmpty();
    assertThat(second.executors.tasks()).hasSize(1);
  }

  @Test
  void anExecutorThatDoesNotReSubscribeInTimeIsDestroyed() throws Exception {
    Agent first = crashedWithALiveExecutor();
    long pid = first.executors.pid("fw", "ex").orElseThrow();
    Agent second = new Agent(Duration.ofMillis(300));
    second.recover(AgentRecovery.Mode.RECONNECT);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                second.pending().map(p -> p.latestState() == TaskState.TASK_FAILED).orElse(false));
    await().atMost(PATIENCE).until(() -> second.executors.executors() == 0);
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(second.runner.used()).isEmpty();
    // The failure is checkpointed with its reason: a third agent finds it.
    Agent third = new Agent(Duration.ofSeconds(30));
    second.crash();
    third.recover(AgentRecovery.Mode.RECONNECT);
    assertThat(third.executors.executors()).isZero();
    assertThat(third.pending().orElseThrow().latestState()).isEqualTo(TaskState.TASK_FAILED);
  }

  @Test
  void anExecutorThatDiedWhileTheAgentWasAwayFailsItsTasks() throws Exception {
    Agent first = crashedWithALiveExecutor();
    ProcessHandle executor =
        ProcessHandle.of(first.executors.pid("fw", "ex").orElseThrow()).orElseThrow();
    executor.destroyForcibly();
    await().atMost(PATIENCE).until(() -> !executor.isAlive());
    Agent second = new Agent(Duration.ofSeconds(30));
    AgentRecovery.Outcome o = second.recover(AgentRecovery.Mode.RECONNECT);
    assertThat(o.ended()).isEqualTo(1);
    assertThat(second.executors.executors()).isZero();
    StatusUpdates.Pending p = second.pending().orElseThrow();
    assertThat(p.head().getUuid()).isEqualTo(uuid(1)); // RUNNING still to deliver first
    assertThat(p.latestState()).isEqualTo(TaskState.TASK_FAILED);
    second.queues.acknowledge("fw", "t", uuid(1));
    TaskStatus failed = second.pending().orElseThrow().head();
    assertThat(failed.getReason()).isEqualTo(Reason.REASON_EXECUTOR_TERMINATED);
  }

  static TaskStatus update(TaskState state, int uuid) {
    return RUNNING.toBuilder().setState(state).setUuid(uuid(uuid)).build();
  }

  /**
   * Every task of the executor ended and was acknowledged (its run completed), but the agent died
   * before the executor exited: the next agent finds it by its sandbox and kills it.
   */
  @Test
  void anExecutorWhoseRunCompletedBeforeItExitedIsKilledAsAnOrphan() throws Exception {
    // A long shutdown grace period: the first agent does not kill it before it dies.
    Agent first = new Agent(Duration.ofSeconds(10), Duration.ofMinutes(10), Duration.ofHours(1));
    first.recover(AgentRecovery.Mode.RECONNECT);
    first.executors.launch(FRAMEWORK, TASK);
    ExecutorRunner.Run run = first.subscribe(Call.Subscribe.getDefaultInstance());
    long pid = first.executors.pid("fw", "ex").orElseThrow();
    first.executors.update(run, RUNNING);
    first.queues.acknowledge("fw", "t", uuid(1));
    first.executors.update(run, update(TaskState.TASK_FINISHED, 2));
    first.queues.acknowledge("fw", "t", uuid(2)); // the run completed; SHUTDOWN was sent
    assertThat(new MetaLayout(work).runCompleted("fw", "ex", run.runId)).exists();
    first.crash();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);

    Agent second = new Agent(Duration.ofSeconds(30));
    AgentRecovery.Outcome o = second.recover(AgentRecovery.Mode.RECONNECT);
    assertThat(o.orphansKilled()).isEqualTo(1);
    await().atMost(PATIENCE).until(() -> ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true));
    assertThat(second.executors.executors()).isZero();
  }

  /**
   * The processes an executor starts for its tasks in directories below its sandbox (as the example
   * executor does, with MESOS_SANDBOX pointing there) are its run's, not orphans: a re-adopted
   * executor keeps them.
   */
  @Test
  void aReadoptedExecutorKeepsTheProcessesOfItsTasksBelowItsSandbox() throws Exception {
    TaskInfo task =
        TASK.toBuilder()
            .setExecutor(
                EXECUTOR.toBuilder()
                    .setCommand(
                        CommandInfo.newBuilder()
                            .setValue(
                                "mkdir -p tasks/t && (cd tasks/t && MESOS_SANDBOX=$PWD exec sleep"
                                    + " 1000.3435) & echo $! > child; exec sleep 1000.3434")))
            .build();
    Agent first = new Agent(Duration.ofSeconds(10));
    first.recover(AgentRecovery.Mode.RECONNECT);
    first.executors.launch(FRAMEWORK, task);
    ExecutorRunner.Run run = first.subscribe(Call.Subscribe.getDefaultInstance());
    first.executors.update(run, RUNNING);
    Path childFile = run.sandbox.resolve("child");
    long child =
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    Files.exists(childFile) && !Files.readString(childFile).isBlank()
                        ? Long.parseLong(Files.readString(childFile).strip())
                        : null,
                java.util.Objects::nonNull);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                Files.readString(Path.of("/proc/" + child + "/environ"))
                    .contains("MESOS_SANDBOX=" + run.sandbox.resolve("tasks/t")));
    first.crash();

    Agent second = new Agent(Duration.ofSeconds(30));
    AgentRecovery.Outcome o = second.recover(AgentRecovery.Mode.RECONNECT);
    assertThat(o.adopted()).isEqualTo(1);
    assertThat(o.orphansKilled()).isZero();
    assertThat(ProcessHandle.of(child).map(ProcessHandle::isAlive)).contains(true);
  }

  /**
   * A completed run of a custom executor is garbage-collected after the GC delay, its sandbox under
   * executors/ with its checkpoints, once its executor ended.
   */
  @Test
  void aCompletedExecutorRunsSandboxIsCollectedAfterTheGcDelay() throws Exception {
    Agent agent = new Agent(Duration.ofSeconds(10), Duration.ofMillis(200), Duration.ZERO);
    agent.recover(AgentRecovery.Mode.RECONNECT);
    agent.executors.launch(FRAMEWORK, TASK);
    ExecutorRunner.Run run = agent.subscribe(Call.Subscribe.getDefaultInstance());
    long pid = agent.executors.pid("fw", "ex").orElseThrow();
    assertThat(run.sandbox).isDirectory();
    agent.executors.update(run, RUNNING);
    agent.queues.acknowledge("fw", "t", uuid(1));
    agent.executors.update(run, update(TaskState.TASK_FINISHED, 2));
    agent.queues.acknowledge("fw", "t", uuid(2));
    // The collection deletes the run's sandbox, then its parents once empty: wait for them all.
    await().atMost(PATIENCE).until(() -> !Files.exists(work.resolve("executors/fw")));
    assertThat(run.sandbox).doesNotExist();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(new MetaLayout(work).framework("fw")).doesNotExist();
  }

  @Test
  void cleanupKillsALiveExecutorAndItsTasks() throws Exception {
    Agent first = crashedWithALiveExecutor();
    long pid = first.executors.pid("fw", "ex").orElseThrow();
    Agent second = new Agent(Duration.ofSeconds(30));
    AgentRecovery.Outcome o = second.recover(AgentRecovery.Mode.CLEANUP);
    assertThat(o.killed()).isEqualTo(1);
    await().atMost(PATIENCE).until(() -> ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true));
    second.queues.acknowledge("fw", "t", uuid(1));
    TaskStatus killed = second.pending().orElseThrow().head();
    assertThat(killed.getState()).isEqualTo(TaskState.TASK_KILLED);
    assertThat(killed.getReason()).isEqualTo(Reason.REASON_AGENT_RESTARTED);
  }
}
