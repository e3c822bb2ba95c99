package io.kmesos.executor.example;

import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.api.v1.TaskStatus.Reason;
import io.kmesos.executor.ExecutorDriver;
import io.kmesos.executor.ExecutorSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The example custom executor ({@code java -jar executor/target/kmesos-executor.jar}, named as a
 * task's {@code executor.command}): runs each task's command ({@code /bin/sh -c value}) as a child
 * process in {@code $MESOS_SANDBOX/tasks/<task-id>} (files {@code stdout}, {@code stderr}) and
 * reports TASK_RUNNING, then TASK_FINISHED (exit 0), TASK_FAILED (with the exit code) or
 * TASK_KILLED. Its tasks stay in its own session, so whatever ends the executor ends them too.
 */
public final class CommandExecutor implements ExecutorDriver.Handler {
  private static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  private final ExecutorSettings settings;
  private ExecutorDriver driver;
  private final Map<String, Process> running = new LinkedHashMap<>();
  private final Map<String, Boolean> killed = new LinkedHashMap<>();

  CommandExecutor(ExecutorSettings settings) {
    this.settings = settings;
  }

  public static void main(String[] args) throws Exception {
    ExecutorSettings settings;
    try {
      settings = ExecutorSettings.fromEnvironment(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("kmesos-executor: " + e.getMessage());
      System.exit(2);
      return;
    }
    CommandExecutor executor = new CommandExecutor(settings);
    try (ExecutorDriver driver = new ExecutorDriver(settings, executor)) {
      executor.driver = driver;
      driver.start();
      ExecutorDriver.Termination end = driver.terminated().get();
      System.err.println("kmesos-executor: " + end.reason());
      driver.close();
      System.exit(end.shutDownByAgent() ? 0 : 1);
    }
  }

  @Override
  public synchronized void launch(TaskInfo task) {
    String id = task.getTaskId();
    Path dir = settings.sandbox().resolve("tasks").resolve(id);
    Process p;
    try {
      Files.createDirectories(dir);
      ProcessBuilder pb =
          new ProcessBuilder(List.of("/bin/sh", "-c", task.getCommand().getValue()))
              .directory(dir.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .redirectOutput(dir.resolve("stdout").toFile())
              .redirectError(dir.resolve("stderr").toFile());
      Map<String, String> env = pb.environment();
      env.clear();
      env.put("PATH", PATH);
      env.put("HOME", dir.toString());
      env.put("MESOS_SANDBOX", dir.toString());
      env.put("MESOS_TASK_ID", id);
      env.put("MESOS_FRAMEWORK_ID", settings.frameworkId());
      env.put("MESOS_EXECUTOR_ID", settings.executorId());
      env.putAll(task.getCommand().getEnvironmentMap());
      p = pb.start();
    } catch (IOException | RuntimeException e) {
      driver.update(
          status(id, TaskState.TASK_FAILED, Reason.REASON_CONTAINER_LAUNCH_FAILED)
              .setMessage("Cannot start the command: " + e.getMessage())
              .build());
      return;
    }
    running.put(id, p);
    killed.put(id, false);
    driver.update(
        status(id, TaskState.TASK_RUNNING, Reason.REASON_UNSPECIFIED)
            .setMessage("Runs as process " + p.pid())
            .build());
    p.onExit().thenRun(() -> ended(id, p));
  }

  private synchronized void ended(String id, Process p) {
    running.remove(id);
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    int status = p.exitValue();
    TaskStatus.Builder s;
    if (Boolean.TRUE.equals(killed.remove(id))) {
      s =
          status(id, TaskState.TASK_KILLED, Reason.REASON_UNSPECIFIED)
              .setMessage("Command killed (status " + status + ")");
    } else if (status == 0) {
      s =
          status(id, TaskState.TASK_FINISHED, Reason.REASON_COMMAND_EXITED)
              .setMessage("Command exited with status 0")
              .setExitCode(0);
    } else {
      s =
          status(id, TaskState.TASK_FAILED, Reason.REASON_COMMAND_EXITED)
              .setMessage("Command exited with status " + status)
              .setExitCode(status);
    }
    driver.update(s.build());
    notifyAll();
  }

  @Override
  public synchronized void kill(String taskId, Duration grace) {
    Process p = running.get(taskId);
    if (p == null) {
      return; // ended already: its terminal update is on its way
    }
    killed.put(taskId, true);
    p.descendants().forEach(ProcessHandle::destroy);
    p.destroy();
    Thread forcer =
        new Thread(
            () -> {
              try {
                if (!p.waitFor(Math.max(1, grace.toMillis()), TimeUnit.MILLISECONDS)) {
                  p.descendants().forEach(ProcessHandle::destroyForcibly);
                  p.destroyForcibly();
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "kill-" + taskId);
    forcer.setDaemon(true);
    forcer.start();
  }

  @Override
  public synchronized void shutdown(Duration grace) {
    for (String id : List.copyOf(running.keySet())) {
      kill(id, grace);
    }
    long deadline = System.nanoTime() + grace.toNanos() + TimeUnit.SECONDS.toNanos(5);
    while (!running.isEmpty() && System.nanoTime() < deadline) {
      try {
        wait(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private TaskStatus.Builder status(String taskId, TaskState state, Reason reason) {
    return TaskStatus.newBuilder().setTaskId(taskId).setState(state).setReason(reason);
  }
}
