package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.kmesos.agent.executors.ExecutorServer;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.executor.v1.Call;
import io.kmesos.api.executor.v1.Event;
import io.kmesos.api.executor.v1.ExecutorGrpc;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.ExecutorInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Custom executors through real processes: {@code kmesos-agent --master} against a scripted master
 * (mutual TLS, real kube-apiserver) runs tasks that name the example executor ({@code
 * io.kmesos.executor.example.CommandExecutor}, a JVM the agent starts): two tasks share one
 * executor, one is killed, the other finishes, and the executor is shut down; a call without the
 * executor's token is UNAUTHENTICATED, with another executor's IDs PERMISSION_DENIED; an executor
 * killed with SIGKILL ends its task TASK_FAILED, REASON_EXECUTOR_TERMINATED, and leaves no process;
 * an executor of a checkpointing framework whose agent is killed and not restarted exits by itself
 * after the agent's --recovery-timeout.
 */
@WithKubeApiServer
class ExecutorsIT {
  static final Duration PATIENCE = ScriptedMaster.PATIENCE;
  static final String EXECUTOR_CLASS = "io.kmesos.executor.example.CommandExecutor";

  @TempDir Path dir;

  /** The master and the agent, once {@link #up}. */
  ScriptedMaster master;

  /** The agent's work directory and ID, once {@link #up}. */
  Path work;

  String agentId;

  static final FrameworkInfo FRAMEWORK =
      FrameworkInfo.newBuilder()
          .setId("fw-x")
          .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
          .build();

