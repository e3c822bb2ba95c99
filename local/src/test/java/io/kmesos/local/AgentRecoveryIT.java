package io.kmesos.local;

import static io.kmesos.local.RestartableAgents.PATIENCE;
import static io.kmesos.local.RestartableAgents.taskProcesses;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Tasks outlive their agent, under load: a checkpointing, partition-aware framework runs 100 tasks
 * on kmesos-local's agent local-1, which is killed with SIGKILL and started again on the same work
 * directory twenty times. Sixty tasks run throughout; forty end one gate at a time, some just
 * before a kill (their updates in flight), some while no agent runs. In the end the running tasks
 * are still the very processes they started as and were never reported otherwise; the others
 * reported their exit status; every update reached the framework, each state of a task under one
 * UUID only; no process is left that no task owns; and a teardown ends them all.
 */
@ExtendWith(KmesosLocalFixture.class)
class AgentRecoveryIT {
  private static final String NODE = "local-1";
  private static final int RESTARTS = 20;
  private static final int RUNNING = 60;
  private static final int ENDING = 40;

  @Test
  void hundredTasksSurviveTwentyKillsOfTheirAgent(KmesosLocal local) throws Exception {
    Path stateDir = local.stateDir();
    Path gates = Files.createTempDirectory("kmesos-recovery-gates");
    try (ServerTrust trust = RestartableAgents.trust(local);
        GreedyFramework framework =
            RestartableAgents.checkpointingFramework(local, trust, "it-recovery-loop", NODE)) {
      framework.launch(RUNNING, "sleep 600");
      // Gated tasks: task i waits for gate (i % RESTARTS) + 1, then exits 7 (every third) or 0.
      Map<String, Integer> exitOf = new LinkedHashMap<>();
      for (int i = 0; i < ENDING; i++) {
        int code = i % 3 == 0 ? 7 : 0;
        framework.launch(
            1,
            "while [ ! -e "
                + gates.resolve("gate-" + (i % RESTARTS + 1))
                + " ]; do sleep 0.5; done; exit "
                + code);
      }
      await()
          .atMost(PATIENCE)
          .until(() -> framework.tasksInState(TaskState.TASK_RUNNING).size() == RUNNING + ENDING);
      Map<String, String> commands = new HashMap<>(framework.commands);
      List<String> sleepers =
          commands.keySet().stream().filter(id -> commands.get(id).equals("sleep 600")).toList();
      Map<String, Set<Long>> sleeperProcesses = taskProcesses(stateDir);
      sleeperProcesses.keySet().retainAll(sleepers);
      assertThat(sleeperProcesses).hasSize(RUNNING);

      for (int round = 1; round <= RESTARTS; round++) {
        Path gate = gates.resolve("gate-" + round);
        if (round % 2 == 1) {
          Files.createFile(gate); // ends its tasks as the agent dies: updates in flight
        }
        RestartableAgents.kill(stateDir, NODE);
        if (round % 2 == 0) {
          Files.createFile(gate); // ends its tasks while no agent runs
        }
        Process agent = RestartableAgents.start(local, NODE, "restart-" + round, Map.of());
        Path log = stateDir.resolve("agent-" + NODE + "-restart-" + round + ".log");
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    !agent.isAlive()
                        || (Files.exists(log)
                            && Files.readString(log).contains("re-registered with master")));
        assertThat(agent.isAlive())
            .as("the agent of round " + round + " runs; see " + log)
            .isTrue();
      }

      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                for (String id : commands.keySet()) {
                  TaskStatus s = framework.fromAgent.get(id);
                  String command = commands.get(id);
                  if (sleepers.contains(id)) {
                    assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_RUNNING);
                  } else if (command.endsWith("exit 0")) {
                    assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_FINISHED);
                    assertThat(s.getExitCode()).as(id).isZero();
                  } else {
                    assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_FAILED);
                    assertThat(s.getExitCode()).as(id).isEqualTo(7);
                  }
                }
              });
      // The sleepers are the processes they started as; nothing else of the framework runs.
      Map<String, Set<Long>> now = taskProcesses(stateDir);
      now.keySet().retainAll(commands.keySet());
      assertThat(now).isEqualTo(sleeperProcesses);
      // Every state of every task reached the framework under exactly one UUID.
      Map<String, List<TaskState>> states = new HashMap<>();
      for (GreedyFramework.Delivery d : framework.deliveries()) {
        states
            .computeIfAbsent(d.status.getTaskId(), k -> new ArrayList<>())
            .add(d.status.getState());
      }
      for (String id : commands.keySet()) {
        List<TaskState> expected =
            sleepers.contains(id)
                ? List.of(TaskState.TASK_RUNNING)
                : List.of(
                    TaskState.TASK_RUNNING,
                    commands.get(id).endsWith("exit 0")
                        ? TaskState.TASK_FINISHED
                        : TaskState.TASK_FAILED);
        assertThat(states.get(id)).as(id).containsExactlyInAnyOrderElementsOf(expected);
      }
      assertThat(framework.problems).isEmpty();

      // A re-adopted task is still the agent's to kill; a teardown ends the rest.
      String victim = sleepers.get(0);
      framework
          .client
          .kill(victim, framework.fromAgent.get(victim).getAgentId(), Duration.ofSeconds(5))
          .get();
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(framework.fromAgent.get(victim).getState())
                      .as(() -> RestartableAgents.linesAbout(stateDir, victim))
                      .isEqualTo(TaskState.TASK_KILLED));
      String frameworkId = framework.client.frameworkId();
      framework.client.teardown().get();
      await()
          .atMost(PATIENCE)
          .until(() -> taskProcesses(stateDir).keySet().stream().noneMatch(commands::containsKey));
      RestartableAgents.awaitRunsCompleted(stateDir, NODE, frameworkId);
    } finally {
      for (int round = 1; round <= RESTARTS; round++) {
        Files.deleteIfExists(gates.resolve("gate-" + round));
      }
      Files.deleteIfExists(gates);
    }
  }
}
