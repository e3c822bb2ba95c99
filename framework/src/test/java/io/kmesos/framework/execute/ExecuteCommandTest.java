package io.kmesos.framework.execute;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.FakeMaster;
import io.kmesos.framework.ResourceText;
import io.kmesos.framework.TestTls;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** kmesos-execute's options, its exit status, and one run against a fake master. */
class ExecuteCommandTest {
  @TempDir Path dir;

  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  CommandLine commandLine(ExecuteCommand command, Map<String, String> env) {
    CommandLine cl = OneLineErrors.commandLine(command, env::get);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl;
  }

  TaskInfo parse(String... args) {
    ExecuteCommand command = new ExecuteCommand();
    commandLine(command, Map.of()).parseArgs(args);
    return command.taskInfo();
  }

  @Test
  void aTaskForACustomExecutor() {
    TaskInfo task =
        parse(
            "--master",
            "m:5050",
            "--task-id",
            "t1",
            "--command",
            "echo hi",
            "--executor",
            "java -jar kmesos-executor.jar");
    assertThat(task.hasExecutor()).isTrue();
    assertThat(task.getExecutor().getExecutorId()).isEqualTo("t1");
    assertThat(task.getExecutor().getCommand().getValue())
        .isEqualTo("java -jar kmesos-executor.jar");
    assertThat(task.getCommand().getValue()).isEqualTo("echo hi");
    assertThat(parse("--master", "m:5050", "--command", "true").hasExecutor()).isFalse();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> parse("--master", "m:5050", "--command", "true", "--executor-id", "e"))
        .hasMessage("--executor-id needs --executor");
  }

  @Test
  void aShellCommandWithResourcesEnvironmentAndGrace() {
    TaskInfo task =
        parse(
            "--master",
            "m:5050",
            "--name",
            "hello",
            "--task-id",
            "t1",
            "--command",
            "echo hi",
            "--resources",
            "cpus:0.5;mem:64",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--grace",
            "3s");
    assertThat(task.getTaskId()).isEqualTo("t1");
    assertThat(task.getName()).isEqualTo("hello");
    assertThat(task.getCommand())
        .isEqualTo(
            CommandInfo.newBuilder()
                .setShell(true)
                .setValue("echo hi")
                .putEnvironment("A", "1")
                .putEnvironment("B", "x=y")
                .build());
    assertThat(ResourceText.format(task.getResourcesList())).isEqualTo("cpus:0.5;mem:64");
    assertThat(task.getKillGracePeriod().getSeconds()).isEqualTo(3);
  }

  @Test
  void withoutAShellTheArgumentsAreTheArgv() {
    TaskInfo task = parse("--master", "m:5050", "--no-shell", "--command", "sleep", "--", "10");
    assertThat(task.getCommand().getShell()).isFalse();
    assertThat(task.getCommand().getValue()).isEqualTo("sleep");
    assertThat(task.getCommand().getArgumentsList()).containsExactly("sleep", "10");
    assertThat(task.getTaskId()).startsWith("kmesos-execute-");
    assertThat(ResourceText.format(task.getResourcesList())).isEqualTo("cpus:0.1;mem:32");
  }

  @Test
  void checkpointAndReconciliationAreAskedFor() {
    ExecuteCommand command = new ExecuteCommand();
    commandLine(command, Map.of())
        .parseArgs("--master", "m:5050", "--command", "sleep 60", "--checkpoint");
    assertThat(command.frameworkInfo().getCheckpoint()).isTrue();
    ExecuteCommand plain = new ExecuteCommand();
    commandLine(plain, Map.of()).parseArgs("--master", "m:5050", "--command", "true");
    assertThat(plain.frameworkInfo().getCheckpoint()).isFalse();
    assertThat(
            commandLine(new ExecuteCommand(), Map.of())
                .execute("--master", "m:5050", "--command", "x", "--reconcile-every", "0s"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("kmesos-execute: --reconcile-every must be positive");
  }

  @Test
  void badOptionsAreNamedWithStatus2() {
    assertThat(
            commandLine(new ExecuteCommand(), Map.of())
                .execute("--master", "m:5050", "--command", "x", "--resources", "cpus:lots"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains(
            "kmesos-execute: --resources: invalid resources 'cpus:lots': 'cpus:lots': 'lots' is not a number");
    err.getBuffer().setLength(0);
    assertThat(commandLine(new ExecuteCommand(), Map.of()).execute("--command", "x", "a"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("need --no-shell");
    err.getBuffer().setLength(0);
    assertThat(
            commandLine(new ExecuteCommand(), Map.of())
                .execute("--command", "x", "--tls-dir", dir.toString()))
        .isEqualTo(2);
    assertThat(err.toString()).contains("--master is missing");
    err.getBuffer().setLength(0);
    assertThat(
            commandLine(new ExecuteCommand(), Map.of("KMESOS_MASTER", "nope"))
                .execute("--command", "x", "--tls-dir", dir.toString()))
        .isEqualTo(2);
    assertThat(err.toString()).contains("master address 'nope' is not host:port");
  }

  @Test
  void exitStatusFromTheTerminalUpdate() {
    assertThat(ExitCodes.of(status(TaskState.TASK_FINISHED, null))).isZero();
    assertThat(ExitCodes.of(status(TaskState.TASK_FAILED, 3))).isEqualTo(3);
    assertThat(ExitCodes.of(status(TaskState.TASK_FAILED, null))).isEqualTo(1);
    assertThat(ExitCodes.of(status(TaskState.TASK_FAILED, 0))).isEqualTo(1);
    for (TaskState s :
        new TaskState[] {
          TaskState.TASK_KILLED,
          TaskState.TASK_LOST,
          TaskState.TASK_ERROR,
          TaskState.TASK_DROPPED,
          TaskState.TASK_GONE,
          TaskState.TASK_GONE_BY_OPERATOR
        }) {
      assertThat(ExitCodes.of(status(s, null))).as(s.name()).isEqualTo(1);
    }
  }

  @Test
  void runsOnTheFirstOfferThatFitsPrintsUpdatesAndExitsWithTheTaskStatus() throws Exception {
    TestTls tls = new TestTls(dir);
    Path token = Files.writeString(dir.resolve("token"), "t");
    try (FakeMaster master = tls.master()) {
      ExecuteCommand command = new ExecuteCommand();
      CommandLine cl = commandLine(command, Map.of());
      CompletableFuture<Integer> exit =
          CompletableFuture.supplyAsync(
              () ->
                  cl.execute(
                      "--master", master.address(),
                      "--tls-dir", dir.toString(),
                      "--token-file", token.toString(),
                      "--task-id", "t1",
                      "--command", "exit 7",
                      "--resources", "cpus:1;mem:64",
                      "--role", "web"));
      await().atMost(Duration.ofSeconds(30)).until(() -> !master.subscribes.isEmpty());
      assertThat(master.subscribes.get(0).getFrameworkInfo().getRolesList()).containsExactly("web");
      // Subscribed: the implicit reconciliation that follows every subscription has come.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> !master.received(ReconcileRequest.class).isEmpty());
      master.send(
          Event.newBuilder()
              .setOffers(
                  Event.Offers.newBuilder()
                      .addOffers(offer("small", "a1", "cpus:0.5;mem:1024"))
                      .addOffers(offer("big", "a2", "cpus:4;mem:1024")))
              .build());
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> master.received(AcceptRequest.class).size() == 1);
      AcceptRequest accept = master.received(AcceptRequest.class).get(0);
      assertThat(accept.getOfferIdsList()).containsExactly("big");
      TaskInfo launched = accept.getOperations(0).getLaunch().getTasks(0);
      assertThat(launched.getAgentId()).isEqualTo("a2");
      assertThat(launched.getTaskId()).isEqualTo("t1");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> master.received(DeclineRequest.class).size(), n -> n >= 1);
      assertThat(master.received(DeclineRequest.class).get(0).getOfferIdsList())
          .containsExactly("small");

      ByteString uuid = ByteString.copyFromUtf8("0123456789abcdef");
      master.send(update(status(TaskState.TASK_RUNNING, null).toBuilder().setUuid(uuid).build()));
      master.send(
          update(
              status(TaskState.TASK_FAILED, 7).toBuilder()
                  .setMessage("Command exited with status 7")
                  .setUuid(ByteString.copyFromUtf8("fedcba9876543210"))
                  .build()));
      assertThat(exit.get(30, TimeUnit.SECONDS)).isEqualTo(7);
      assertThat(out.toString().lines())
          .hasSize(2)
          .satisfiesExactly(
              l ->
                  assertThat(l)
                      .matches(
                          "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}  t1  TASK_RUNNING"),
              l ->
                  assertThat(l)
                      .endsWith(
                          "  t1  TASK_FAILED  Command exited with status 7  (REASON_COMMAND_EXITED, exit code 7)"));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> master.received(AcknowledgeRequest.class).size(), n -> n >= 1);
      assertThat(master.received(AcknowledgeRequest.class).get(0).getUuid()).isEqualTo(uuid);
    } finally {
      tls.trust.close();
    }
  }

  static Offer offer(String id, String agent, String resources) {
    return Offer.newBuilder()
        .setId(id)
        .setFrameworkId("fw-1")
        .setAgentId(agent)
        .setHostname(agent + ".example")
        .setAllocationRole("web")
        .addAllResources(ResourceText.parse(resources))
        .build();
  }

  static Event update(TaskStatus status) {
    return Event.newBuilder().setUpdate(Event.Update.newBuilder().setStatus(status)).build();
  }

  static TaskStatus status(TaskState state, Integer exitCode) {
    TaskStatus.Builder b =
        TaskStatus.newBuilder()
            .setTaskId("t1")
            .setAgentId("a2")
            .setFrameworkId("fw-1")
            .setState(state);
    if (exitCode != null) {
      b.setExitCode(exitCode).setReason(TaskStatus.Reason.REASON_COMMAND_EXITED);
    }
    return b.build();
  }

  @Test
  void theSubscriptionsEndAfterItsOwnTeardownDoesNotChangeTheTasksExitStatus() {
    TaskInfo task = parse("--master", "m:5050", "--name", "t", "--command", "exit 3");
    Execution execution =
        new Execution(task, "*", null, new PrintWriter(out, true), new PrintWriter(err, true));
    execution.update(
        null,
        TaskStatus.newBuilder()
            .setTaskId(task.getTaskId())
            .setState(TaskState.TASK_FAILED)
            .setExitCode(3)
            .build());
    // kmesos-execute tears its framework down; the master's error event that ends the stream
    // races with the exit and must not turn exit status 3 into 1.
    execution.error(null, "Framework torn down by its Teardown call");
    assertThat(execution.exitCode()).isEqualTo(3);
    assertThat(err.toString()).doesNotContain("torn down");
  }
}
