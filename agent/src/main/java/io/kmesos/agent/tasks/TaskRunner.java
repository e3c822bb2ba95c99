package io.kmesos.agent.tasks;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.api.v1.TaskStatus.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks as OS processes, as Mesos's command executor does, and reports their states to a
 * {@link Listener} (which gives each update its UUID and delivers it: {@code
 * io.kmesos.agent.updates}).
 *
 * <p>A RunTask is checked and its resources are taken at once, on the caller's thread; its process
 * starts on one of a few threads of the runner's own, so that a batch of tasks (and the session's
 * other messages: acknowledgements, kills) does not queue behind one fork/exec after another. The
 * first update of a task that starts is TASK_RUNNING, sent as soon as its process exists: the agent
 * starts the command itself, within milliseconds, so there is no TASK_STARTING (which Mesos's
 * command executor sends while it, a process of its own, gets ready; an optional state). Sending
 * one would cost TASK_RUNNING a full round trip, since a task's updates are delivered one at a
 * time, each after the framework acknowledged the one before ({@code io.kmesos.agent.updates}). A
 * task killed before its process started never starts: TASK_KILLED,
 * REASON_TASK_KILLED_DURING_LAUNCH.
 *
 * <p>Each run gets a sandbox {@code <work-dir>/sandboxes/<framework-id>/<task-id>/<run-id>}, its
 * working directory, holding the {@code stdout} and {@code stderr} files. The command runs through
 * {@code /usr/bin/setsid}: the JVM's child is not a process group leader, so setsid makes it the
 * leader of a new session and process group and execs the command in place (pid == pgid == sid). A
 * kill sends SIGTERM to the whole group, and SIGKILL after the grace period; when the command's own
 * process ends (by itself or killed), whatever it left behind in its session is SIGKILLed too, so
 * no task leaves orphans on the node. The terminal update is sent once they are gone.
 *
 * <p>Exit status: Java reports a process that a signal ended as 128 + the signal's number,
 * indistinguishable from a command that exits with that status itself (a shell does the same for
 * its children); statuses 129..192 are therefore reported as "terminated by signal N".
 */
