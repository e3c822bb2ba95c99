package io.kmesos.agent.tasks;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.kmesos.agent.faults.CrashPoints;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
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

  /** IDs become directory names: no separators, no "." or "..", nothing a shell finds special. */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.:@+-]{1,255}");

  /**
   * Receives every state change of every task, in order per task. Called under the runner's lock.
   */
  public interface Listener {
    void update(FrameworkInfo framework, TaskStatus status);
  }

  /**
   * Where the runner checkpoints the runs of frameworks with {@code checkpoint} (the agent's
   * checkpoint store), so that a restarted agent finds them. Each call returns once what it records
   * is durable; an exception stops the launch.
   */
  public interface RunCheckpoints {
    /** Before the task's process starts: the framework, the executor, the run and the task. */
    void launching(FrameworkInfo framework, TaskInfo task, String runId, Path sandbox)
        throws IOException;

    /** The run's process started: which process it is. */
    void started(FrameworkInfo framework, TaskInfo task, String runId, ProcessHandle process)
        throws IOException;

    /** Checkpoints nothing: a runner whose tasks end with the agent. */
    RunCheckpoints NONE =
        new RunCheckpoints() {
          @Override
          public void launching(
              FrameworkInfo framework, TaskInfo task, String runId, Path sandbox) {}

          @Override
          public void started(
              FrameworkInfo framework, TaskInfo task, String runId, ProcessHandle process) {}
        };
  }

  /**
   * The shell a checkpointed task runs under, in place of {@code setsid}'s direct exec: it leads
   * the task's session, runs the command as its child and, when the command ends, writes its exit
   * status to the file named by its first argument (temp file, rename). A restarted agent is no
   * longer the task's parent and cannot learn the status from the kernel; this file tells it. The
   * traps keep the shell alive through the SIGTERM (or SIGINT, SIGHUP, SIGQUIT) sent to the whole
   * group so that it can write the status; a trap with a handler (not an ignored signal) is reset
   * to the default in the command, which therefore sees the signal as usual. SIGKILL ends the shell
   * too: then no status is written, and the agent knows it killed the task.
   */
  static final String EXIT_STATUS_SHELL =
      "f=$1; shift; trap : TERM INT HUP QUIT; \"$@\"; rc=$?;"
          + " printf '%s\\n' \"$rc\" > \"$f.tmp\" && mv -f \"$f.tmp\" \"$f\"; exit $rc";

  /**
   * Put before {@link #EXIT_STATUS_SHELL} when the run has cgroups of its own ({@link
   * TaskCgroups}): its second argument says how many cgroup directories follow; the shell writes
   * its own pid into each one's {@code cgroup.procs} before it runs the command, so that every
   * process of the task starts there. A cgroup it cannot join ends it with status {@value
   * #CGROUP_JOIN_FAILED} before the command runs.
   */
  static final String JOIN_CGROUPS_SHELL =
      "f=$1; n=$2; shift 2; while [ \"$n\" -gt 0 ]; do"
          + " echo $$ > \"$1/cgroup.procs\" || exit 125; shift; n=$((n - 1)); done; set -- \"$f\" \"$@\"; ";

  /** The status of a task's shell that could not join its cgroups. */
  static final int CGROUP_JOIN_FAILED = 125;

  /** The file where {@link #EXIT_STATUS_SHELL} leaves a run's exit status. */
  public static Path exitStatusFile(Path workDir, String runId) {
    return workDir.resolve("runtime").resolve(runId).resolve("exit_status");
  }

  /** A run's sandbox. */
  public static Path sandbox(Path workDir, String frameworkId, String taskId, String runId) {
    return workDir.resolve("sandboxes").resolve(frameworkId).resolve(taskId).resolve(runId);
  }

  private final Path workDir;
  private final Duration defaultGracePeriod;
  private final ScheduledExecutorService timers;
  private final Listener listener;
  private final RunCheckpoints checkpoints;
  private final ResourceAccount resources;

  /** Starts, watches and kills the runs' processes; holds the runs' cgroups. */
  private final SessionSupervisor sessions;

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
    final String runId;
    final Path sandbox;

    /** Where the task's shell leaves its exit status; null unless the run is checkpointed. */
    final Path exitStatusFile;

    /** Null until the process started. */
    ProcessHandle process;

    /** The process as the JVM's child; null for a run adopted after an agent restart. */
    Process child;

    /** Why the run failed although its process started (its pid could not be checkpointed). */
    String failure;

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

    Run(
        Key key,
        FrameworkInfo framework,
        TaskInfo info,
        String runId,
        Path sandbox,
        Path exitStatusFile) {
      this.key = key;
      this.framework = framework;
      this.info = info;
      this.runId = runId;
      this.sandbox = sandbox;
      this.exitStatusFile = exitStatusFile;
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
    this(workDir, total, defaultGracePeriod, timers, listener, RunCheckpoints.NONE, null);
  }

  /**
   * As above, checkpointing the runs of frameworks with {@code checkpoint} in {@code checkpoints}.
   */
  public TaskRunner(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      Listener listener,
      RunCheckpoints checkpoints) {
    this(workDir, total, defaultGracePeriod, timers, listener, checkpoints, null);
  }

  /** As above; {@code starts} (when not null) runs the process starts, for tests to hold them. */
  TaskRunner(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      Listener listener,
      RunCheckpoints checkpoints,
      Executor starts) {
    this.workDir = workDir;
    this.checkpoints = checkpoints;
    this.resources = new ResourceAccount(total);
    this.defaultGracePeriod = defaultGracePeriod;
    this.timers = timers;
    this.sessions = new SessionSupervisor(timers);
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

  /**
   * Checkpointed runs started from now on get cgroups of their own there ({@code --task-cgroups}),
   * and every run's are removed once its processes are gone.
   */
  public void useCgroups(TaskCgroups cgroups) {
    sessions.useCgroups(cgroups);
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
    String runId = UUID.randomUUID().toString();
    Run run =
        new Run(
            key,
            framework,
            info,
            runId,
            sandbox(workDir, frameworkId, info.getTaskId(), runId),
            framework.getCheckpoint() ? exitStatusFile(workDir, runId) : null);
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
    if (run.exitStatusFile != null) {
      try {
        // Checkpointed before it runs: a restarted agent knows of every task that may have run.
        checkpoints.launching(run.framework, info, run.runId, run.sandbox);
        Files.createDirectories(run.exitStatusFile.getParent());
      } catch (IOException | RuntimeException e) {
        LOG.error("cannot checkpoint task {} of framework {}", info.getTaskId(), frameworkId, e);
        endUnstarted(
            run,
            TaskState.TASK_FAILED,
            Reason.REASON_CONTAINER_LAUNCH_FAILED,
            "The agent cannot checkpoint the task: " + e.getMessage());
        return;
      }
      CrashPoints.reach(CrashPoints.TASK_CHECKPOINTED);
    }
    List<Path> ownCgroups = List.of();
    if (run.exitStatusFile != null) {
      try {
        ownCgroups = sessions.makeCgroups(run.runId);
      } catch (IOException e) {
        LOG.error("cannot make the cgroups of task {}", info.getTaskId(), e);
        endUnstarted(
            run,
            TaskState.TASK_FAILED,
            Reason.REASON_CONTAINER_LAUNCH_FAILED,
            "The agent cannot make the task's cgroup: " + TaskCgroups.reason(e));
        return;
      }
    }
    try {
      // Not the agent's own environment (its options, the pod's service links): what Mesos's
      // command executor gives a task, then the task's own variables.
      Map<String, String> env = SessionSupervisor.environment(run.sandbox);
      env.put("MESOS_TASK_ID", info.getTaskId());
      env.put("MESOS_FRAMEWORK_ID", frameworkId);
      env.put("MESOS_AGENT_ID", agentId);
      env.putAll(info.getCommand().getEnvironmentMap());
      process =
          SessionSupervisor.processBuilder(
                  command(info, run.exitStatusFile, ownCgroups), run.sandbox, env)
              .start();
    } catch (IOException | RuntimeException e) {
      if (!ownCgroups.isEmpty()) {
        sessions.removeCgroups(run.runId);
      }
      endUnstarted(
          run,
          TaskState.TASK_FAILED,
          Reason.REASON_CONTAINER_LAUNCH_FAILED,
          "Cannot start the task's command: " + e.getMessage());
      return;
    }
    if (run.exitStatusFile != null) {
      CrashPoints.reach(CrashPoints.PROCESS_STARTED);
      try {
        checkpoints.started(run.framework, info, run.runId, process.toHandle());
      } catch (IOException | RuntimeException e) {
        // A process the agent could not re-adopt after a restart: it must not run.
        LOG.error("cannot checkpoint the process of task {}", info.getTaskId(), e);
        run.failure = "The agent cannot checkpoint the task's process: " + e.getMessage();
      }
    }
    synchronized (this) {
      run.child = process;
      run.process = process.toHandle();
      if (closed || run.failure != null) {
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
   * Takes over a run that a previous agent started and that still runs (recovery, {@code
   * --recover=reconnect}): its resources are taken, kills and shutdowns reach it, and its end is
   * reported as any other's. The agent is not its process's parent: the end is seen by polling
   * /proc, and the exit status is read from the file the task's shell leaves ({@link
   * #EXIT_STATUS_SHELL}).
   *
   * @param state the task's latest state as checkpointed (TASK_KILLING: a kill was under way)
   */
  public synchronized void adopt(
      FrameworkInfo framework,
      TaskInfo info,
      String runId,
      ProcessHandle process,
      TaskState state) {
    String frameworkId = framework.getId();
    frameworks.put(frameworkId, framework);
    Key key = new Key(frameworkId, info.getTaskId());
    Run run =
        new Run(
            key,
            framework,
            info,
            runId,
            sandbox(workDir, frameworkId, info.getTaskId(), runId),
            exitStatusFile(workDir, runId));
    run.process = process;
    run.state = state;
    if (state == TaskState.TASK_KILLING) {
      run.killed = true;
      run.forceKill =
          timers.schedule(
              () -> {
                synchronized (this) {
                  forceKill(run);
                }
              },
              grace(run).toNanos(),
              TimeUnit.NANOSECONDS);
    }
    runs.put(key, run);
    resources.take(info.getResourcesList());
    sessions.watchAdopted(process, () -> exited(run));
    LOG.info(
        "task {} of framework {}: re-adopted its process {} ({})",
        info.getTaskId(),
        frameworkId,
        process.pid(),
        state);
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
    startKill(run, gracePeriod.orElseGet(() -> grace(run)));
  }

  /** The task's own grace period, else the agent's default. */
  private Duration grace(Run run) {
    return run.info.hasKillGracePeriod()
        ? Duration.ofNanos(Durations.toNanos(run.info.getKillGracePeriod()))
        : defaultGracePeriod;
  }

  /** Kills every task of the framework (ShutdownFramework). */
  public synchronized void shutdownFramework(String frameworkId) {
    for (Run run : List.copyOf(runs.values())) {
      if (run.framework.getId().equals(frameworkId)) {
        startKill(run, grace(run));
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

  /** Whether a run of this task is starting, running or being killed (its sandbox is in use). */
  public synchronized boolean runs(String frameworkId, String taskId) {
    return runs.containsKey(new Key(frameworkId, taskId));
  }

  /**
   * Takes resources for a task that is not the runner's (one a custom executor runs: {@code
   * io.kmesos.agent.executors}), from the same account as the runner's own, so the agent never runs
   * more than it offers whoever runs the task.
   *
   * @return why they do not fit (nothing taken), or empty once taken
   */
  public synchronized Optional<String> reserve(List<Resource> asked) {
    Optional<String> why = resources.whyNotFits(asked);
    if (why.isEmpty()) {
      resources.take(asked);
    }
    return why;
  }

  /** Gives back what {@link #reserve} took. */
  public synchronized void unreserve(List<Resource> held) {
    resources.release(held);
  }

  /** The ID the runner puts on its updates (the agent's, once admitted). */
  public String agentId() {
    return agentId;
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
   * The agent stops: the tasks of frameworks without {@code checkpoint} are killed at once
   * (SIGKILL, no grace), since no agent could recover them; checkpointed tasks keep running for the
   * next agent to re-adopt. Starts still queued start nothing.
   */
  @Override
  public void close() {
    stop(false);
  }

  /** Kills every task at once, checkpointed or not, and stops (the agent was declared gone). */
  public void killAllAndClose() {
    stop(true);
  }

  private synchronized void stop(boolean killCheckpointed) {
    closed = true;
    if (ownStarts != null) {
      ownStarts.shutdown();
    }
    sessions.close();
    int left = 0;
    for (Run run : List.copyOf(runs.values())) {
      if (run.process == null) {
        continue;
      }
      if (run.exitStatusFile != null && !killCheckpointed) {
        left++;
      } else {
        run.killed = true;
        forceKill(run);
      }
    }
    if (left > 0) {
      LOG.info("leaving {} checkpointed tasks running for the agent's recovery", left);
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
    run.process.descendants().forEach(run.descendants::add);
    SessionSupervisor.killSession(run.process, run.descendants);
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
    // The leader is gone; its group and session may still hold background children, and the
    // descendants seen at a kill those that left. None may outlive the task.
    List<Long> left = SessionSupervisor.clearUp(run.process.pid(), run.descendants);
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
    if (closed && run.exitStatusFile != null && !run.killed) {
      return; // ended while the agent stops: the next agent's recovery reports it
    }
    runs.remove(run.key);
    resources.release(run.info.getResourcesList());
    if (run.exitStatusFile != null) {
      sessions.removeCgroups(run.runId); // its processes are gone
    }
    String taskId = run.info.getTaskId();
    Optional<Integer> known =
        run.child != null ? Optional.of(run.child.exitValue()) : readExitStatus(run.exitStatusFile);
    if (run.failure != null) {
      emit(
          run.framework,
          taskId,
          TaskState.TASK_FAILED,
          Reason.REASON_CONTAINER_LAUNCH_FAILED,
          run.failure,
          null);
      return;
    }
    if (known.isEmpty()) {
      // Adopted, and its shell was killed before it could write the status (SIGKILL).
      emit(
          run.framework,
          taskId,
          run.killed ? TaskState.TASK_KILLED : TaskState.TASK_FAILED,
          run.killed ? Reason.REASON_UNSPECIFIED : Reason.REASON_EXECUTOR_TERMINATED,
          run.killed
              ? "Command killed"
              : "The task's process ended while the agent was not its parent and left no exit"
                  + " status",
          null);
      return;
    }
    int status = known.get();
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

  /** The status the task's shell left (0..255), if it left one that reads as such. */
  public static Optional<Integer> readExitStatus(Path file) {
    if (file == null) {
      return Optional.empty();
    }
    try {
      String text = Files.readString(file).strip();
      if (text.matches("[0-9]{1,3}") && Integer.parseInt(text) <= 255) {
        return Optional.of(Integer.parseInt(text));
      }
      LOG.warn("ignoring {}: not an exit status ({} bytes)", file, text.length());
    } catch (IOException e) {
      // No status: the shell did not get to write it.
    }
    return Optional.empty();
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

  /**
   * setsid, then {@code /bin/sh -c value} or value with arguments[1..] (argv[0] is value); under
   * the {@link #EXIT_STATUS_SHELL} when {@code exitStatusFile} is not null.
   */
  static List<String> command(TaskInfo info, Path exitStatusFile) {
    return command(info, exitStatusFile, List.of());
  }

  /**
   * As above; the shell first joins {@code cgroups} (the run's own, {@link TaskCgroups}), which
   * needs {@code exitStatusFile}.
   */
  static List<String> command(TaskInfo info, Path exitStatusFile, List<Path> cgroups) {
    List<String> wrapper = new ArrayList<>();
    if (exitStatusFile != null && !cgroups.isEmpty()) {
      wrapper.addAll(
          List.of("/bin/sh", "-c", JOIN_CGROUPS_SHELL + EXIT_STATUS_SHELL, "kmesos-task"));
      wrapper.add(exitStatusFile.toString());
      wrapper.add(Integer.toString(cgroups.size()));
      cgroups.forEach(c -> wrapper.add(c.toString()));
    } else if (exitStatusFile != null) {
      wrapper.addAll(List.of("/bin/sh", "-c", EXIT_STATUS_SHELL, "kmesos-task"));
      wrapper.add(exitStatusFile.toString());
    }
    return SessionSupervisor.command(wrapper, info.getCommand());
  }
}
