package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.ResourceText;
import io.kmesos.replica.local.LocalReplicas;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The failover benchmarks' simulated agents against a real master (a controller process, a real
 * kube-apiserver, the log): they are admitted, open sessions, run what a framework launches, and
 * re-register with their tasks after the master is replaced, so that the new master answers a
 * reconciliation of every task with TASK_RUNNING.
 */
class SimulatedAgentsIT {
  private static final Duration PATIENCE = Duration.ofMinutes(3);
  private static final List<String> LEASE = List.of("4s", "3s", "500ms");

  @TempDir Path dir;

  @Test
  void agentsRunTheirTasksAndReregisterThemWithANewMaster() throws Exception {
    try (FailoverRig rig = new FailoverRig(dir);
        LocalReplicas replicas =
            new LocalReplicas(
                    dir.resolve("log"),
                    1,
                    List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"),
                    rig.certs)
                .startAll()) {
      replicas.initialize("simulated-agents-it", PATIENCE);
      int port = FailoverRig.freePort();
      String address = "127.0.0.1:" + port;
      Process first = controller(rig, replicas, "first", port);
      Process second = null;
      FrameworkClient framework = null;
      try (SimulatedAgents agents =
          new SimulatedAgents(
                  rig.admin,
                  LocalCluster.NAMESPACE,
                  dir.resolve("agents"),
                  rig.agentTls,
                  List.of(address))
              .start("it", 3, Map.of("cpus", 1.0, "mem", 256.0, "disk", 256.0), PATIENCE)) {
        await().atMost(PATIENCE).until(() -> agents.upWith(address) == 3);

        FailoverFramework scheduler =
            new FailoverFramework(6, 2, ResourceText.parse("cpus:0.1;mem:16"));
        framework = rig.framework("simulated-agents-it", List.of(address), scheduler);
        await()
            .atMost(PATIENCE)
            .until(() -> scheduler.running() == 6 && agents.runningTasks() == 6);
        assertThat(scheduler.error).isNull();

        // Another master in its place: the agents re-register with their tasks.
        first.destroyForcibly();
        first.waitFor(30, TimeUnit.SECONDS);
        long replaced = System.nanoTime();
        second = controller(rig, replicas, "second", port);
        FrameworkClient client = framework;
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    "second".equals(LocalCluster.leader(rig.admin))
                        && agents.upWith(address) == 3
                        && scheduler.subscribedAt() > replaced);
        scheduler.countReconciliation();
        await()
            .atMost(PATIENCE)
            .pollInterval(Duration.ofSeconds(1))
            .until(
                () -> {
                  if (scheduler.reconciled() < 6) {
                    client.reconcile(scheduler.unreconciled());
                  }
                  return scheduler.reconciled() == 6;
                });
        assertThat(agents.runningTasks()).isEqualTo(6);
        assertThat(scheduler.error).isNull();
      } finally {
        if (framework != null) {
          framework.close();
        }
        first.destroyForcibly();
        if (second != null) {
          second.destroyForcibly();
          second.waitFor(30, TimeUnit.SECONDS);
        }
      }
    }
  }

  private Process controller(FailoverRig rig, LocalReplicas replicas, String identity, int port)
      throws Exception {
    return Controllers.start(
        identity,
        replicas,
        rig.kubeconfig,
        LocalCluster.NAMESPACE,
        LEASE,
        port,
        dir.resolve(identity + ".log"));
  }
}
