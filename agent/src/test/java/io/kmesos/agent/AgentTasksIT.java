package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kmesos-agent --master} as a process, against a real kube-apiserver and a scripted master
 * on 127.0.0.1 (mutual TLS): it waits for admission, registers under its Agent's UID with a bearer
 * token, runs and kills a task, delivers each update until acknowledged, and shows what it runs in
 * its Agent's status.
 */
@WithKubeApiServer
class AgentTasksIT {
  static final Duration PATIENCE = ScriptedMaster.PATIENCE;

  @TempDir Path dir;

  @Test
  void runsAndKillsATaskTheMasterSends(LocalKubeApiServer kube, KubernetesClient client)
      throws Exception {
    try (ScriptedMaster master = new ScriptedMaster(client, dir, "node-t")) {
      master.startAgent(kube, "1s");
      Path work = master.work();
      List<AgentMessage> received = master.received;
      Agent registered =
          await()
              .atMost(PATIENCE)
              .until(() -> client.resources(Agent.class).withName("node-t").get(), a -> a != null);
      Thread.sleep(1000); // nothing to wait for: no session before admission
      assertThat(received).as("no session before admission").isEmpty();

      master.admit(client);
      AgentMessage first = master.awaitFirst();
      assertThat(first.getRegister().getAgentId()).isEqualTo(registered.getMetadata().getUid());
      assertThat(first.getRegister().getHostname()).isEqualTo("node-t");
      assertThat(master.authorizations).first().isEqualTo("Bearer agent-token");
      double cpus =
          first.getRegister().getResourcesList().stream()
              .filter(r -> r.getName().equals("cpus"))
              .findFirst()
              .orElseThrow()
              .getScalar();

      FrameworkInfo fw =
          FrameworkInfo.newBuilder()
              .setId("fw-t")
              .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
              .build();
      master.send(
          MasterMessage.newBuilder()
              .setRunTask(
                  RunTask.newBuilder()
                      .setFramework(fw)
                      .setTask(
                          TaskInfo.newBuilder()
                              .setTaskId("sleeper")
                              .setAgentId(registered.getMetadata().getUid())
                              .addResources(Resource.newBuilder().setName("cpus").setScalar(1))
                              .setCommand(
                                  CommandInfo.newBuilder()
                                      .setValue("trap '' TERM; sleep 1000.5151 & wait"))))
              .build());
      // The agent starts the command itself: the first update is TASK_RUNNING (no STARTING).
      StatusUpdate running = master.awaitUpdate("sleeper", TaskState.TASK_RUNNING);
      assertThat(running.getStatus().getUuid().size()).isEqualTo(16);
      assertThat(running.getStatus().getAgentId()).isEqualTo(registered.getMetadata().getUid());
      master.acknowledge(running);

      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                AgentStatus s = client.resources(Agent.class).withName("node-t").get().getStatus();
                assertThat(s.getTasksRunning()).isEqualTo(1);
                assertThat(s.getResourcesUsed()).containsEntry("cpus", 1.0);
                assertThat(s.getResourcesFree()).containsEntry("cpus", cpus - 1);
                assertThat(s.getState()).isEqualTo("Admitted");
              });
      assertThat(
              Files.readString(
                  work.resolve("sandboxes/fw-t/sleeper")
                      .resolve(
                          Files.list(work.resolve("sandboxes/fw-t/sleeper"))
                              .findFirst()
                              .orElseThrow()
                              .getFileName())
                      .resolve("stderr")))
          .isEmpty();

      master.send(
          MasterMessage.newBuilder()
              .setKillTask(KillTask.newBuilder().setFrameworkId("fw-t").setTaskId("sleeper"))
              .build());
      StatusUpdate killed = master.awaitUpdate("sleeper", TaskState.TASK_KILLED);
      master.acknowledge(killed);
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                AgentStatus s = client.resources(Agent.class).withName("node-t").get().getStatus();
                assertThat(s.getTasksRunning()).isZero();
                assertThat(s.getResourcesUsed()).containsEntry("cpus", 0.0);
              });
      assertThat(
              ProcessHandle.allProcesses()
                  .filter(p -> p.info().commandLine().orElse("").contains("1000.5151")))
          .isEmpty();
    }
  }
}
