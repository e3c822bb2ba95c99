package io.kmesos.local;

import static io.kmesos.local.RestartableAgents.PATIENCE;
import static io.kmesos.local.RestartableAgents.taskProcesses;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.agent.faults.CrashPoints;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The agent dies abruptly at each of its crash points (io.kmesos.agent.faults.CrashPoints) while it
 * launches one task of a checkpointing framework, and is started again on the same work directory.
 * Whatever the point, no update is lost, none reaches the framework as another state under the same
 * UUID, and the task runs at most once: it ends up running as exactly one process, or, if the agent
 * died before starting it, reported TASK_DROPPED with no process.
 */
@ExtendWith(KmesosLocalFixture.class)
class AgentCrashPointsIT {
  private static final String NODE = "local-1";

  @ParameterizedTest
  @CsvSource({
    "task-checkpointed, TASK_DROPPED",
    "process-started, TASK_RUNNING",
    "update-checkpointed, TASK_RUNNING",
    "ack-received, TASK_RUNNING",
    "ack-checkpointed, TASK_RUNNING"
  })
  void nothingIsLostOrDoneTwiceWhenTheAgentDiesAt(
      String point, TaskState expected, KmesosLocal local) throws Exception {
    assertThat(CrashPoints.ALL).contains(point);
    Path stateDir = local.stateDir();
    try (ServerTrust trust = RestartableAgents.trust(local);
        GreedyFramework framework =
            RestartableAgents.checkpointingFramework(local, trust, "it-crash-" + point, NODE)) {
      RestartableAgents.kill(stateDir, NODE);
      Process armed =
          RestartableAgents.start(
              local, NODE, "crash-" + point, Map.of("KMESOS_AGENT_CRASH_AT", point));
      await().atMost(PATIENCE).until(() -> framework.client.frameworkId() != null);
      framework.launch(1, "sleep 600");
      await().atMost(PATIENCE).until(() -> !armed.isAlive());
      assertThat(armed.exitValue())
          .as("the agent halted at " + point)
          .isEqualTo(CrashPoints.EXIT_STATUS);
      String task = framework.commands.keySet().iterator().next();

      RestartableAgents.start(local, NODE, "after-" + point, Map.of());
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                TaskStatus s = framework.fromAgent.get(task);
                assertThat(s).isNotNull();
                assertThat(s.getState()).isEqualTo(expected);
              });
      // The task runs at most once: one session (its shell and its command), or none.
      Set<Long> processes = taskProcesses(stateDir).getOrDefault(task, Set.of());
      if (expected == TaskState.TASK_RUNNING) {
        assertThat(processes).as("processes of " + task).isNotEmpty();
        assertThat(processes.stream().map(RestartableAgents::sessionOf).distinct().count())
            .as("sessions of " + task)
            .isEqualTo(1);
      } else {
        assertThat(processes).as("processes of " + task).isEmpty();
      }
      // One state per UUID, each state once.
      List<TaskState> states = new ArrayList<>();
      framework.deliveries().forEach(d -> states.add(d.status.getState()));
      assertThat(states).doesNotHaveDuplicates();
      assertThat(framework.problems).isEmpty();
      String frameworkId = framework.client.frameworkId();
      framework.client.teardown().get();
      await().atMost(PATIENCE).until(() -> !taskProcesses(stateDir).containsKey(task));
      // Done with on the agent too, so that the next point's crash is not set off by it.
      RestartableAgents.awaitRunsCompleted(stateDir, NODE, frameworkId);
    }
  }

  /**
   * A reboot (the agent started with another boot ID): no process of before can have survived one,
   * so every task ends TASK_GONE (REASON_AGENT_REBOOTED) and whatever still runs (this host did not
   * really reboot) is killed.
   */
  @Test
  void afterARebootEveryTaskIsGone(KmesosLocal local) throws Exception {
    Path stateDir = local.stateDir();
    try (ServerTrust trust = RestartableAgents.trust(local);
        GreedyFramework framework =
            RestartableAgents.checkpointingFramework(local, trust, "it-reboot", NODE)) {
      framework.launch(2, "sleep 600");
      await()
          .atMost(PATIENCE)
          .until(() -> framework.tasksInState(TaskState.TASK_RUNNING).size() == 2);
      List<String> tasks = List.copyOf(framework.commands.keySet());
      RestartableAgents.kill(stateDir, NODE);
      RestartableAgents.start(
          local, NODE, "rebooted", Map.of("KMESOS_BOOT_ID", "a-boot-after-a-reboot"));
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                for (String task : tasks) {
                  TaskStatus s = framework.fromAgent.get(task);
                  assertThat(s.getState()).as(task).isEqualTo(TaskState.TASK_GONE);
                  assertThat(s.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REBOOTED);
                }
              });
      assertThat(taskProcesses(stateDir).keySet()).doesNotContainAnyElementsOf(tasks);
      RestartableAgents.awaitRunsCompleted(stateDir, NODE, framework.client.frameworkId());
    }
    // Back on the host's real boot ID for the tests that follow.
    RestartableAgents.kill(stateDir, NODE);
    RestartableAgents.start(local, NODE, "after-reboot", Map.of());
  }
}
