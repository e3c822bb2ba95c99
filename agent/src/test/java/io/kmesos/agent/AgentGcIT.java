package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's garbage collection as a process, against a real kube-apiserver and a scripted master
 * on 127.0.0.1 (mutual TLS), with tasks of a framework without {@code checkpoint} (no checkpoint
 * names their sandboxes):
 *
 * <ul>
 *   <li>a finished task's sandbox goes {@code --gc-delay} after its terminal update was
 *       acknowledged, and not while another task's terminal update is unacknowledged;
 *   <li>with the work directory on a small tmpfs of its own (16 MiB, mounted by the test: it runs
 *       as root), filling that file system past {@code 1 - --gc-disk-headroom} makes the agent
 *       collect a sandbox whose {@code --gc-delay} of an hour is far from over.
 * </ul>
 */
@WithKubeApiServer
class AgentGcIT {
  static final Duration PATIENCE = ScriptedMaster.PATIENCE;

  @TempDir static Path shared;

  /** The tmpfs mount point, while mounted. */
  static Path tmpfs;

  @BeforeAll
  static void mountTmpfs() throws Exception {
    Path dir = Files.createDirectories(shared.resolve("small-fs"));
    run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "kmesos-gc-it", dir.toString());
    tmpfs = dir;
  }

  @AfterAll
  static void unmountTmpfs() throws Exception {
    if (tmpfs != null) {
      Path dir = tmpfs;
      tmpfs = null;
      // The agent and its tasks are stopped by then; lazily if something still holds it.
      if (!runQuietly("umount", dir.toString())) {
        run("umount", "-l", dir.toString());
      }
    }
  }

  static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + out.strip());
    }
  }

  static boolean runQuietly(String... command) {
    try {
      run(command);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  /**
   * The master, and the agent of {@code node} on {@code work} as a process (with {@code flags} and
   * metrics), admitted and in session.
   */
  static ScriptedMaster up(
      LocalKubeApiServer kube,
      KubernetesClient client,
      Path dir,
      String node,
      Path work,
      String... flags)
      throws Exception {
    ScriptedMaster master = new ScriptedMaster(client, dir, node, work);
    try {
      master.withMetrics().startAgent(kube, "1s", flags);
      master.admit(client);
      master.awaitFirst(); // its Register (or Reregister)
      return master;
    } catch (Throwable e) {
      try {
        master.close();
      } catch (Exception c) {
        e.addSuppressed(c);
      }
      throw e;
    }
  }

  /** A task of a framework without checkpoint: nothing but the sandbox is left of its tasks. */
  static void runTask(
      ScriptedMaster master, String agentId, String frameworkId, String taskId, String command) {
    master.send(
        MasterMessage.newBuilder()
            .setRunTask(
                RunTask.newBuilder()
                    .setFramework(
                        FrameworkInfo.newBuilder()
                            .setId(frameworkId)
                            .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE))
                    .setTask(
                        TaskInfo.newBuilder()
                            .setTaskId(taskId)
                            .setAgentId(agentId)
                            .addResources(Resource.newBuilder().setName("cpus").setScalar(0.1))
                            .setCommand(CommandInfo.newBuilder().setValue(command))))
            .build());
  }

  /** The one run sandbox of a task (there is one run). */
  static Path runSandbox(Path work, String framework, String task) throws IOException {
    try (Stream<Path> runs =
        Files.list(work.resolve("sandboxes").resolve(framework).resolve(task))) {
      return runs.findFirst().orElseThrow();
    }
  }

  @Test
  void aFinishedTasksSandboxGoesAfterTheGcDelayOnceItsTerminalUpdateIsAcknowledged(
      LocalKubeApiServer kube, KubernetesClient client, @TempDir Path dir) throws Exception {
    // On the small tmpfs, nearly empty here: with no headroom the delay is shortened by the
    // usage only, which is a fraction of a percent.
    Path work = tmpfs.resolve("work-delay");
    try (ScriptedMaster master =
        up(kube, client, dir, "node-gc", work, "--gc-delay", "3s", "--gc-disk-headroom", "0")) {
      // One task ends and its TASK_FINISHED stays unacknowledged.
      runTask(master, master.agentId(), "fw-gc", "unacked", "echo unacked");
      // An update goes once the one before it was acknowledged.
      master.acknowledge(master.awaitUpdate("unacked", TaskState.TASK_RUNNING));
      StatusUpdate unacked = master.awaitUpdate("unacked", TaskState.TASK_FINISHED);
      Path unackedSandbox = runSandbox(work, "fw-gc", "unacked");
      assertThat(unackedSandbox.resolve("stdout")).hasContent("unacked");

      // Another ends after it, and its terminal update is acknowledged.
      runTask(master, master.agentId(), "fw-gc", "done", "echo done");
      master.acknowledge(master.awaitUpdate("done", TaskState.TASK_RUNNING));
      StatusUpdate done = master.awaitUpdate("done", TaskState.TASK_FINISHED);
      Path doneSandbox = runSandbox(work, "fw-gc", "done");
      assertThat(doneSandbox.resolve("stdout")).hasContent("done");
      long acknowledged = System.nanoTime();
      master.acknowledge(done);

      await().atMost(PATIENCE).until(() -> !Files.exists(doneSandbox));
      // Not before the delay (less the usage's share): the agent had the acknowledgement after
      // it was sent.
      assertThat(Duration.ofNanos(System.nanoTime() - acknowledged))
          .isGreaterThan(Duration.ofMillis(2800));
      assertThat(work.resolve("sandboxes/fw-gc/done")).doesNotExist();
      assertThat(master.log()).contains("garbage-collected the sandbox " + doneSandbox);
      // The other ended earlier, and more than the GC delay ago: its update is not acknowledged.
      assertThat(unackedSandbox.resolve("stdout")).hasContent("unacked");

      master.acknowledge(unacked);
      await().atMost(PATIENCE).until(() -> !Files.exists(unackedSandbox));
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(master.metric("kmesos_agent_gc_collected_total")).isEqualTo(2);
                assertThat(master.metric("kmesos_agent_gc_pending")).isZero();
                assertThat(master.metric("kmesos_agent_disk_usage_ratio")).isBetween(0.0, 0.03);
              });
      assertThat(work.resolve("sandboxes/fw-gc")).doesNotExist();
    }
  }

  @Test
  void aRestartedAgentSchedulesTheSandboxesNoCheckpointNames(
      LocalKubeApiServer kube, KubernetesClient client, @TempDir Path dir) throws Exception {
    Path work = tmpfs.resolve("work-restart");
    Path sandbox;
    try (ScriptedMaster master =
        up(
            kube,
            client,
            Files.createDirectories(dir.resolve("first")),
            "node-gc-restart",
            work,
            "--gc-delay",
            "1h")) {
      runTask(master, master.agentId(), "fw-restart", "long", "sleep 3600.4242");
      master.acknowledge(master.awaitUpdate("long", TaskState.TASK_RUNNING));
      sandbox = runSandbox(work, "fw-restart", "long");
      // The agent stops: the task of a framework without checkpoint ends with it, unreported.
    }
    assertThat(sandbox).exists();
    assertThat(
            ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("3600.4242")))
        .isEmpty();

    try (ScriptedMaster master =
        up(
            kube,
            client,
            Files.createDirectories(dir.resolve("second")),
            "node-gc-restart",
            work,
            "--gc-delay",
            "3s",
            "--gc-disk-headroom",
            "0")) {
      await().atMost(PATIENCE).until(() -> !Files.exists(sandbox));
      assertThat(master.log())
          .contains("1 sandboxes of runs no checkpoint names")
          .contains("garbage-collected the sandbox " + sandbox);
      assertThat(work.resolve("sandboxes/fw-restart")).doesNotExist();
    }
  }

  @Test
  void aFileSystemFilledPastTheHeadroomGetsASandboxCollectedLongBeforeItsGcDelay(
      LocalKubeApiServer kube, KubernetesClient client, @TempDir Path dir) throws Exception {
    Path work = tmpfs.resolve("work-disk");
    Path filler = tmpfs.resolve("filler");
    try (ScriptedMaster master =
        up(
            kube,
            client,
            dir,
            "node-gc-disk",
            work,
            "--gc-delay",
            "1h",
            "--disk-watch-interval",
            "1s")) {
      runTask(master, master.agentId(), "fw-disk", "small", "echo small");
      master.acknowledge(master.awaitUpdate("small", TaskState.TASK_RUNNING));
      StatusUpdate finished = master.awaitUpdate("small", TaskState.TASK_FINISHED);
      Path sandbox = runSandbox(work, "fw-disk", "small");
      master.acknowledge(finished);

      // Scheduled for an hour from now; the file system is far from full.
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(master.metric("kmesos_agent_gc_pending")).isEqualTo(1);
                assertThat(master.metric("kmesos_agent_disk_usage_ratio")).isBetween(0.0, 0.5);
                assertThat(master.metric("kmesos_agent_gc_effective_delay_seconds"))
                    .isGreaterThan(1800);
              });
      assertThat(sandbox.resolve("stdout")).hasContent("small");

      // Fill the file system past 1 - headroom (0.9): 15 of its 16 MiB.
      FileStore store = Files.getFileStore(tmpfs);
      long total = store.getTotalSpace();
      assertThat(total).as("the tmpfs' size").isEqualTo(16L << 20);
      byte[] chunk = new byte[1 << 20];
      try (OutputStream out = Files.newOutputStream(filler)) {
        for (int i = 0; i < 15; i++) {
          out.write(chunk);
        }
      }
      double usage = (double) (total - store.getUnallocatedSpace()) / total;
      assertThat(usage).isGreaterThan(0.92);

      await().atMost(PATIENCE).until(() -> !Files.exists(sandbox));
      assertThat(master.log())
          .contains("GC delay PT0S of --gc-delay PT1H")
          .contains("garbage-collected the sandbox " + sandbox);
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(master.metric("kmesos_agent_gc_collected_early_total")).isEqualTo(1);
                assertThat(master.metric("kmesos_agent_gc_pending")).isZero();
                assertThat(master.metric("kmesos_agent_disk_usage_ratio")).isGreaterThan(0.9);
                assertThat(master.metric("kmesos_agent_gc_effective_delay_seconds")).isZero();
              });

      // Room again: the delay is nearly the hour again (less the headroom's share).
      Files.delete(filler);
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(master.metric("kmesos_agent_gc_effective_delay_seconds"))
                    .isGreaterThan(3000);
                assertThat(master.log()).contains("of --gc-delay PT1H, 0 pending");
              });
    } finally {
      Files.deleteIfExists(filler);
    }
  }
}