public final class TaskRunner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskRunner.class);
  private static final Path SETSID = Path.of("/usr/bin/setsid");

  /** IDs become directory names: no separators, no "." or "..", nothing a shell finds special. */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.:@+-]{1,255}");

  private static final String DEFAULT_PATH =
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  /**
   * Receives every state change of every task, in order per task. Called under the runner's lock.
   */
  public interface Listener {
    void update(FrameworkInfo framework, TaskStatus status);
  }

  private final Path workDir;
  private final Duration defaultGracePeriod;
  private final ScheduledExecutorService timers;
  private final Listener listener;
  private final ResourceAccount resources;

  /** Where processes start; the runner's own pool unless a test gives its own. */
  private final Executor starts;

  private final ExecutorService ownStarts;
  private volatile String agentId = "";
  private boolean closed;

  /** Tasks whose command's process ended, for {@link #reap} to clear up and report in batches. */
  private final ConcurrentLinkedQueue<Run> exits = new ConcurrentLinkedQueue<>();

  private final AtomicBoolean reaping = new AtomicBoolean();

  private final Map<Key, Run> runs = new LinkedHashMap<>();
  private final Map<String, FrameworkInfo> frameworks = new LinkedHashMap<>();

  record Key(String frameworkId, String taskId) {}

  private static final class Run {
    final Key key;
    final FrameworkInfo framework;
    final TaskInfo info;
    final Path sandbox;

    /** Null until the process started. */
    Process process;

    /** What Reregister reports: TASK_STARTING until the process runs. */
    TaskState state = TaskState.TASK_STARTING;

    boolean killed;

    /** A kill that came before the process started: its grace period. */
    Duration pendingKill;

    ScheduledFuture<?> forceKill;

    /** When the RunTask came (System.nanoTime), for the log's start time. */
    final long received = System.nanoTime();

    /** Descendants seen at the kill, to reach those that left the session (setsid). */
    final Set<ProcessHandle> descendants = new LinkedHashSet<>();

    Run(Key key, FrameworkInfo framework, TaskInfo info, Path sandbox) {
      this.key = key;
      this.framework = framework;
      this.info = info;
      this.sandbox = sandbox;
    }
  }

  /**
   * @param workDir the agent's work directory; sandboxes go under {@code sandboxes/}
   * @param total what the agent offers; it never runs tasks that hold more
   * @param defaultGracePeriod between SIGTERM and SIGKILL when neither kill nor task says
   * @param timers for grace periods (its threads run no task code)
   */
  public TaskRunner(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      Listener listener) {
    this(workDir, total, defaultGracePeriod, timers, listener, null);
  }

  /** As above; {@code starts} (when not null) runs the process starts, for tests to hold them. */
  TaskRunner(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      Listener listener,
      Executor starts) {
    this.workDir = workDir;
    this.resources = new ResourceAccount(total);
    this.defaultGracePeriod = defaultGracePeriod;
    this.timers = timers;
    this.listener = listener;
    if (starts != null) {
      this.ownStarts = null;
      this.starts = starts;
    } else {
      // fork/exec is mostly the kernel's work: a thread per core keeps the cores busy with a
      // batch of starts without a crowd of threads competing for them.
      this.ownStarts =
          Executors.newFixedThreadPool(
              Math.max(2, Runtime.getRuntime().availableProcessors()),
              r -> {
                Thread t = new Thread(r, "task-starts");
                t.setDaemon(true);
                return t;
              });
      this.starts = ownStarts;
    }
  }

  /** The agent ID updates carry, once the master's registry has admitted the agent. */
  public void setAgentId(String agentId) {
    this.agentId = agentId;
  }

  /**
   * Starts a task (RunTask). A task the runner already holds is ignored, as the contract says. An
   * invalid task gets TASK_ERROR, one that does not fit in the free resources TASK_DROPPED
   * (TASK_LOST for frameworks that are not PARTITION_AWARE), before this returns; otherwise its
   * resources are taken now and its process starts soon after, on another thread: TASK_RUNNING, or
   * TASK_FAILED if it cannot start.
   */
  public synchronized void launch(FrameworkInfo framework, TaskInfo info) {
    String frameworkId = framework.getId();
    frameworks.put(frameworkId, framework);
    Key key = new Key(frameworkId, info.getTaskId());
    if (runs.containsKey(key)) {
      LOG.info("ignoring a second run_task for task {} of framework {}", key.taskId, frameworkId);
      return;
    }
    Optional<String> invalid = invalid(framework, info);
    if (invalid.isPresent()) {
      emit(
          framework,
          info.getTaskId(),
          TaskState.TASK_ERROR,
          Reason.REASON_TASK_INVALID,
          invalid.get(),
          null);
      return;
    }
    Optional<String> notFit = resources.whyNotFits(info.getResourcesList());
    if (notFit.isPresent()) {
      emit(
          framework,
          info.getTaskId(),
          dropped(framework),
          Reason.REASON_CONTAINER_LAUNCH_FAILED,
          "Task does not fit in this agent's free resources: " + notFit.get(),
          null);
      return;
    }
    Path sandbox =
        workDir
            .resolve("sandboxes")
            .resolve(frameworkId)
            .resolve(info.getTaskId())
            .resolve(UUID.randomUUID().toString());
    Run run = new Run(key, framework, info, sandbox);
    runs.put(key, run);
    resources.take(info.getResourcesList());
    try {
      starts.execute(() -> start(run));
    } catch (RejectedExecutionException e) {
      endUnstarted(
          run,
          TaskState.TASK_FAILED,
          Reason.REASON_CONTAINER_LAUNCH_FAILED,
          "The agent is stopping");
    }
  }

  /** A run whose process never started ends: its resources are free, its update goes out. */
  private synchronized void endUnstarted(Run run, TaskState state, Reason reason, String message) {
    runs.remove(run.key);
    resources.release(run.info.getResourcesList());
    emit(run.framework, run.info.getTaskId(), state, reason, message, null);
  }

  /** Starts the run's process, off the lock (on {@link #starts}). */
  private void start(Run run) {
    TaskInfo info = run.info;
    String frameworkId = run.framework.getId();
    synchronized (this) {
      if (closed || run.pendingKill != null) {
        endUnstarted(
            run,
            TaskState.TASK_KILLED,
            Reason.REASON_TASK_KILLED_DURING_LAUNCH,
            "Killed before its command started");
        return;
      }
    }
    Process process;
    long begin = System.nanoTime();
    try {
      Files.createDirectories(run.sandbox);
      ProcessBuilder pb = new ProcessBuilder(command(info)).directory(run.sandbox.toFile());
      pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
      pb.redirectOutput(run.sandbox.resolve("stdout").toFile());
      pb.redirectError(run.sandbox.resolve("stderr").toFile());
      Map<String, String> env = pb.environment();
      // Not the agent's own environment (its options, the pod's service links): what Mesos's
      // command executor gives a task, then the task's own variables.
      env.clear();
      env.put("PATH", DEFAULT_PATH);
      env.put("HOME", run.sandbox.toString());
      env.put("MESOS_SANDBOX", run.sandbox.toString());
      env.put("MESOS_TASK_ID", info.getTaskId());
      env.put("MESOS_FRAMEWORK_ID", frameworkId);
      env.put("MESOS_AGENT_ID", agentId);
      env.putAll(info.getCommand().getEnvironmentMap());
      process = pb.start();
    } catch (IOException | RuntimeException e) {
      endUnstarted(
          run,
          TaskState.TASK_FAILED,
          Reason.REASON_CONTAINER_LAUNCH_FAILED,
          "Cannot start the task's command: " + e.getMessage());
      return;
    }
    synchronized (this) {
      run.process = process;
      if (closed) {
        // The agent stopped while the process started: it must not outlive the agent either.
        run.killed = true;
        forceKill(run);
      } else {
        run.state = TaskState.TASK_RUNNING;
        LOG.info(
            "task {} of framework {} runs as process {} in {} ({} ms after its RunTask, {} ms to"
                + " start)",
            info.getTaskId(),
            frameworkId,
            process.pid(),
            run.sandbox,
            String.format("%.1f", (System.nanoTime() - run.received) / 1e6),
            String.format("%.1f", (System.nanoTime() - begin) / 1e6));
        emit(
            run.framework,
            info.getTaskId(),
            TaskState.TASK_RUNNING,
            Reason.REASON_UNSPECIFIED,
            "",
            null);
        if (run.pendingKill != null) {
          startKill(run, run.pendingKill); // the kill came while the process started
        }
      }
    }
    process.onExit().thenRun(() -> exited(run));
  }

  /**
   * Kills a task (KillTask): SIGTERM to its process group, SIGKILL after the grace period ({@code
   * gracePeriod} if given, else the task's kill_grace_period, else the agent's default). A task the
   * runner does not hold gets TASK_DROPPED (TASK_LOST without PARTITION_AWARE),
   * REASON_TASK_UNKNOWN.
   */
  public synchronized void kill(String frameworkId, String taskId, Optional<Duration> gracePeriod) {
    Run run = runs.get(new Key(frameworkId, taskId));
    if (run == null) {
      FrameworkInfo framework =
          frameworks.getOrDefault(
              frameworkId, FrameworkInfo.newBuilder().setId(frameworkId).build());
      emit(
          framework,
          taskId,
          dropped(framework),
          Reason.REASON_TASK_UNKNOWN,
          "The agent does not know this task",
          null);
      return;
    }
    Duration grace =
        gracePeriod.orElseGet(
            () ->
                run.info.hasKillGracePeriod()
                    ? Duration.ofNanos(Durations.toNanos(run.info.getKillGracePeriod()))
                    : defaultGracePeriod);
    startKill(run, grace);
  }

  /** Kills every task of the framework (ShutdownFramework). */
  public synchronized void shutdownFramework(String frameworkId) {
    for (Run run : List.copyOf(runs.values())) {
      if (run.framework.getId().equals(frameworkId)) {
        startKill(
            run,
            run.info.hasKillGracePeriod()
                ? Duration.ofNanos(Durations.toNanos(run.info.getKillGracePeriod()))
                : defaultGracePeriod);
      }
    }
  }

  /** The tasks that have not ended, for re-registration (without latest_status). */
  public synchronized List<Task> tasks() {
    List<Task> tasks = new ArrayList<>();
    for (Run run : runs.values()) {
      tasks.add(
          Task.newBuilder()
              .setInfo(run.info)
              .setFrameworkId(run.framework.getId())
              .setState(run.state)
              .build());
    }
    return tasks;
  }

  /** The FrameworkInfo of every framework the runner has run a task of. */
  public synchronized Map<String, FrameworkInfo> frameworks() {
    return Map.copyOf(frameworks);
  }

  public synchronized int running() {
    return runs.size();
  }

  public synchronized Map<String, Double> total() {
    return resources.total();
  }

  public synchronized Map<String, Double> used() {
    return resources.used();
  }

  public synchronized Map<String, Double> free() {
    return resources.free();
  }

  /**
   * Kills every task at once (SIGKILL, no grace): the agent is stopping and cannot recover its
   * tasks after a restart yet, so none may outlive it unsupervised.
   */
  @Override
  public synchronized void close() {
    closed = true; // the starts still queued start nothing
    if (ownStarts != null) {
      ownStarts.shutdown();
    }
    for (Run run : List.copyOf(runs.values())) {
      if (run.process != null) {
        run.killed = true;
        forceKill(run);
      }
    }
  }

  private void startKill(Run run, Duration grace) {
    if (run.process == null) {
      if (run.pendingKill == null) {
        run.pendingKill = grace; // start() acts on it: before the start, or right after
      }
      return;
    }
    if (run.killed) {
      return; // already being killed: the first grace period stands
    }
    run.killed = true;
    long pid = run.process.pid();
    run.process.descendants().forEach(run.descendants::add);
    if (run.framework.getCapabilitiesList().contains(FrameworkInfo.Capability.TASK_KILLING_STATE)) {
      run.state = TaskState.TASK_KILLING;
      emit(
          run.framework,
          run.info.getTaskId(),
          TaskState.TASK_KILLING,
          Reason.REASON_UNSPECIFIED,
          "",
          null);
    }
    LOG.info(
        "killing task {} of framework {} (process group {}): SIGTERM, SIGKILL after {}",
        run.info.getTaskId(),
        run.framework.getId(),
        pid,
        grace);
    ProcessTree.signalGroup(pid, "TERM");
    for (ProcessHandle d : run.descendants) {
      if (ProcessTree.pgid(d.pid()).orElse(pid) != pid) {
        d.destroy();
      }
    }
    run.forceKill =
        timers.schedule(
            () -> {
              synchronized (this) {
                forceKill(run);
              }
            },
            grace.toNanos(),
            TimeUnit.NANOSECONDS);
  }

  private void forceKill(Run run) {
    if (!run.process.isAlive()) {
      return; // exited() clears up what is left, and its pid may be another process's by now
    }
    long pid = run.process.pid();
    run.process.descendants().forEach(run.descendants::add);
    ProcessTree.signalGroup(pid, "KILL");
    run.descendants.forEach(ProcessHandle::destroyForcibly);
  }

  /** The command's own process ended (on the JDK's process reaper thread): queue it for reaping. */
  private void exited(Run run) {
    exits.add(run);
    if (reaping.compareAndSet(false, true)) {
      try {
        timers.execute(this::reap);
      } catch (RejectedExecutionException e) {
        reaping.set(false); // the agent is stopping
      }
    }
  }

  /**
   * Clears up after and reports every task in {@link #exits}, off the lock. A task's session may
   * still hold background children after its leader is gone, which takes a scan of /proc to see;
   * when many tasks end at once (a batch of short tasks) one scan serves all that are queued, not
   * one each.
   */
  private void reap() {
    while (true) {
      List<Run> batch = new ArrayList<>();
      for (Run run; (run = exits.poll()) != null; ) {
        batch.add(run);
      }
      if (batch.isEmpty()) {
        reaping.set(false);
        // An exit queued after the poll and before the flag was cleared: ours to reap still.
        if (exits.isEmpty() || !reaping.compareAndSet(false, true)) {
          return;
        }
        continue;
      }
      Map<Long, List<Long>> left =
          ProcessTree.sessionMembers(
              batch.stream().map(r -> r.process.pid()).collect(Collectors.toSet()));
      for (Run run : batch) {
        if (left.getOrDefault(run.process.pid(), List.of()).isEmpty()
            && run.descendants.stream().noneMatch(ProcessHandle::isAlive)) {
          report(run);
        } else {
          try {
            timers.execute(() -> clearUp(run)); // not to hold up the others' reports
          } catch (RejectedExecutionException e) {
            clearUp(run);
          }
        }
      }
    }
  }

  /** Kills what the task left behind (its leader is gone), then reports. */
  private void clearUp(Run run) {
    long pid = run.process.pid();
    // The leader is gone; its group and session may still hold background children, and the
    // descendants seen at a kill those that left. None may outlive the task.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    List<Long> left = ProcessTree.sessionMembers(pid);
    while ((!left.isEmpty() || run.descendants.stream().anyMatch(ProcessHandle::isAlive))
        && System.nanoTime() < deadline) {
      ProcessTree.signalGroup(pid, "KILL");
      for (long p : left) {
        ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
      }
      run.descendants.forEach(ProcessHandle::destroyForcibly);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      left = ProcessTree.sessionMembers(pid);
      run.descendants.removeIf(d -> !ProcessTree.alive(d.pid()));
    }
    if (!left.isEmpty()) {
      LOG.warn("processes {} of task {} survived SIGKILL", left, run.key.taskId());
    }
    report(run);
  }

  /** The task's processes are gone: its resources are free, its terminal update goes out. */
  private synchronized void report(Run run) {
    if (run.forceKill != null) {
      run.forceKill.cancel(false);
    }
    int status = run.process.exitValue();
    runs.remove(run.key);
    resources.release(run.info.getResourcesList());
    String taskId = run.info.getTaskId();
    if (run.killed) {
      emit(
          run.framework,
          taskId,
          TaskState.TASK_KILLED,
          Reason.REASON_UNSPECIFIED,
          "Command killed (status " + status + ")",
          null);
    } else if (status == 0) {
      emit(
          run.framework,
          taskId,
          TaskState.TASK_FINISHED,
          Reason.REASON_COMMAND_EXITED,
          "Command exited with status 0",
          0);
    } else if (status > 128 && status <= 128 + 64) {
      emit(
          run.framework,
          taskId,
          TaskState.TASK_FAILED,
          Reason.REASON_UNSPECIFIED,
          "Command terminated by "
              + ProcessTree.signalName(status - 128)
              + " (status "
              + status
              + ")",
          null);
    } else {
      emit(
          run.framework,
          taskId,
          TaskState.TASK_FAILED,
          Reason.REASON_COMMAND_EXITED,
          "Command exited with status " + status,
          status);
    }
  }

  private void emit(
      FrameworkInfo framework,
      String taskId,
      TaskState state,
      Reason reason,
      String message,
      Integer exitCode) {
    TaskStatus.Builder s =
        TaskStatus.newBuilder()
            .setTaskId(taskId)
            .setAgentId(agentId)
            .setFrameworkId(framework.getId())
            .setState(state)
            .setReason(reason)
            .setSource(
                state == TaskState.TASK_ERROR
                        || state == TaskState.TASK_DROPPED
                        || state == TaskState.TASK_LOST
                    ? TaskStatus.Source.SOURCE_AGENT
                    : TaskStatus.Source.SOURCE_EXECUTOR)
            .setMessage(message)
            .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()));
    if (exitCode != null) {
      s.setExitCode(exitCode);
    }
    LOG.info("task {} of framework {}: {} {}", taskId, framework.getId(), state, message);
    listener.update(framework, s.build());
  }

  private static TaskState dropped(FrameworkInfo framework) {
    return framework.getCapabilitiesList().contains(FrameworkInfo.Capability.PARTITION_AWARE)
        ? TaskState.TASK_DROPPED
        : TaskState.TASK_LOST;
  }

  private static Optional<String> invalid(FrameworkInfo framework, TaskInfo info) {
    if (!ID.matcher(framework.getId()).matches() || framework.getId().matches("\\.+")) {
      return Optional.of("Invalid framework ID '" + framework.getId() + "'");
    }
    if (!ID.matcher(info.getTaskId()).matches() || info.getTaskId().matches("\\.+")) {
      return Optional.of(
          "Invalid task ID '"
              + info.getTaskId()
              + "': 1 to 255 of letters, digits and _.:@+- (not only dots)");
    }
    if (!info.hasCommand() || info.getCommand().getValue().isEmpty()) {
      return Optional.of("The task has no command (command.value is empty)");
    }
    Set<String> names = new LinkedHashSet<>();
    for (var r : info.getResourcesList()) {
      if (!names.add(r.getName())) {
        return Optional.of("Resource " + r.getName() + " is listed more than once");
      }
      if (r.hasScalar() && !(r.getScalar() >= 0)) {
        return Optional.of("Resource " + r.getName() + " is negative: " + r.getScalar());
      }
    }
    return Optional.empty();
  }

  /** setsid, then {@code /bin/sh -c value} or value with arguments[1..] (argv[0] is value). */
  static List<String> command(TaskInfo info) {
    List<String> argv = new ArrayList<>();
    argv.add(SETSID.toString());
    var c = info.getCommand();
    if (!c.hasShell() || c.getShell()) {
      argv.add("/bin/sh");
      argv.add("-c");
      argv.add(c.getValue());
    } else {
      argv.add(c.getValue());
      // Java cannot set argv[0] apart from the executable: the executable's name stands for it.
      argv.addAll(c.getArgumentsList().stream().skip(1).collect(Collectors.toList()));
    }
    return argv;
  }
}
