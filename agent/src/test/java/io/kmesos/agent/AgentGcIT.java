package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.agent.v1.Acknowledgement;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Registered;
import io.kmesos.api.agent.v1.Reregistered;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
  static final Duration PATIENCE = Duration.ofSeconds(120);

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

  /** A master that admits the agent's session, sends what the test says, records what comes. */
  static final class ScriptedMaster implements AutoCloseable {
    final List<AgentMessage> received = new CopyOnWriteArrayList<>();
    volatile StreamObserver<MasterMessage> toAgent;
    final Server server;

    ScriptedMaster(MutualTls tls) throws IOException {
      server =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress("127.0.0.1", 0), tls.serverCredentials())
              .addService(
                  ServerInterceptors.intercept(
                      new AgentSessionGrpc.AgentSessionImplBase() {
                        @Override
                        public StreamObserver<AgentMessage> connect(
                            StreamObserver<MasterMessage> out) {
                          toAgent = out;
                          return new StreamObserver<>() {
                            @Override
                            public void onNext(AgentMessage m) {
                              received.add(m);
                              if (m.hasRegister()) {
                                send(
                                    MasterMessage.newBuilder()
                                        .setRegistered(
                                            Registered.newBuilder()
                                                .setAgentId(m.getRegister().getAgentId()))
                                        .build());
                              }
                              if (m.hasReregister()) { // a restarted agent
                                send(
                                    MasterMessage.newBuilder()
                                        .setReregistered(
                                            Reregistered.newBuilder()
                                                .setAgentId(m.getReregister().getAgentId()))
                                        .build());
                              }
                            }

                            @Override
                            public void onError(Throwable t) {}

                            @Override
                            public void onCompleted() {}
                          };
                        }
                      },
                      MutualTls.identityCheck(Set.of(Identity.AGENT))))
              .build()
              .start();
    }

    synchronized void send(MasterMessage m) {
      toAgent.onNext(m);
    }

    StatusUpdate awaitUpdate(String task, TaskState state) {
      return await()
          .atMost(PATIENCE)
          .until(
              () ->
                  received.stream()
                      .filter(AgentMessage::hasStatusUpdate)
                      .map(AgentMessage::getStatusUpdate)
                      .filter(
                          u ->
                              u.getStatus().getTaskId().equals(task)
                                  && u.getStatus().getState() == state)
                      .findFirst()
                      .orElse(null),
              u -> u != null);
    }

    void acknowledge(StatusUpdate u) {
      send(
          MasterMessage.newBuilder()
              .setAcknowledgement(
                  Acknowledgement.newBuilder()
                      .setFrameworkId(u.getFrameworkId())
                      .setTaskId(u.getStatus().getTaskId())
                      .setUuid(u.getStatus().getUuid()))
              .build());
    }

    void runTask(String agentId, String frameworkId, String taskId, String command) {
      send(
          MasterMessage.newBuilder()
              .setRunTask(
                  RunTask.newBuilder()
                      // No checkpoint: nothing but the sandbox is left of its tasks.
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

    @Override
    public void close() {
      server.shutdownNow();
    }
  }

  /** An agent process with its master, on {@code work}. */
  final class RunningAgent implements AutoCloseable {
    final Process process;
    final ScriptedMaster master;
    final Path log;
    final int metricsPort;
    final HttpClient http = HttpClient.newHttpClient();
    String agentId;

    RunningAgent(
        LocalKubeApiServer kube,
        KubernetesClient client,
        Path dir,
        String node,
        Path work,
        List<String> flags)
        throws Exception {
      KmesosCrds.install(client, PATIENCE);
      CertificateDirectory certs = new CertificateDirectory(dir.resolve("certs"));
      ClusterCertificates.ensure(
          certs,
          new ClusterCertificates.Settings(
              List.of(Identity.CONTROLLER, Identity.AGENT),
              Map.of(Identity.CONTROLLER, List.of("127.0.0.1")),
              Duration.ofDays(20),
              Duration.ofDays(10),
              false),
          Instant.now());
      MutualTls masterTls = MutualTls.load(certs.settings(Identity.CONTROLLER));
      master = new ScriptedMaster(masterTls);
      try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        metricsPort = free.getLocalPort();
      }
      Path token = Files.writeString(dir.resolve("token"), "agent-token\n");
      Path kubeconfig = kube.writeKubeConfig(dir.resolve("kubeconfig"));
      log = dir.resolve("agent.log");
      List<String> command =
          new ArrayList<>(
              List.of(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-Xmx256m",
                  "-cp",
                  System.getProperty("java.class.path"),
                  "io.kmesos.agent.AgentMain",
                  "--node-name",
                  node,
                  "--work-dir",
                  work.toString(),
                  "--kubeconfig",
                  kubeconfig.toString(),
                  "--metrics-port",
                  Integer.toString(metricsPort),
                  "--master",
                  "127.0.0.1:" + master.server.getPort(),
                  "--tls-dir",
                  certs.dir(Identity.AGENT).toString(),
                  "--token-file",
                  token.toString(),
                  "--kill-grace-period",
                  "1s"));
      command.addAll(flags);
      process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      await()
          .atMost(PATIENCE)
          .until(() -> client.resources(Agent.class).withName(node).get(), a -> a != null);
      // What the controller writes once it admitted the agent into the registry.
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .until(
              () -> {
                Agent latest = client.resources(Agent.class).withName(node).get();
                AgentStatus status =
                    latest.getStatus() == null ? new AgentStatus() : latest.getStatus();
                status.setState("Admitted");
                status.setAgentId(latest.getMetadata().getUid());
                latest.setStatus(status);
                client.resource(latest).updateStatus();
                agentId = latest.getMetadata().getUid();
                return true;
              });
      await()
          .atMost(PATIENCE)
          .until(
              () -> master.received.stream().anyMatch(m -> m.hasRegister() || m.hasReregister()));
    }

    /** A series' value in the agent's /metrics (-1 when absent). */
    double metric(String series) throws Exception {
      String scrape =
          http.send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
      return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }

    String log() throws IOException {
      return Files.readString(log);
    }

    @Override
    public void close() throws Exception {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
      master.close();
    }
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
    try (RunningAgent agent =
        new RunningAgent(
            kube,
            client,
            dir,
            "node-gc",
            work,
            List.of("--gc-delay", "3s", "--gc-disk-headroom", "0"))) {
      ScriptedMaster master = agent.master;
      // One task ends and its TASK_FINISHED stays unacknowledged.
      master.runTask(agent.agentId, "fw-gc", "unacked", "echo unacked");
      // An update goes once the one before it was acknowledged.
      master.acknowledge(master.awaitUpdate("unacked", TaskState.TASK_RUNNING));
      StatusUpdate unacked = master.awaitUpdate("unacked", TaskState.TASK_FINISHED);
      Path unackedSandbox = runSandbox(work, "fw-gc", "unacked");
      assertThat(unackedSandbox.resolve("stdout")).hasContent("unacked");

      // Another ends after it, and its terminal update is acknowledged.
      master.runTask(agent.agentId, "fw-gc", "done", "echo done");
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
      assertThat(agent.log()).contains("garbage-collected the sandbox " + doneSandbox);
      // The other ended earlier, and more than the GC delay ago: its update is not acknowledged.
      assertThat(unackedSandbox.resolve("stdout")).hasContent("unacked");

      master.acknowledge(unacked);
      await().atMost(PATIENCE).until(() -> !Files.exists(unackedSandbox));
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(agent.metric("kmesos_agent_gc_collected_total")).isEqualTo(2);
                assertThat(agent.metric("kmesos_agent_gc_pending")).isZero();
                assertThat(agent.metric("kmesos_agent_disk_usage_ratio")).isBetween(0.0, 0.03);
              });
      assertThat(work.resolve("sandboxes/fw-gc")).doesNotExist();
    }
  }

  @Test
  void aRestartedAgentSchedulesTheSandboxesNoCheckpointNames(
      LocalKubeApiServer kube, KubernetesClient client, @TempDir Path dir) throws Exception {
    Path work = tmpfs.resolve("work-restart");
    Path sandbox;
    try (RunningAgent agent =
        new RunningAgent(
            kube,
            client,
            Files.createDirectories(dir.resolve("first")),
            "node-gc-restart",
            work,
            List.of("--gc-delay", "1h"))) {
      ScriptedMaster master = agent.master;
      master.runTask(agent.agentId, "fw-restart", "long", "sleep 3600.4242");
      master.acknowledge(master.awaitUpdate("long", TaskState.TASK_RUNNING));
      sandbox = runSandbox(work, "fw-restart", "long");
      // The agent stops: the task of a framework without checkpoint ends with it, unreported.
    }
    assertThat(sandbox).exists();
    assertThat(
            ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("3600.4242")))
        .isEmpty();

    try (RunningAgent agent =
        new RunningAgent(
            kube,
            client,
            Files.createDirectories(dir.resolve("second")),
            "node-gc-restart",
            work,
            List.of("--gc-delay", "3s", "--gc-disk-headroom", "0"))) {
      await().atMost(PATIENCE).until(() -> !Files.exists(sandbox));
      assertThat(agent.log())
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
    try (RunningAgent agent =
        new RunningAgent(
            kube,
            client,
            dir,
            "node-gc-disk",
            work,
            List.of("--gc-delay", "1h", "--disk-watch-interval", "1s"))) {
      ScriptedMaster master = agent.master;
      master.runTask(agent.agentId, "fw-disk", "small", "echo small");
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
                assertThat(agent.metric("kmesos_agent_gc_pending")).isEqualTo(1);
                assertThat(agent.metric("kmesos_agent_disk_usage_ratio")).isBetween(0.0, 0.5);
                assertThat(agent.metric("kmesos_agent_gc_effective_delay_seconds"))
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
      assertThat(agent.log())
          .contains("GC delay PT0S of --gc-delay PT1H")
          .contains("garbage-collected the sandbox " + sandbox);
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(agent.metric("kmesos_agent_gc_collected_early_total")).isEqualTo(1);
                assertThat(agent.metric("kmesos_agent_gc_pending")).isZero();
                assertThat(agent.metric("kmesos_agent_disk_usage_ratio")).isGreaterThan(0.9);
                assertThat(agent.metric("kmesos_agent_gc_effective_delay_seconds")).isZero();
              });

      // Room again: the delay is nearly the hour again (less the headroom's share).
      Files.delete(filler);
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(agent.metric("kmesos_agent_gc_effective_delay_seconds"))
                    .isGreaterThan(3000);
                assertThat(agent.log()).contains("of --gc-delay PT1H, 0 pending");
              });
    } finally {
      Files.deleteIfExists(filler);
    }
  }
}
