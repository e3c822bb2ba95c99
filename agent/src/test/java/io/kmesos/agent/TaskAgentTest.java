package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.ShutdownFramework;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the master's commands do to tasks and their updates, with real processes. */
class TaskAgentTest {
  static final Duration PATIENCE = Duration.ofSeconds(60);

  @TempDir Path work;
  final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);
  final StatusUpdateQueues updates =
      new StatusUpdateQueues(RetryTimer.of(timers), Duration.ofSeconds(10), Duration.ofMinutes(10));
  final List<StatusUpdate> sent = new CopyOnWriteArrayList<>();
  TaskAgent agent;

  @BeforeEach
  void start() {
    agent =
        new TaskAgent(
            work,
            Map.of("cpus", 2.0, "mem", 512.0),
            Duration.ofSeconds(5),
            timers,
            updates,
            () -> Optional.of("agent-1"));
  }

  @AfterEach
  void stop() {
    agent.close();
    timers.shutdownNow();
  }

  static RunTask run(String framework, String task) {
    return RunTask.newBuilder()
        .setFramework(FrameworkInfo.newBuilder().setId(framework))
        .setTask(
            TaskInfo.newBuilder()
                .setTaskId(task)
                .addResources(Resource.newBuilder().setName("cpus").setScalar(0.5))
                .setCommand(CommandInfo.newBuilder().setValue("sleep 1000")))
        .build();
  }

  @Test
  void updatesCarryTheAgentIdAndTheReportShowsWhatRuns() {
    updates.connected(sent::add);
    assertThat(agent.agentId()).contains("agent-1");
    agent.runTask(run("fw", "t"));
    await().atMost(PATIENCE).until(() -> !sent.isEmpty());
    assertThat(sent.get(0).getStatus().getAgentId()).isEqualTo("agent-1");
    assertThat(sent.get(0).getStatus().getState()).isEqualTo(TaskState.TASK_RUNNING);
    assertThat(agent.report().tasksRunning()).isEqualTo(1);
    assertThat(agent.report().used()).isEqualTo(Map.of("cpus", 0.5, "mem", 0.0));
    assertThat(agent.report().free()).isEqualTo(Map.of("cpus", 1.5, "mem", 512.0));
    assertThat(agent.frameworks()).containsOnlyKeys("fw");

    agent.killTask(KillTask.newBuilder().setFrameworkId("fw").setTaskId("t").build());
    await().atMost(PATIENCE).until(() -> agent.report().tasksRunning() == 0);
    assertThat(agent.report().used()).isEqualTo(Map.of("cpus", 0.0, "mem", 0.0));
    assertThat(updates.pending())
        .singleElement()
        .satisfies(p -> assertThat(p.latestState()).isEqualTo(TaskState.TASK_KILLED));
  }

  @Test
  void shutdownFrameworkKillsItsTasksAndDropsTheirUpdates() {
    agent.runTask(run("gone", "a"));
    agent.runTask(run("stays", "b"));
    agent.shutdownFramework(ShutdownFramework.newBuilder().setFrameworkId("gone").build());
    await()
        .atMost(PATIENCE)
        .until(() -> agent.report().tasksRunning() == 1 && !updates.pending().isEmpty());
    assertThat(updates.pending()).extracting(p -> p.framework().getId()).containsOnly("stays");
    agent.runTask(run("gone", "c"));
    assertThat(agent.tasks()).extracting(t -> t.getInfo().getTaskId()).containsExactly("b");
  }

  @Test
  void badOptionsAreNamed() {
    StringWriter err = new StringWriter();
    int code =
        OneLineErrors.commandLine(new AgentMain(), name -> null)
            .setErr(new PrintWriter(err))
            .execute("--node-name", "n", "--work-dir", work.toString(), "--master", "no-port");
    assertThat(code).isNotZero();
    assertThat(err.toString()).contains("--master: 'no-port' is not host:port");

    err.getBuffer().setLength(0);
    code =
        OneLineErrors.commandLine(new AgentMain(), name -> null)
            .setErr(new PrintWriter(err))
            .execute("--node-name", "n", "--work-dir", work.toString(), "--master", "m:5050");
    assertThat(code).isNotZero();
    assertThat(err.toString()).contains("--tls-dir is missing");
  }
}
