package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Tasks outlive their agent: the agents of kmesos-local are killed with SIGKILL while tasks of a
 * checkpointing framework run, some of those end while no agent runs, and the agents are started
 * again on the same work directories. The running tasks keep their processes and stay RUNNING (no
 * update says otherwise), the ended ones report their exit status, every update reaches the
 * framework once per UUID and none changes state under the same UUID, and a re-adopted task can
 * still be killed.
 */
@ExtendWith(KmesosLocalFixture.class)
class AgentRecoveryIT {
  private static final Duration PATIENCE = Duration.ofMinutes(4);
  private static final List<String> NODES = List.of("local-1", "local-2");
  private static final int RESTARTS = 3;

  @Test
  void tasksOfACheckpointingFrameworkSurviveAgentsKilledAndStartedAgain(KmesosLocal local)
      throws Exception {
    Path stateDir = local.stateDir();
    Path gate = Files.createTempDirectory("kmesos-recovery-gate");
    List<Process> restarted = new ArrayList<>();
    try (ServerTrust trust =
            ServerTrust.load(
                local.tls().resolve("ca.crt"), Identity.CONTROLLER, TlsSettings.DEFAULT_RELOAD);
        GreedyFramework framework =
            new GreedyFramework(
                List.of(local.masters().split(",")),
                trust.channelCredentials(),
                local.token(),
                FrameworkInfo.newBuilder()
                    .setName("it-recovery")
                    .setCheckpoint(true)
                    .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE),
                "analytics",
                "cpus:0.1;mem:16",
                "sleep 600",
                4)) {
      // Tasks that wait for the gate, then exit 0 or 7: they end while the agents are down.
      framework.launch(2, "while [ ! -e " + gate + "/open ]; do sleep 0.2; done; exit 0");
      framework.launch(2, "while [ ! -e " + gate + "/open ]; do sleep 0.2; done; exit 7");
      await()
          .atMost(PATIENCE)
          .until(() -> framework.tasksInState(TaskState.TASK_RUNNING).size() == 8);
      Map<String, String> commands = new TreeMap<>(framework.commands);
      List<String> sleepers =
          commands.entrySet().stream()
              .filter(e -> e.getValue().equals("sleep 600"))
              .map(Map.Entry::getKey)
              .toList();
      Map<String, Set<Long>> pidsBefore = taskProcesses(stateDir);
      assertThat(pidsBefore.keySet()).containsAll(commands.keySet());

      for (int round = 1; round <= RESTARTS; round++) {
        for (String node : NODES) {
          killAgent(stateDir, node);
        }
        if (round == 1) {
          Files.createFile(gate.resolve("open")); // the gated tasks end with no agent running
          await()
              .atMost(PATIENCE)
              .until(
                  () ->
                      taskProcesses(stateDir).keySet().stream()
                          .noneMatch(id -> !sleepers.contains(id) && commands.containsKey(id)));
        }
        for (String node : NODES) {
          restarted.add(startAgent(local, node, round));
        }
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () -> {
                  for (String id : commands.keySet()) {
                    TaskStatus s = framework.fromAgent.get(id);
                    assertThat(s).as(id).isNotNull();
                    if (sleepers.contains(id)) {
                      assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_RUNNING);
                    } else if (commands.get(id).endsWith("exit 0")) {
                      assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_FINISHED);
                      assertThat(s.getExitCode()).isZero();
                    } else {
                      assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_FAILED);
                      assertThat(s.getExitCode()).isEqualTo(7);
                    }
                  }
                });
        // The sleepers still run as the very processes they started as.
        Map<String, Set<Long>> now = taskProcesses(stateDir);
        for (String id : sleepers) {
          assertThat(now.get(id)).as(id).isEqualTo(pidsBefore.get(id));
        }
      }
      // Every update reached the framework; one state per UUID, and each task's states in order.
      Map<String, List<TaskState>> states = new HashMap<>();
      for (GreedyFramework.Delivery d : framework.deliveries()) {
        states
            .computeIfAbsent(d.status.getTaskId(), k -> new ArrayList<>())
            .add(d.status.getState());
      }
      for (String id : commands.keySet()) {
        List<TaskState> seen = states.get(id);
        if (sleepers.contains(id)) {
          assertThat(seen).as(id).containsExactly(TaskState.TASK_RUNNING);
        } else {
          assertThat(seen)
              .as(id)
              .containsExactlyInAnyOrder(
                  TaskState.TASK_RUNNING,
                  commands.get(id).endsWith("exit 0")
                      ? TaskState.TASK_FINISHED
                      : TaskState.TASK_FAILED);
        }
      }
      assertThat(framework.problems).isEmpty();
      // A re-adopted task is still the agent's to kill.
      String victim = sleepers.get(0);
      framework.client.kill(
          victim, framework.fromAgent.get(victim).getAgentId(), Duration.ofSeconds(5));
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(framework.fromAgent.get(victim).getState())
                      .isEqualTo(TaskState.TASK_KILLED));
      await().atMost(PATIENCE).until(() -> !taskProcesses(stateDir).containsKey(victim));
      framework.client.teardown();
      await()
          .atMost(PATIENCE)
          .until(() -> taskProcesses(stateDir).keySet().stream().noneMatch(commands::containsKey));
    } finally {
      // The agents run on for the other tests of this JVM; kmesos-local's own are dead.
      Files.deleteIfExists(gate.resolve("open"));
      Files.deleteIfExists(gate);
      RESTARTED.addAll(restarted);
    }
  }

  /** Agents this class started; the fixture's stop takes them down with kmesos-local's. */
  static final List<Process> RESTARTED = new ArrayList<>();

  /** SIGKILL to the agent of {@code node} of this kmesos-local, and wait until it is gone. */
  private static void killAgent(Path stateDir, String node) throws Exception {
    String workDir = stateDir.resolve("agents").resolve(node).toAbsolutePath().toString();
    List<ProcessHandle> agents =
        ProcessHandle.allProcesses()
            .filter(
                p -> {
                  List<String> args = commandLine(p.pid());
                  return args.contains("io.kmesos.agent.AgentMain") && args.contains(workDir);
                })
            .toList();
    assertThat(agents).as("the agent of " + node).hasSize(1);
    new ProcessBuilder("kill", "-KILL", Long.toString(agents.get(0).pid())).start().waitFor();
    await().atMost(PATIENCE).until(() -> !agents.get(0).isAlive());
  }

  /** A process's command line, from /proc (empty if it is gone or not readable). */
  private static List<String> commandLine(long pid) {
    try {
      byte[] bytes = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
      return List.of(new String(bytes, StandardCharsets.UTF_8).split("\0"));
    } catch (Exception e) {
      return List.of();
    }
  }

  private static Process startAgent(KmesosLocal local, String node, int round) throws Exception {
    Path stateDir = local.stateDir();
    return Agents.start(
        node,
        List.of(local.masters().split(",")),
        stateDir.resolve("kubeconfig"),
        stateDir.resolve("tls").resolve(Identity.AGENT.component()),
        stateDir.resolve("tokens").resolve("agent-" + node),
        stateDir.resolve("agents").resolve(node).toAbsolutePath(),
        stateDir.resolve("agent-" + node + "-restart-" + round + ".log"));
  }

  /**
   * The live processes of tasks of this kmesos-local, by task ID (their MESOS_TASK_ID), found in
   * /proc as a user would with ps.
   */
  static Map<String, Set<Long>> taskProcesses(Path stateDir) {
    String sandboxes = "MESOS_SANDBOX=" + stateDir.resolve("agents").toAbsolutePath() + "/";
    Map<String, Set<Long>> found = new TreeMap<>();
    ProcessHandle.allProcesses()
        .forEach(
            p -> {
              try {
                String env =
                    new String(
                        Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "environ")),
                        StandardCharsets.UTF_8);
                String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
                if (stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
                  return;
                }
                List<String> vars = List.of(env.split("\0"));
                if (vars.stream().anyMatch(v -> v.startsWith(sandboxes))) {
                  vars.stream()
                      .filter(v -> v.startsWith("MESOS_TASK_ID="))
                      .findFirst()
                      .ifPresent(
                          v ->
                              found
                                  .computeIfAbsent(
                                      v.substring("MESOS_TASK_ID=".length()), k -> new TreeSet<>())
                                  .add(p.pid()));
                }
              } catch (Exception e) {
                // gone, or not ours
              }
            });
    return found;
  }
}
