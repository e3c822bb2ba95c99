package io.kmesos.agent.recovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.kmesos.agent.checkpoint.CheckpointCorruptException;
import io.kmesos.agent.checkpoint.CheckpointStore;
import io.kmesos.agent.executors.ExecutorRunner;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
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

/**
 * Recovery of one agent's work directory by the next, with real task processes and real
 * checkpoints. The first "agent" is abandoned without stopping (as a crash leaves it); its tasks
 * stay the JVM's children here, which the separate-process test (AgentRecoveryIT in module local)
 * does not have: there they are orphans.
 */
class AgentRecoveryTest {
  static final String AGENT = "agent-uid-1";
  static final String BOOT = "boot-1";
  static final FrameworkInfo FRAMEWORK =
      FrameworkInfo.newBuilder()
          .setId("fw-1")
          .setName("fw")
          .setCheckpoint(true)
          .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
          .build();

  @TempDir Path work;
  final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);

  /** One agent's parts on {@link #work}. */
  final class Agent {
    final TaskCheckpoints checkpoints;
    final StatusUpdateQueues updates;
    final TaskRunner runner;
    final ExecutorRunner executors;
    final List<StatusUpdate> sent = new CopyOnWriteArrayList<>();

    Agent() throws Exception {
      checkpoints =
          new TaskCheckpoints(CheckpointStore.open(work), work, BOOT, Duration.ofHours(1), timers);
      updates =
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
              work,
              Map.of("cpus", 4.0),
              Duration.ofSeconds(5),
              timers,
              (f, s) -> updates.add(f, s),
              checkpoints);
      runner.setAgentId(AGENT);
      // The agent's executor runner, with no executors: these tests checkpoint command tasks.
      executors =
          new ExecutorRunner(
              work,
              timers,
              (f, s) -> updates.add(f, s),
              runner,
              Duration.ofSeconds(5),
              Duration.ofMinutes(15),
              checkpoints,
              Duration.ofSeconds(10));
    }

    AgentRecovery.Outcome recover(AgentRecovery.Mode mode, String agentId, String bootId)
        throws Exception {
      AgentRecovery.Outcome o =
          new AgentRecovery(
                  work,
                  mode,
                  true,
                  agentId,
                  "host",
                  bootId,
                  Duration.ofHours(1),
                  checkpoints,
                  runner,
                  updates,
                  executors)
              .recover();
      updates.connected(sent::add);
      return o;
    }

    /**
     * Stops acting, as a dead agent: the runner stops (checkpointed tasks keep running and nothing
     * more is reported of them), nothing more is sent or checkpointed.
     */
    void crash() {
      executors.close();
      runner.close();
      updates.disconnected();
      checkpoints.close();
    }

    /** The framework acknowledges everything sent so far, in order, until nothing is left. */
    void acknowledgeAll() {
      for (int i = 0; i < sent.size(); i++) {
        TaskStatus s = sent.get(i).getStatus();
        updates.acknowledge(FRAMEWORK.getId(), s.getTaskId(), s.getUuid());
      }
    }

    Optional<TaskStatus> last(String taskId) {
      TaskStatus found = null;
      for (StatusUpdate u : sent) {
        if (u.getStatus().getTaskId().equals(taskId)) {
          found = u.getStatus();
        }
      }
      return Optional.ofNullable(found);
    }
  }

  @AfterEach
  void stop() {
    timers.shutdownNow();
    // Kill whatever a test left running: every task runs in its own session, under work.
    Orphans.bySandbox(work.resolve("sandboxes")).values().stream()
        .flatMap(List::stream)
        .map(ProcessHandle::of)
        .flatMap(Optional::stream)
        .forEach(ProcessHandle::destroyForcibly);
  }

  static TaskInfo task(String id, String command) {
    return TaskInfo.newBuilder()
        .setTaskId(id)
        .setName(id)
        .setCommand(CommandInfo.newBuilder().setValue(command))
        .build();
  }

  private Agent firstAgentWith(Path gate) throws Exception {
    Agent first = new Agent();
    first.recover(AgentRecovery.Mode.RECONNECT, AGENT, BOOT);
    first.runner.launch(FRAMEWORK, task("sleeper", "sleep 600"));
    first.runner.launch(
        FRAMEWORK, task("ok", "while [ ! -e " + gate + " ]; do sleep 0.05; done; exit 0"));
    first.runner.launch(
        FRAMEWORK, task("bad", "while [ ! -e " + gate + " ]; do sleep 0.05; done; exit 7"));
    await()
        .atMost(Duration.ofMinutes(1))
        .until(
            () ->
                Stream.of("sleeper", "ok", "bad")
                    .allMatch(
                        id ->
                            first
                                .last(id)
                                .map(s -> s.getState() == TaskState.TASK_RUNNING)
                                .orElse(false)));
    first.acknowledgeAll();
    return first;
  }

  @Test
  void aProcessBelowARunsSandboxIsThatRunsAndOneOutsideTheRootsIsNone() {
    Path sandboxes = Path.of("/w/sandboxes");
    Path executors = Path.of("/w/executors");
    List<Path> roots = List.of(sandboxes, executors);
    assertThat(Orphans.runSandbox(Path.of("/w/executors/fw/ex/run/tasks/t1"), roots))
        .contains(Path.of("/w/executors/fw/ex/run"));
    assertThat(Orphans.runSandbox(Path.of("/w/executors/fw/ex/run"), roots))
        .contains(Path.of("/w/executors/fw/ex/run"));
    assertThat(Orphans.runSandbox(Path.of("/w/sandboxes/fw/t/run/x/../y"), roots))
        .contains(Path.of("/w/sandboxes/fw/t/run"));
    assertThat(Orphans.runSandbox(Path.of("/w/sandboxes/fw/t"), roots)).isEmpty();
    assertThat(Orphans.runSandbox(Path.of("/w/sandboxes/../other/fw/t/run"), roots)).isEmpty();
    assertThat(Orphans.runSandbox(Path.of("/elsewhere/fw/t/run"), roots)).isEmpty();
  }

  @Test
  void runningTasksAreReadoptedAndThoseThatEndedReportTheirExitStatus() throws Exception {
    Path gate = work.resolve("gate");
    Agent first = firstAgentWith(gate);
    assertThat(first.runner.tasks()).hasSize(3);
    first.crash(); // the first agent "dies": nothing of it acts any more
    Files.createFile(gate);
    await()
        .atMost(Duration.ofMinutes(1))
        .until(
            () ->
                Files.exists(TaskRunner.exitStatusFile(work, runOf(first, "ok")))
                    && Files.exists(TaskRunner.exitStatusFile(work, runOf(first, "bad")))
                    // The shell writes the status, then exits: until it has, the task still runs
                    // (and a recovery then would rightly re-adopt it).
                    && ended(first, "ok")
                    && ended(first, "bad"));

    Agent second = new Agent();
    AgentRecovery.Outcome outcome = second.recover(AgentRecovery.Mode.RECONNECT, AGENT, BOOT);
    assertThat(outcome.registeredBefore()).isTrue();
    assertThat(outcome.adopted()).isEqualTo(1);
    assertThat(outcome.ended()).isEqualTo(2);
    assertThat(second.runner.tasks())
        .singleElement()
        .satisfies(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_RUNNING));
    assertThat(second.last("ok").orElseThrow().getState()).isEqualTo(TaskState.TASK_FINISHED);
    assertThat(second.last("bad").orElseThrow().getState()).isEqualTo(TaskState.TASK_FAILED);
    assertThat(second.last("bad").orElseThrow().getExitCode()).isEqualTo(7);
    assertThat(second.last("sleeper")).isEmpty(); // nothing new to say about it
    second.acknowledgeAll();

    second.runner.kill(FRAMEWORK.getId(), "sleeper", Optional.of(Duration.ofSeconds(5)));
    await()
        .atMost(Duration.ofMinutes(1))
        .until(
            () ->
                second
                    .last("sleeper")
                    .map(s -> s.getState() == TaskState.TASK_KILLED)
                    .orElse(false));
    assertThat(Orphans.bySandbox(work.resolve("sandboxes"))).isEmpty();
  }

  @Test
  void unacknowledgedUpdatesAreSentAgainWithTheirUuidsHeadFirst() throws Exception {
    Agent first = new Agent();
    first.recover(AgentRecovery.Mode.RECONNECT, AGENT, BOOT);
    first.runner.launch(FRAMEWORK, task("quick", "exit 3"));
    await()
        .atMost(Duration.ofMinutes(1))
        .until(() -> first.runner.tasks().isEmpty() && !first.sent.isEmpty());
    // RUNNING was sent, not acknowledged; FAILED waits behind it.
    TaskStatus running = first.sent.get(0).getStatus();
    assertThat(running.getState()).isEqualTo(TaskState.TASK_RUNNING);
    first.crash();

    Agent second = new Agent();
    second.recover(AgentRecovery.Mode.RECONNECT, AGENT, BOOT);
    assertThat(second.sent).hasSize(1);
    assertThat(second.sent.get(0).getStatus()).isEqualTo(running);
    assertThat(second.sent.get(0).getLatestState()).isEqualTo(TaskState.TASK_FAILED);
    second.updates.acknowledge(FRAMEWORK.getId(), "quick", running.getUuid());
    assertThat(second.sent.get(1).getStatus().getState()).isEqualTo(TaskState.TASK_FAILED);
    assertThat(second.sent.get(1).getStatus().getExitCode()).isEqualTo(3);
  }

  @Test
  void cleanupKillsWhatStillRunsAndReportsItKilled() throws Exception {
    Agent first = firstAgentWith(work.resolve("never"));
    first.crash();
    Agent second = new Agent();
    AgentRecovery.Outcome outcome = second.recover(AgentRecovery.Mode.CLEANUP, AGENT, BOOT);
    assertThat(outcome.killed()).isEqualTo(3);
    for (String id : List.of("sleeper", "ok", "bad")) {
      TaskStatus s = second.last(id).orElseThrow();
      assertThat(s.getState()).isEqualTo(TaskState.TASK_KILLED);
      assertThat(s.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_RESTARTED);
    }
    assertThat(second.runner.tasks()).isEmpty();
    await()
        .atMost(Duration.ofMinutes(1))
        .until(() -> Orphans.bySandbox(work.resolve("sandboxes")).isEmpty());
  }

  @Test
  void afterARebootNothingIsReadoptedAndTheTasksAreGone() throws Exception {
    Agent first = firstAgentWith(work.resolve("never"));
    first.crash();
    Agent second = new Agent();
    second.recover(AgentRecovery.Mode.RECONNECT, AGENT, "boot-2");
    for (String id : List.of("sleeper", "ok", "bad")) {
      TaskStatus s = second.last(id).orElseThrow();
      assertThat(s.getState()).isEqualTo(TaskState.TASK_GONE);
      assertThat(s.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REBOOTED);
    }
    assertThat(second.runner.tasks()).isEmpty();
    // The processes of "before the reboot" (still here: this machine did not reboot) are killed.
    await()
        .atMost(Duration.ofMinutes(1))
        .until(() -> Orphans.bySandbox(work.resolve("sandboxes")).isEmpty());
  }

  @Test
  void checkpointsOfAnotherAgentIdAreNotRecoveredAndTheirProcessesAreKilled() throws Exception {
    Agent first = firstAgentWith(work.resolve("never"));
    first.crash();
    Agent second = new Agent();
    AgentRecovery.Outcome outcome =
        second.recover(AgentRecovery.Mode.RECONNECT, "agent-uid-2", BOOT);
    assertThat(outcome.registeredBefore()).isFalse();
    assertThat(second.sent).isEmpty();
    assertThat(second.runner.tasks()).isEmpty();
    assertThat(outcome.orphansKilled()).isEqualTo(3);
    assertThat(work.resolve("meta/frameworks/fw-1")).doesNotExist();
  }

  @Test
  void aDamagedCheckpointStopsAStrictRecoveryNamingTheFile() throws Exception {
    Agent first = firstAgentWith(work.resolve("never"));
    first.crash();
    Path info = work.resolve("meta/frameworks/fw-1/framework.info");
    byte[] bytes = Files.readAllBytes(info);
    bytes[bytes.length / 2] ^= 0x10;
    Files.write(info, bytes);
    Agent second = new Agent();
    assertThatThrownBy(() -> second.recover(AgentRecovery.Mode.RECONNECT, AGENT, BOOT))
        .isInstanceOf(CheckpointCorruptException.class)
        .hasMessageContaining(info.toString())
        .hasMessageContaining("--strict=false");
  }

  /** Whether no live process is left in the sandbox of the task's run. */
  private boolean ended(Agent agent, String taskId) throws Exception {
    Path sandbox =
        work.resolve("sandboxes/fw-1")
            .resolve(taskId)
            .resolve(runOf(agent, taskId))
            .toAbsolutePath()
            .normalize();
    return !Orphans.bySandbox(work.resolve("sandboxes")).containsKey(sandbox);
  }

  /** The run ID of a task the agent ran, from its sandbox directory. */
  private String runOf(Agent agent, String taskId) throws Exception {
    try (Stream<Path> runs = Files.list(work.resolve("sandboxes/fw-1").resolve(taskId))) {
      return runs.findFirst().orElseThrow().getFileName().toString();
    }
  }
}