  static ExecutorInfo executor(String id) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return ExecutorInfo.newBuilder()
        .setExecutorId(id)
        .setName("example executor " + id)
        .setCommand(
            CommandInfo.newBuilder()
                .setShell(false)
                .setValue(java)
                .addAllArguments(
                    List.of(
                        java,
                        "-Xmx64m",
                        "-XX:TieredStopAtLevel=1",
                        "-cp",
                        System.getProperty("java.class.path"),
                        EXECUTOR_CLASS)))
        .build();
  }

  void run(String agentId, String taskId, ExecutorInfo executor, String command) {
    master.send(
        MasterMessage.newBuilder()
            .setRunTask(
                RunTask.newBuilder()
                    .setFramework(FRAMEWORK)
                    .setTask(
                        TaskInfo.newBuilder()
                            .setTaskId(taskId)
                            .setAgentId(agentId)
                            .addResources(Resource.newBuilder().setName("cpus").setScalar(0.25))
                            .setCommand(CommandInfo.newBuilder().setValue(command))
                            .setExecutor(executor)))
            .build());
  }

  /** The executor processes under this work dir, by executor ID: pid and environment. */
  record ExecutorProcess(long pid, Map<String, String> env) {}

  static Optional<ExecutorProcess> executorProcess(Path work, String executorId) {
    return ProcessHandle.allProcesses()
        .map(p -> new ExecutorProcess(p.pid(), environ(p.pid())))
        .filter(
            p ->
                executorId.equals(p.env().get("MESOS_EXECUTOR_ID"))
                    && p.env().getOrDefault("MESOS_SANDBOX", "").startsWith(work.toString()))
        .findFirst();
  }

  static Map<String, String> environ(long pid) {
    Map<String, String> env = new LinkedHashMap<>();
    try {
      String all = Files.readString(Path.of("/proc", Long.toString(pid), "environ"));
      for (String kv : all.split("\0")) {
        int eq = kv.indexOf('=');
        if (eq > 0) {
          env.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
      }
    } catch (IOException e) {
      // gone, or not ours
    }
    return env;
  }

  static boolean anyProcess(String marker) {
    return ProcessHandle.allProcesses().anyMatch(p -> cmdline(p.pid()).contains(marker));
  }

  static String cmdline(long pid) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
    } catch (IOException e) {
      return "";
    }
  }

  /** Opens an executor API stream with this token and first call; how the call ended. */
  static Status callWith(Path socket, String token, Call first) throws Exception {
    EpollEventLoopGroup group = new EpollEventLoopGroup(1);
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(group)
            .usePlaintext()
            .build();
    try {
      Metadata headers = new Metadata();
      headers.put(ExecutorServer.TOKEN, token);
      CompletableFuture<Status> ended = new CompletableFuture<>();
      StreamObserver<Call> calls =
          ExecutorGrpc.newStub(channel)
              .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
              .connect(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(Event e) {}

                    @Override
                    public void onError(Throwable t) {
                      ended.complete(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                      ended.complete(Status.OK);
                    }
                  });
      calls.onNext(first);
      return ended.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    } finally {
      channel.shutdownNow();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  static void signal(long pid, String signal) throws Exception {
    new ProcessBuilder("/bin/kill", "-s", signal, Long.toString(pid))
        .inheritIO()
        .start()
        .waitFor(30, TimeUnit.SECONDS);
  }

  /** The pid of the process whose command line holds {@code marker}. */
  static long pidOf(String marker) {
    return ProcessHandle.allProcesses()
        .filter(p -> cmdline(p.pid()).contains(marker) && !cmdline(p.pid()).contains("/bin/sh"))
        .findFirst()
        .orElseThrow()
        .pid();
  }

  void runCheckpointed(FrameworkInfo framework, String taskId, String executorId, String command) {
    master.send(
        MasterMessage.newBuilder()
            .setRunTask(
                RunTask.newBuilder()
                    .setFramework(framework)
                    .setTask(
                        TaskInfo.newBuilder()
                            .setTaskId(taskId)
                            .setAgentId(agentId)
                            .addResources(Resource.newBuilder().setName("cpus").setScalar(0.25))
                            .setCommand(CommandInfo.newBuilder().setValue(command))
                            .setExecutor(executor(executorId))))
            .build());
  }

  /**
   * The scripted master, and the agent as a process (with {@code extra} flags), admitted and
   * registered.
   */
  void up(LocalKubeApiServer kube, KubernetesClient client, String... extra) throws Exception {
    master = new ScriptedMaster(client, dir, "node-x");
    work = master.work();
    master.startAgent(kube, "2s", extra);
    master.admit(client);
    agentId = master.awaitFirst().getRegister().getAgentId();
  }

  /** The agent's log and the executors' stderr go to target/, for whoever reads a failure. */
  @AfterEach
  void down(TestInfo test) throws Exception {
    try {
      Path log =
          Path.of("target", "ExecutorsIT-" + test.getTestMethod().orElseThrow().getName() + ".log");
      if (Files.exists(dir.resolve("agent.log"))) {
        Files.copy(dir.resolve("agent.log"), log, StandardCopyOption.REPLACE_EXISTING);
      }
      if (work != null && Files.isDirectory(work.resolve("executors"))) {
        try (var sandboxes = Files.walk(work.resolve("executors"))) {
          for (Path f :
              sandboxes.filter(f -> f.getFileName().toString().equals("stderr")).toList()) {
            Files.writeString(
                log, "\n==== " + f + "\n" + Files.readString(f), StandardOpenOption.APPEND);
          }
        }
      }
    } finally {
      if (master != null) {
        master.close();
      }
    }
  }

  @Test
  void tasksRunOnACustomExecutor(LocalKubeApiServer kube, KubernetesClient client)
      throws Exception {
    up(kube, client);
    Path socket = ExecutorServer.socketPath(work);
    assertThat(Files.getPosixFilePermissions(socket.getParent()))
        .extracting(Object::toString)
        .containsExactlyInAnyOrder("OWNER_READ", "OWNER_WRITE", "OWNER_EXECUTE");

    // Two tasks, one executor.
    Path finish = dir.resolve("finish-b");
    run(agentId, "a", executor("ex-1"), "sleep 1000.6161");
    run(
        agentId,
        "b",
        executor("ex-1"),
        "while [ ! -e " + finish + " ]; do sleep 0.1; done; echo done-b");
    StatusUpdate runningA = master.awaitUpdate("a", TaskState.TASK_RUNNING);
    StatusUpdate runningB = master.awaitUpdate("b", TaskState.TASK_RUNNING);
    for (StatusUpdate u : List.of(runningA, runningB)) {
      assertThat(u.getStatus().getSource()).isEqualTo(TaskStatus.Source.SOURCE_EXECUTOR);
      assertThat(u.getStatus().getUuid().size()).isEqualTo(16);
      assertThat(u.getStatus().getAgentId()).isEqualTo(agentId);
      master.acknowledge(u);
    }
    ExecutorProcess ex1 =
        await()
            .atMost(PATIENCE)
            .until(() -> executorProcess(work, "ex-1"), Optional::isPresent)
            .orElseThrow();
    assertThat(Files.list(work.resolve("executors/fw-x/ex-1")).count())
        .as("one executor for both tasks")
        .isEqualTo(1);
    assertThat(ex1.env())
        .containsEntry("MESOS_FRAMEWORK_ID", "fw-x")
        .containsEntry("MESOS_AGENT_ID", agentId)
        .containsEntry("MESOS_CHECKPOINT", "0")
        .containsEntry("KMESOS_AGENT_ENDPOINT", "unix:" + socket)
        .containsKey("KMESOS_EXECUTOR_TOKEN");
    Path sandbox = Path.of(ex1.env().get("MESOS_SANDBOX"));
    // The framework's acknowledgements reach the executor.
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                Files.readString(sandbox.resolve("stderr"))
                    .contains("acknowledged TASK_RUNNING of task b"));

    // Who may call: the token is checked on every call.
    Call subscribe =
        Call.newBuilder()
            .setFrameworkId("fw-x")
            .setExecutorId("ex-1")
            .setSubscribe(Call.Subscribe.getDefaultInstance())
            .build();
    assertThat(callWith(socket, "not-the-token", subscribe).getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(
            callWith(
                    socket,
                    ex1.env().get("KMESOS_EXECUTOR_TOKEN"),
                    subscribe.toBuilder().setExecutorId("ex-other").build())
                .getCode())
        .isEqualTo(Status.Code.PERMISSION_DENIED);

    // One killed, the other finishes: then the executor is shut down.
    master.send(
        MasterMessage.newBuilder()
            .setKillTask(KillTask.newBuilder().setFrameworkId("fw-x").setTaskId("a"))
            .build());
    StatusUpdate killed = master.awaitUpdate("a", TaskState.TASK_KILLED);
    master.acknowledge(killed);
    assertThat(anyProcess("1000.6161")).isFalse();
    assertThat(ProcessHandle.of(ex1.pid()).map(ProcessHandle::isAlive)).contains(true);
    Files.writeString(finish, "");
    StatusUpdate finished = master.awaitUpdate("b", TaskState.TASK_FINISHED);
    assertThat(finished.getStatus().getExitCode()).isZero();
    master.acknowledge(finished);
    assertThat(Files.readString(sandbox.resolve("tasks/b/stdout"))).isEqualTo("done-b\n");
    await()
        .atMost(PATIENCE)
        .until(() -> ProcessHandle.of(ex1.pid()).map(p -> !p.isAlive()).orElse(true));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              AgentStatus s = client.resources(Agent.class).withName("node-x").get().getStatus();
              assertThat(s.getTasksRunning()).isZero();
              assertThat(s.getResourcesUsed()).containsEntry("cpus", 0.0);
            });

    // An executor that dies takes its task with it.
    run(agentId, "c", executor("ex-2"), "sleep 1000.7171");
    master.acknowledge(master.awaitUpdate("c", TaskState.TASK_RUNNING));
    ExecutorProcess ex2 =
        await()
            .atMost(PATIENCE)
            .until(() -> executorProcess(work, "ex-2"), Optional::isPresent)
            .orElseThrow();
    assertThat(anyProcess("1000.7171")).isTrue();
    ProcessHandle.of(ex2.pid()).orElseThrow().destroyForcibly();
    StatusUpdate failed = master.awaitUpdate("c", TaskState.TASK_FAILED);
    assertThat(failed.getStatus().getReason())
        .isEqualTo(TaskStatus.Reason.REASON_EXECUTOR_TERMINATED);
    assertThat(failed.getStatus().getSource()).isEqualTo(TaskStatus.Source.SOURCE_AGENT);
    master.acknowledge(failed);
    assertThat(anyProcess("1000.7171")).as("the executor's task died with it").isFalse();
  }

  /**
   * An executor of a checkpointing framework whose agent is killed and not restarted gives up after
   * the recovery timeout: it kills its task and exits by itself.
   */
  @Test
  void anExecutorWhoseAgentDoesNotComeBackExits(LocalKubeApiServer kube, KubernetesClient client)
      throws Exception {
    up(kube, client, "--recovery-timeout", "3s");
    FrameworkInfo checkpointing = FRAMEWORK.toBuilder().setId("fw-c").setCheckpoint(true).build();
    master.send(
        MasterMessage.newBuilder()
            .setRunTask(
                RunTask.newBuilder()
                    .setFramework(checkpointing)
                    .setTask(
                        TaskInfo.newBuilder()
                            .setTaskId("d")
                            .setAgentId(agentId)
                            .addResources(Resource.newBuilder().setName("cpus").setScalar(0.25))
                            .setCommand(CommandInfo.newBuilder().setValue("sleep 1000.9191"))
                            .setExecutor(executor("ex-c"))))
            .build());
    master.acknowledge(master.awaitUpdate("d", TaskState.TASK_RUNNING));
    ExecutorProcess ex =
        await()
            .atMost(PATIENCE)
            .until(() -> executorProcess(work, "ex-c"), Optional::isPresent)
            .orElseThrow();
    assertThat(ex.env()).containsEntry("MESOS_CHECKPOINT", "1");
    assertThat(ex.env()).containsEntry("MESOS_RECOVERY_TIMEOUT", "3000ms");
    Path sandbox = Path.of(ex.env().get("MESOS_SANDBOX"));
    master.agent().destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    await()
        .atMost(PATIENCE)
        .until(() -> ProcessHandle.of(ex.pid()).map(p -> !p.isAlive()).orElse(true));
    assertThat(Files.readString(sandbox.resolve("stderr")))
        .contains("lost the agent")
        .contains("the agent did not come back within the recovery timeout (PT3S)");
    assertThat(anyProcess("1000.9191")).as("its task ended with it").isFalse();
  }

  /**
   * Agent kill -9 with two live executors of a checkpointing framework, then the agent again: the
   * one that runs re-subscribes, keeps its task (same processes) and the task is killable through
   * it; the one that cannot (SIGSTOPped) is destroyed after --executor-reregistration-timeout and
   * its task fails with REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
   */
  @Test
  void executorsOfACheckpointingFrameworkOutliveTheirAgent(
      LocalKubeApiServer kube, KubernetesClient client) throws Exception {
    up(kube, client, "--executor-reregistration-timeout", "15s");
    FrameworkInfo checkpointing = FRAMEWORK.toBuilder().setId("fw-r").setCheckpoint(true).build();
    runCheckpointed(checkpointing, "r", "ex-r", "sleep 1000.2424");
    runCheckpointed(checkpointing, "s", "ex-s", "sleep 1000.2525");
    master.acknowledge(master.awaitUpdate("r", TaskState.TASK_RUNNING));
    master.acknowledge(master.awaitUpdate("s", TaskState.TASK_RUNNING));
    ExecutorProcess exR =
        await()
            .atMost(PATIENCE)
            .until(() -> executorProcess(work, "ex-r"), Optional::isPresent)
            .orElseThrow();
    ExecutorProcess exS =
        await()
            .atMost(PATIENCE)
            .until(() -> executorProcess(work, "ex-s"), Optional::isPresent)
            .orElseThrow();
    long taskR = pidOf("1000.2424");
    Path sandboxR = Path.of(exR.env().get("MESOS_SANDBOX"));
    signal(exS.pid(), "STOP");
    try {
      master.restartAgent();
      AgentMessage reregister =
          await()
              .atMost(PATIENCE)
              .until(
                  () -> master.received.stream().filter(AgentMessage::hasReregister).findFirst(),
                  Optional::isPresent)
              .orElseThrow();
      assertThat(reregister.getReregister().getTasksList())
          .extracting(t -> t.getInfo().getTaskId())
          .contains("r", "s");
      await()
          .atMost(PATIENCE)
          .until(() -> Files.readString(sandboxR.resolve("stderr")).contains("re-subscribed"));

      // The one that could not re-subscribe is destroyed, its task with it.
      StatusUpdate timedOut = master.awaitUpdate("s", TaskState.TASK_FAILED);
      assertThat(timedOut.getStatus().getReason())
          .isEqualTo(TaskStatus.Reason.REASON_EXECUTOR_REREGISTRATION_TIMEOUT);
      master.acknowledge(timedOut);
      await()
          .atMost(PATIENCE)
          .until(() -> ProcessHandle.of(exS.pid()).map(p -> !p.isAlive()).orElse(true));
      await().atMost(PATIENCE).until(() -> !anyProcess("1000.2525"));

      // The other runs on, the same processes, and is killed through its executor.
      assertThat(ProcessHandle.of(exR.pid()).map(ProcessHandle::isAlive)).contains(true);
      assertThat(ProcessHandle.of(taskR).map(ProcessHandle::isAlive)).contains(true);
      master.send(
          MasterMessage.newBuilder()
              .setKillTask(KillTask.newBuilder().setFrameworkId("fw-r").setTaskId("r"))
              .build());
      StatusUpdate killed = master.awaitUpdate("r", TaskState.TASK_KILLED);
      assertThat(killed.getStatus().getSource()).isEqualTo(TaskStatus.Source.SOURCE_EXECUTOR);
      master.acknowledge(killed);
      await()
          .atMost(PATIENCE)
          .until(() -> ProcessHandle.of(exR.pid()).map(p -> !p.isAlive()).orElse(true));
      assertThat(anyProcess("1000.2424")).isFalse();
    } finally {
      if (ProcessHandle.of(exS.pid()).isPresent()) {
        signal(exS.pid(), "CONT");
      }
    }
  }
}
