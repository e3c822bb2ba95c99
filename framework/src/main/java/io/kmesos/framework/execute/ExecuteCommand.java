package io.kmesos.framework.execute;

import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.ExecutorInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.MasterConnection;
import io.kmesos.framework.Protos;
import io.kmesos.framework.ResourceText;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-execute}, as Mesos's {@code mesos-execute}: a framework that runs one command as a
 * task, prints every status update of it, and exits with the task's exit status. Ctrl-C kills the
 * task and waits for its end.
 */
@Command(
    name = "kmesos-execute",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = {
      "Runs one command as a task on a kmesos cluster, prints each of its status updates (time, task,"
          + " state, message) and exits with its exit status: 0 when it finished, its own status when it"
          + " failed, 1 when it failed otherwise or was killed, lost, dropped or invalid.",
      "Ctrl-C kills the task and waits for its last update."
    },
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:the task finished",
      "N:the task's command exited with status N",
      "1:the task failed, was killed, lost, dropped or invalid; or the master refused the framework",
      "2:invalid options",
      "130:interrupted before the task was launched"
    })
public final class ExecuteCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin MasterConnection connection;

  @Option(
      names = "--name",
      defaultValue = "kmesos-execute",
      description = "The framework's and the task's name (default: ${DEFAULT-VALUE}).")
  String name;

  @Option(
      names = "--task-id",
      description = "The task's ID (default: the name and a random suffix).")
  String taskId;

  @Option(
      names = "--command",
      required = true,
      description =
          "What to run: a shell command line (run with /bin/sh -c), or with --no-shell the"
              + " executable, looked up on PATH when it has no slash.")
  String command;

  @Option(
      names = "--shell",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description =
          "Run --command through /bin/sh -c (the default); --no-shell runs it directly, with the"
              + " ARGS that follow as its arguments.")
  boolean shell;

  @Parameters(
      paramLabel = "ARGS",
      arity = "0..*",
      description = "The command's arguments, with --no-shell (after --, if they start with -).")
  List<String> args = new ArrayList<>();

  @Option(
      names = "--resources",
      defaultValue = "cpus:0.1;mem:32",
      description =
          "What the task needs, e.g. 'cpus:0.5;mem:128;ports:[31000-31000]' (default:"
              + " ${DEFAULT-VALUE}).")
  String resources;

  @Option(
      names = "--role",
      defaultValue = "*",
      description = "The role the framework is offered resources for (default: ${DEFAULT-VALUE}).")
  String role;

  @Option(
      names = "--env",
      paramLabel = "NAME=VALUE",
      description = "Adds a variable to the task's environment (repeatable).")
  Map<String, String> env = new LinkedHashMap<>();

  @Option(
      names = "--executor",
      paramLabel = "COMMAND",
      description =
          "Run the task through this custom executor (a shell command line the agent starts, e.g."
              + " 'java -jar kmesos-executor.jar', the example executor), not as the agent's own"
              + " command task (docs/executors.md).")
  String executor;

  @Option(
      names = "--executor-id",
      description = "The executor's ID (default: the task's ID); only with --executor.")
  String executorId;

  @Option(
      names = "--kill-after",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "Kill the task this long after it started running (e.g. 30s, 5m).")
  Duration killAfter;

  @Option(
      names = "--grace",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "How long a kill waits between SIGTERM and SIGKILL (default: the agent's).")
  Duration grace;

  @Option(
      names = "--checkpoint",
      description =
          "Ask for checkpointing: the task outlives restarts of its agent, and of the agent's Pod"
              + " where the agent gives tasks cgroups of their own (docs/agent-recovery.md).")
  boolean checkpoint;

  @Option(
      names = "--reconcile-every",
      paramLabel = "DURATION",
      converter = Durations.class,
      description =
          "While the task runs, ask the master for its state this often and print the answer"
              + " (default: only when subscribing).")
  Duration reconcileEvery;

  @Option(
      names = "--failover-timeout",
      paramLabel = "DURATION",
      defaultValue = "1m",
      converter = Durations.class,
      description =
          "How long the master keeps the framework and its task when the connection breaks, for"
              + " the client to resubscribe (default: ${DEFAULT-VALUE}; a normal end tears it down"
              + " at once).")
  Duration failoverTimeout;

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new ExecuteCommand()).execute(args));
  }

  /** The task as the options describe it (not yet on an agent). */
  TaskInfo taskInfo() {
    List<Resource> wanted;
    try {
      wanted = ResourceText.parse(resources);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--resources: " + e.getMessage());
    }
    if (wanted.isEmpty()) {
      throw new ParameterException(
          spec.commandLine(), "--resources names nothing; a task needs e.g. 'cpus:0.1;mem:32'");
    }
    if (command.isBlank()) {
      throw new ParameterException(spec.commandLine(), "--command is empty");
    }
    if (shell && !args.isEmpty()) {
      throw new ParameterException(
          spec.commandLine(),
          "arguments after the options ("
              + String.join(" ", args)
              + ") need --no-shell; with a shell, put them in --command");
    }
    for (String variable : env.keySet()) {
      if (variable.isEmpty() || variable.contains("=")) {
        throw new ParameterException(
            spec.commandLine(), "--env needs NAME=VALUE, not '" + variable + "'");
      }
    }
    if (killAfter != null && (killAfter.isNegative() || killAfter.isZero())) {
      throw new ParameterException(spec.commandLine(), "--kill-after must be positive");
    }
    if (reconcileEvery != null && (reconcileEvery.isNegative() || reconcileEvery.isZero())) {
      throw new ParameterException(spec.commandLine(), "--reconcile-every must be positive");
    }
    if (role.isBlank()) {
      throw new ParameterException(spec.commandLine(), "--role is empty");
    }
    CommandInfo.Builder cmd = CommandInfo.newBuilder().setShell(shell).setValue(command);
    if (!shell) {
      cmd.addArguments(command).addAllArguments(args);
    }
    cmd.putAllEnvironment(env);
    TaskInfo.Builder task =
        TaskInfo.newBuilder()
            .setTaskId(
                taskId != null ? taskId : name + "-" + UUID.randomUUID().toString().substring(0, 8))
            .setName(name)
            .addAllResources(wanted)
            .setCommand(cmd);
    if (grace != null) {
      task.setKillGracePeriod(Protos.duration(grace));
    }
    if (executorId != null && executor == null) {
      throw new ParameterException(spec.commandLine(), "--executor-id needs --executor");
    }
    if (executor != null) {
      if (executor.isBlank()) {
        throw new ParameterException(spec.commandLine(), "--executor is empty");
      }
      task.setExecutor(
          ExecutorInfo.newBuilder()
              .setExecutorId(executorId != null ? executorId : task.getTaskId())
              .setName(name)
              .setCommand(CommandInfo.newBuilder().setShell(true).setValue(executor)));
    }
    return task.build();
  }

  FrameworkInfo frameworkInfo() {
    return FrameworkInfo.newBuilder()
        .setName(name)
        .addRoles(role)
        .setFailoverTimeout(Protos.duration(failoverTimeout))
        .setCheckpoint(checkpoint)
        .addCapabilities(FrameworkInfo.Capability.TASK_KILLING_STATE)
        .build();
  }

  @Override
  public Integer call() throws Exception {
    TaskInfo task = taskInfo();
    List<String> masters = connection.masters();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Execution execution = new Execution(task, role, killAfter, reconcileEvery, out, err);
    try (ServerTrust trust = connection.serverTrust()) {
      FrameworkSettings settings =
          FrameworkSettings.of(
              masters, frameworkInfo(), trust.channelCredentials(), connection.tokenFile());
      FrameworkClient client;
      try {
        client = FrameworkClient.start(settings, execution);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      Thread onInterrupt = new Thread(() -> interrupted(client, execution, task, err), "ctrl-c");
      Runtime.getRuntime().addShutdownHook(onInterrupt);
      try {
        execution.finished.await();
      } finally {
        try {
          Runtime.getRuntime().removeShutdownHook(onInterrupt);
        } catch (IllegalStateException shuttingDown) {
          // the hook is running: it ends the process
        }
      }
      finish(client);
      return execution.exitCode();
    }
  }

  /** The framework is done: no failover wanted, so it goes away with its (ended) task. */
  private static void finish(FrameworkClient client) {
    try {
      client.teardown().get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // The master removes a framework without failover timeout when its subscription ends.
    }
    client.close();
  }

  /** Ctrl-C: kill the task, wait for its terminal update, exit with its status. */
  private void interrupted(
      FrameworkClient client, Execution execution, TaskInfo task, PrintWriter err) {
    if (execution.finished.getCount() == 0) {
      return;
    }
    int code = ExitCodes.INTERRUPTED;
    if (execution.launched()) {
      err.println("kmesos-execute: interrupted; killing task " + task.getTaskId());
      err.flush();
      long deadline =
          System.nanoTime()
              + (grace == null ? 0 : grace.toNanos())
              + Duration.ofSeconds(60).toNanos();
      try {
        // Kills are not retried by the master: repeat until the task ends.
        while (System.nanoTime() < deadline) {
          client.kill(task.getTaskId(), execution.agentId(), grace);
          if (execution.finished.await(5, TimeUnit.SECONDS)) {
            break;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      code = execution.finished.getCount() == 0 ? execution.exitCode() : 1;
    }
    finish(client);
    err.flush();
    spec.commandLine().getOut().flush();
    // A shutdown hook cannot set the exit status through System.exit: end the process here.
    Runtime.getRuntime().halt(code);
  }
}
