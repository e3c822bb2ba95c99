package io.kmesos.agent.executors;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.grpc.stub.StreamObserver;
import io.kmesos.agent.tasks.ProcessTree;
import io.kmesos.agent.tasks.SessionSupervisor;
import io.kmesos.agent.tasks.TaskCgroups;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.StatusUpdates;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.executor.v1.Call;
import io.kmesos.api.executor.v1.Event;
import io.kmesos.api.v1.ExecutorInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.api.v1.TaskStatus.Reason;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the tasks that name a custom executor ({@code TaskInfo.executor}): starts the executor's
 * process when the first task for it arrives, gives it its tasks once it subscribed (executor API,
 * {@code kmesos/executor/v1}, served by {@link ExecutorServer}), forwards kills, takes its status
 * updates into the agent's update path (their uuid kept, so that the framework's acknowledgement
 * comes back to the executor as ACKNOWLEDGED), shuts it down when its last task ended or its
 * framework was shut down, and ends its tasks TASK_FAILED (REASON_EXECUTOR_TERMINATED) when it
 * exits first.
 *
 * <p>Tasks of one framework naming the same executor ID share one executor. The executor holds no
 * resources of its own: each task's resources are taken from the agent's account ({@link
 * TaskRunner#reserve}) while the task lives, as the master counts them.
 *
 * <p>The executor runs as a task's command does: through {@code setsid}, leading its own session
 * and process group, in a sandbox {@code
 * <work-dir>/executors/<framework-id>/<executor-id>/<run-id>} with {@code stdout} and {@code
 * stderr} files; when it ends, whatever it left in its session is SIGKILLed. Its environment:
 * {@link #environment}.
 *
 * <p>With {@code --task-cgroups} ({@link #useCgroups}) the executor of a checkpointing framework
 * gets a cgroup of its own, as a checkpointed command task does ({@link TaskCgroups}): the shell
 * that starts it joins {@code <root>/<run id>} in every hierarchy and then execs the executor, so
 * the executor and every task it starts live outside the agent's container and outlive its Pod. The
 * run's cgroups are removed when the executor's process ended.
 */
public final class ExecutorRunner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorRunner.class);
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.:@+-]{1,255}");
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Environment variables the agent gives an executor. */
  public static final String ENV_ENDPOINT = "KMESOS_AGENT_ENDPOINT";

  public static final String ENV_TOKEN = "KMESOS_EXECUTOR_TOKEN";
  public static final String ENV_FRAMEWORK_ID = "MESOS_FRAMEWORK_ID";
  public static final String ENV_EXECUTOR_ID = "MESOS_EXECUTOR_ID";
  public static final String ENV_AGENT_ID = "MESOS_AGENT_ID";
  public static final String ENV_SANDBOX = "MESOS_SANDBOX";
  public static final String ENV_CHECKPOINT = "MESOS_CHECKPOINT";
  public static final String ENV_RECOVERY_TIMEOUT = "MESOS_RECOVERY_TIMEOUT";

  /**
   * Where the runs of custom executors of frameworks with {@code checkpoint} are checkpointed (the
   * agent's checkpoint store), so that a restarted agent re-adopts them. Each call returns once
   * what it records is durable.
   */
  public interface Checkpoints {
    /** Before the executor's process starts: the framework, the executor and the run. */
    void executorLaunching(FrameworkInfo framework, ExecutorInfo executor, String runId)
        throws IOException;

    /** The executor's process started: which it is, and its token. */
    void executorStarted(
        FrameworkInfo framework,
        String executorId,
        String runId,
        ProcessHandle process,
        Path sandbox,
        String token)
        throws IOException;

    /** A task given to the run, before the executor hears of it; its updates go with the run. */
    void executorTask(FrameworkInfo framework, String executorId, String runId, TaskInfo task)
        throws IOException;

    Checkpoints NONE =
        new Checkpoints() {
          @Override
          public void executorLaunching(
              FrameworkInfo framework, ExecutorInfo executor, String runId) {}

          @Override
          public void executorStarted(
              FrameworkInfo framework,
              String executorId,
              String runId,
              ProcessHandle process,
              Path sandbox,
              String token) {}

          @Override
          public void executorTask(
              FrameworkInfo framework, String executorId, String runId, TaskInfo task) {}
        };
  }

  /** What happened to a run, for the log and the tests. */
  enum Phase {
    LAUNCHING,
    SUBSCRIBED,
    DISCONNECTED,
    SHUTTING_DOWN,
    TERMINATED
  }

  private record Key(String frameworkId, String executorId) {}

  private record TaskKey(String frameworkId, String taskId) {}

  private static final class ExecutorTask {
    final TaskInfo info;
    TaskState state = TaskState.TASK_STARTING;
    boolean launched;

    /** A kill that waits for the executor's (re-)subscription: its grace period. */
    Duration pendingKill;

    ExecutorTask(TaskInfo info) {
      this.info = info;
    }
  }

  /** One run of one executor. */
  final class Run {
    final Key key;
    final FrameworkInfo framework;
    final ExecutorInfo info;
    final String runId;
    final Path sandbox;
    final String token;
    final Map<String, ExecutorTask> tasks = new LinkedHashMap<>();

    /** The uuids of the updates taken from this executor, so a re-sent one is taken once. */
    final Set<ByteString> taken = new HashSet<>();

    /**
     * Of a re-adopted run: the uuids the framework acknowledged while the executor could not hear
     * of it (the agent was away), answered ACKNOWLEDGED when the executor lists them again.
     */
    final Set<ByteString> acknowledgedBefore = new HashSet<>();

    Phase phase = Phase.LAUNCHING;
    Process child;

    /** The executor's process: the child's, or (re-adopted after a restart) found again. */
    ProcessHandle process;

    /** Why its tasks end if it terminates before they do. */
    Reason terminationReason = Reason.REASON_EXECUTOR_TERMINATED;

    StreamObserver<Event> stream;
    ScheduledFuture<?> forceKill;
    boolean agentKilled;

    Run(Key key, FrameworkInfo framework, ExecutorInfo info, String runId, Path sandbox) {
      this(key, framework, info, runId, sandbox, newToken());
    }

    Run(
        Key key,
        FrameworkInfo framework,
        ExecutorInfo info,
        String runId,
        Path sandbox,
        String token) {
      this.key = key;
      this.framework = framework;
      this.info = info;
      this.runId = runId;
      this.sandbox = sandbox;
      this.token = token;
    }

    String frameworkId() {
      return key.frameworkId();
    }

    String executorId() {
      return key.executorId();
    }

    /** Sends an event if the executor is subscribed; a broken stream is the executor's to renew. */
    private void send(Event e) {
      if (stream == null) {
        return;
      }
      try {
        stream.onNext(e);
      } catch (RuntimeException ex) {
        LOG.debug("executor {}: cannot send {}: {}", key, e.getEventCase(), ex.toString());
      }
    }
  }

  private static String newToken() {
    byte[] t = new byte[32];
    RANDOM.nextBytes(t);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(t);
  }

  private final Path workDir;
  private final ScheduledExecutorService timers;
  private final Checkpoints checkpoints;
  private final Duration reregistrationTimeout;

  /** Starts, watches and kills the executors' processes; holds the runs' cgroups. */
  private final SessionSupervisor sessions;

  private final TaskRunner.Listener listener;
  private final TaskRunner resources;
  private final Duration shutdownGracePeriod;
  private final Duration recoveryTimeout;
  private volatile String endpoint = "";

  private final Map<Key, Run> runs = new LinkedHashMap<>();
  private final Map<String, Run> byToken = new LinkedHashMap<>();

  /** Tasks that may still be acknowledged (live, or ended with the update not yet acknowledged). */
  private final Map<TaskKey, Run> owners = new LinkedHashMap<>();

  private boolean closed;

  /**
   * @param listener where task status updates go (the agent's update path)
   * @param resources the account the agent's tasks take their resources from
   * @param shutdownGracePeriod between SHUTDOWN and killing the executor's processes
   * @param recoveryTimeout passed to executors: how long one waits for a restarted agent
   */
  public ExecutorRunner(
      Path workDir,
      ScheduledExecutorService timers,
      TaskRunner.Listener listener,
      TaskRunner resources,
      Duration shutdownGracePeriod,
      Duration recoveryTimeout) {
    this(
        workDir,
        timers,
        listener,
        resources,
        shutdownGracePeriod,
        recoveryTimeout,
        Checkpoints.NONE,
        Duration.ofSeconds(10));
  }

  /**
   * As above, with the runs of checkpointing frameworks checkpointed there, and re-adopted
   * executors given {@code reregistrationTimeout} to re-subscribe.
   */
  public ExecutorRunner(
      Path workDir,
      ScheduledExecutorService timers,
      TaskRunner.Listener listener,
      TaskRunner resources,
      Duration shutdownGracePeriod,
      Duration recoveryTimeout,
      Checkpoints checkpoints,
      Duration reregistrationTimeout) {
    this.checkpoints = checkpoints;
    this.reregistrationTimeout = reregistrationTimeout;
    this.workDir = workDir;
    this.timers = timers;
    this.sessions = new SessionSupervisor(timers);
    this.listener = listener;
    this.resources = resources;
    this.shutdownGracePeriod = shutdownGracePeriod;
    this.recoveryTimeout = recoveryTimeout;
  }

  /**
   * Executors of checkpointing frameworks started from now on get cgroups of their own there
   * ({@code --task-cgroups}); every such run's are removed once its executor ended.
   */
  public void useCgroups(TaskCgroups cgroups) {
    sessions.useCgroups(cgroups);
  }

  /** Where executors reach the agent ({@code unix:<path>}), once the server listens. */
  public void setEndpoint(String endpoint) {
    this.endpoint = endpoint;
  }

  /** A run's sandbox. */
  public static Path sandbox(Path workDir, String frameworkId, String executorId, String runId) {
    return workDir.resolve("executors").resolve(frameworkId).resolve(executorId).resolve(runId);
  }

  /** Whether a live task of this framework is an executor's (so kills go to it). */
  public synchronized boolean owns(String frameworkId, String taskId) {
    Run run = owners.get(new TaskKey(frameworkId, taskId));
    return run != null && run.tasks.containsKey(taskId);
  }

  /** A RunTask whose task names an executor. */
  public synchronized void launch(FrameworkInfo framework, TaskInfo task) {
    String frameworkId = framework.getId();
    ExecutorInfo info = task.getExecutor();
    Optional<String> invalid = invalid(framework, task);
    if (invalid.isPresent()) {
      emit(
          framework,
          task.getTaskId(),
          TaskState.TASK_ERROR,
          Reason.REASON_TASK_INVALID,
          invalid.get(),
          true);
      return;
    }
    if (owns(frameworkId, task.getTaskId())) {
      LOG.warn(
          "ignoring a second RunTask of task {} of framework {}", task.getTaskId(), frameworkId);
      return;
    }
    Key key = new Key(frameworkId, info.getExecutorId());
    Run run = runs.get(key);
    if (run != null && !run.info.equals(info)) {
      emit(
          framework,
          task.getTaskId(),
          TaskState.TASK_ERROR,
          Reason.REASON_TASK_INVALID,
          "Executor " + info.getExecutorId() + " runs already, with another ExecutorInfo",
          true);
      return;
    }
    if (closed || (run != null && run.phase == Phase.SHUTTING_DOWN)) {
      emit(
          framework,
          task.getTaskId(),
          dropped(framework),
          Reason.REASON_UNSPECIFIED,
          closed
              ? "The agent is stopping"
              : "Executor " + info.getExecutorId() + " is shutting down",
          true);
      return;
    }
    Optional<String> notFit = resources.reserve(task.getResourcesList());
    if (notFit.isPresent()) {
      emit(
          framework,
          task.getTaskId(),
          dropped(framework),
          Reason.REASON_UNSPECIFIED,
          "The task does not fit: it " + notFit.get(),
          true);
      return;
    }
    if (run == null) {
      String runId = UUID.randomUUID().toString();
      Run created =
          new Run(
              key,
              framework,
              info,
              runId,
              sandbox(workDir, frameworkId, info.getExecutorId(), runId));
      if (framework.getCheckpoint()) {
        try {
          checkpoints.executorLaunching(framework, info, runId);
        } catch (IOException | RuntimeException e) {
          LOG.error(
              "cannot checkpoint executor {} of framework {}",
              info.getExecutorId(),
              frameworkId,
              e);
          resources.unreserve(task.getResourcesList());
          emit(
              framework,
              task.getTaskId(),
              TaskState.TASK_FAILED,
              Reason.REASON_CONTAINER_LAUNCH_FAILED,
              "The agent cannot checkpoint the executor: " + e.getMessage(),
              true);
          return;
        }
      }
      run = created;
      runs.put(key, run);
      byToken.put(run.token, run);
      LOG.info(
          "executor {} of framework {}: launching (run {}) for task {}",
          info.getExecutorId(),
          frameworkId,
          runId,
          task.getTaskId());
      try {
        timers.execute(() -> start(created));
      } catch (RejectedExecutionException e) {
        start(created);
      }
    }
    if (framework.getCheckpoint()) {
      try {
        checkpoints.executorTask(framework, info.getExecutorId(), run.runId, task);
      } catch (IOException | RuntimeException e) {
        LOG.error("cannot checkpoint task {} of framework {}", task.getTaskId(), frameworkId, e);
        resources.unreserve(task.getResourcesList());
        emit(
            framework,
            task.getTaskId(),
            TaskState.TASK_FAILED,
            Reason.REASON_CONTAINER_LAUNCH_FAILED,
            "The agent cannot checkpoint the task: " + e.getMessage(),
            true);
        if (run.tasks.isEmpty()) {
          shutdown(run, "its only task could not be checkpointed");
        }
        return;
      }
    }
    ExecutorTask t = new ExecutorTask(task);
    run.tasks.put(task.getTaskId(), t);
    owners.put(new TaskKey(frameworkId, task.getTaskId()), run);
    if (run.phase == Phase.SUBSCRIBED) {
      t.launched = true;
      run.send(Event.newBuilder().setLaunch(Event.Launch.newBuilder().setTask(task)).build());
    }
  }

  private static Optional<String> invalid(FrameworkInfo framework, TaskInfo task) {
    ExecutorInfo e = task.getExecutor();
    if (!ID.matcher(framework.getId()).matches() || framework.getId().matches("\\.+")) {
      return Optional.of("Invalid framework ID '" + framework.getId() + "'");
    }
    if (!ID.matcher(task.getTaskId()).matches() || task.getTaskId().matches("\\.+")) {
      return Optional.of(
          "Invalid task ID '"
              + task.getTaskId()
              + "': 1 to 255 of letters, digits and _.:@+- (not only dots)");
    }
    if (!ID.matcher(e.getExecutorId()).matches() || e.getExecutorId().matches("\\.+")) {
      return Optional.of(
          "Invalid executor ID '"
              + e.getExecutorId()
              + "' (executor.executor_id): 1 to 255 of letters, digits and _.:@+- (not only dots)");
    }
    if (!e.hasCommand() || e.getCommand().getValue().isEmpty()) {
      return Optional.of("The executor has no command (executor.command.value is empty)");
    }
    return Optional.empty();
  }

  /** Starts the executor's process, off the lock. */
  private void start(Run run) {
    Process process;
    List<Path> ownCgroups = List.of();
    if (run.framework.getCheckpoint()) {
      try {
        ownCgroups = sessions.makeCgroups(run.runId);
      } catch (IOException e) {
        LOG.error(
            "executor {} of framework {}: cannot make its cgroups: {}",
            run.executorId(),
            run.frameworkId(),
            e.toString());
        synchronized (this) {
          run.terminationReason = Reason.REASON_CONTAINER_LAUNCH_FAILED;
        }
        terminated(
            run,
            "The agent cannot make the executor's cgroup: " + TaskCgroups.reason(e),
            Reason.REASON_CONTAINER_LAUNCH_FAILED);
        return;
      }
    }
    try {
      ProcessBuilder pb =
          SessionSupervisor.processBuilder(
              command(run.info, ownCgroups), run.sandbox, environment(run));
      synchronized (this) {
        if (closed) {
          throw new IOException("the agent is stopping");
        }
        process = pb.start();
        run.child = process;
        run.process = process.toHandle();
      }
      if (run.framework.getCheckpoint()) {
        checkpoints.executorStarted(
            run.framework, run.executorId(), run.runId, process.toHandle(), run.sandbox, run.token);
      }
    } catch (IOException | RuntimeException e) {
      LOG.error(
          "executor {} of framework {}: cannot start: {}",
          run.executorId(),
          run.frameworkId(),
          e.toString());
      Process started;
      synchronized (this) {
        started = run.child;
        run.terminationReason = Reason.REASON_CONTAINER_LAUNCH_FAILED;
      }
      if (started != null) {
        // Its pid could not be checkpointed: a restarted agent could not re-adopt it.
        SessionSupervisor.killSession(started.toHandle(), List.of());
        started.onExit().thenRun(() -> exited(run));
        return;
      }
      terminated(
          run,
          "Cannot start the executor: " + e.getMessage(),
          Reason.REASON_CONTAINER_LAUNCH_FAILED);
      return;
    }
    LOG.info(
        "executor {} of framework {} runs as process {} in {}",
        run.executorId(),
        run.frameworkId(),
        process.pid(),
        run.sandbox);
    process.onExit().thenRun(() -> exited(run));
  }

  /** The executor's environment: what a task gets, and how to reach the agent. */
  Map<String, String> environment(Run run) {
    Map<String, String> env = SessionSupervisor.environment(run.sandbox); // with ENV_SANDBOX
    env.put(ENV_FRAMEWORK_ID, run.frameworkId());
    env.put(ENV_EXECUTOR_ID, run.executorId());
    env.put(ENV_AGENT_ID, resources.agentId());
    env.put(ENV_ENDPOINT, endpoint);
    env.put(ENV_TOKEN, run.token);
    env.put(ENV_CHECKPOINT, run.framework.getCheckpoint() ? "1" : "0");
    env.put(ENV_RECOVERY_TIMEOUT, recoveryTimeout.toMillis() + "ms");
    env.putAll(run.info.getCommand().getEnvironmentMap());
    return env;
  }

  /**
   * The shell that puts an executor into its run's cgroups ({@link TaskCgroups}) before it runs:
   * its first argument says how many cgroup directories follow; it writes its own pid into each
   * one's {@code cgroup.procs}, then execs the executor's command in its place (same pid, so the
   * checkpointed process is the executor). A cgroup it cannot join ends it with status {@value
   * #CGROUP_JOIN_FAILED} before the executor runs.
   */
  static final String JOIN_CGROUPS_SHELL =
      "n=$1; shift; while [ \"$n\" -gt 0 ]; do echo $$ > \"$1/cgroup.procs\" || exit 125; shift;"
          + " n=$((n - 1)); done; exec \"$@\"";

  /** The status of an executor's shell that could not join its cgroups. */
  static final int CGROUP_JOIN_FAILED = 125;

  static List<String> command(ExecutorInfo info) {
    return command(info, List.of());
  }

  /** setsid, then (with {@code cgroups}) the shell joining them, then the executor's command. */
  static List<String> command(ExecutorInfo info, List<Path> cgroups) {
    List<String> wrapper = new ArrayList<>();
    if (!cgroups.isEmpty()) {
      wrapper.addAll(List.of("/bin/sh", "-c", JOIN_CGROUPS_SHELL, "kmesos-executor"));
      wrapper.add(Integer.toString(cgroups.size()));
      cgroups.forEach(c -> wrapper.add(c.toString()));
    }
    return SessionSupervisor.command(wrapper, info.getCommand());
  }

  /** The run an executor's token names, if any (constant-time comparison against each). */
  synchronized Optional<Run> byToken(String token) {
    if (token == null) {
      return Optional.empty();
    }
    byte[] given = token.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Run found = null;
    for (Run run : byToken.values()) {
      if (MessageDigest.isEqual(
          given, run.token.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
        found = run;
      }
    }
    return Optional.ofNullable(found);
  }

  /** The executor subscribed (or re-subscribed) on {@code stream}. */
  synchronized void subscribe(Run run, Call.Subscribe subscribe, StreamObserver<Event> stream) {
    if (run.phase == Phase.TERMINATED) {
      stream.onNext(error("Executor " + run.executorId() + " was terminated"));
      stream.onCompleted();
      return;
    }
    if (run.stream != null && run.stream != stream) {
      try {
        run.stream.onCompleted(); // replaced by the new subscription
      } catch (RuntimeException e) {
        // already broken
      }
    }
    run.stream = stream;
    boolean again = run.phase != Phase.LAUNCHING;
    if (run.phase != Phase.SHUTTING_DOWN) {
      run.phase = Phase.SUBSCRIBED;
    }
    LOG.info(
        "executor {} of framework {}: {}",
        run.executorId(),
        run.frameworkId(),
        again ? "re-subscribed" : "subscribed");
    run.send(
        Event.newBuilder()
            .setSubscribed(
                Event.Subscribed.newBuilder()
                    .setExecutorInfo(run.info)
                    .setFrameworkInfo(run.framework)
                    .setAgentId(resources.agentId()))
            .build());
    for (TaskStatus s : subscribe.getUnacknowledgedUpdatesList()) {
      if (run.acknowledgedBefore.remove(s.getUuid())) {
        run.send(
            Event.newBuilder()
                .setAcknowledged(
                    Event.Acknowledged.newBuilder().setTaskId(s.getTaskId()).setUuid(s.getUuid()))
                .build());
        continue;
      }
      update(run, s);
    }
    if (run.phase == Phase.SHUTTING_DOWN) {
      run.send(shutdownEvent());
      return;
    }
    for (ExecutorTask t : run.tasks.values()) {
      if (!t.launched) {
        t.launched = true;
        run.send(Event.newBuilder().setLaunch(Event.Launch.newBuilder().setTask(t.info)).build());
      }
      if (t.pendingKill != null) {
        sendKill(run, t, t.pendingKill);
        t.pendingKill = null;
      }
    }
  }

  /** The executor's stream ended (it exits, or reconnects). */
  synchronized void disconnected(Run run, StreamObserver<Event> stream) {
    if (run.stream == stream) {
      run.stream = null;
      if (run.phase == Phase.SUBSCRIBED) {
        run.phase = Phase.DISCONNECTED;
        LOG.info("executor {} of framework {}: disconnected", run.executorId(), run.frameworkId());
      }
    }
  }

  /** An UPDATE call: refused (ERROR event) if it is not a proper update of one of its tasks. */
  synchronized void update(Run run, TaskStatus status) {
    Optional<String> bad = badUpdate(run, status);
    if (bad.isPresent()) {
      LOG.warn(
          "executor {} of framework {}: refusing an update: {}",
          run.executorId(),
          run.frameworkId(),
          bad.get());
      run.send(error(bad.get()));
      return;
    }
    if (!run.taken.add(status.getUuid())) {
      return; // taken before (a re-subscription lists it again)
    }
    ExecutorTask task = run.tasks.get(status.getTaskId());
    if (task == null) {
      return; // an update of a task that ended already (the agent ended it): nothing to say
    }
    TaskStatus.Builder b =
        status.toBuilder()
            .setAgentId(resources.agentId())
            .setFrameworkId(run.frameworkId())
            .setSource(TaskStatus.Source.SOURCE_EXECUTOR);
    if (!status.hasTimestamp()) {
      b.setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()));
    }
    task.state = status.getState();
    LOG.info(
        "task {} of framework {} (executor {}): {} {}",
        status.getTaskId(),
        run.frameworkId(),
        run.executorId(),
        status.getState(),
        status.getMessage());
    if (TaskStates.isTerminal(status.getState())) {
      run.tasks.remove(status.getTaskId());
      resources.unreserve(task.info.getResourcesList());
    }
    listener.update(run.framework, b.build());
    if (run.tasks.isEmpty()) {
      shutdown(run, "its last task ended");
    }
  }

  private static Optional<String> badUpdate(Run run, TaskStatus s) {
    if (s.getUuid().size() != 16) {
      return Optional.of(
          "update of task " + s.getTaskId() + ": uuid must be 16 bytes, not " + s.getUuid().size());
    }
    if (s.getState() == TaskState.TASK_STAGING
        || s.getState() == TaskState.TASK_STATE_UNSPECIFIED
        || s.getState() == TaskState.UNRECOGNIZED) {
      return Optional.of(
          "update of task "
              + s.getTaskId()
              + ": state "
              + s.getState()
              + " is not one an executor may send");
    }
    if (!run.tasks.containsKey(s.getTaskId()) && !run.taken.contains(s.getUuid())) {
      return Optional.of(
          "task " + s.getTaskId() + " is not a live task of executor " + run.executorId());
    }
    return Optional.empty();
  }

  /** A KillTask for a task an executor runs. */
  public synchronized void kill(String frameworkId, String taskId, Optional<Duration> gracePeriod) {
    Run run = owners.get(new TaskKey(frameworkId, taskId));
    ExecutorTask task = run == null ? null : run.tasks.get(taskId);
    if (task == null) {
      return;
    }
    Duration grace =
        gracePeriod.orElseGet(
            () ->
                task.info.hasKillGracePeriod()
                    ? Duration.ofNanos(Durations.toNanos(task.info.getKillGracePeriod()))
                    : shutdownGracePeriod);
    if (!task.launched) {
      // The executor never had it: it never runs.
      run.tasks.remove(taskId);
      resources.unreserve(task.info.getResourcesList());
      emit(
          run.framework,
          taskId,
          TaskState.TASK_KILLED,
          Reason.REASON_TASK_KILLED_DURING_LAUNCH,
          "Killed before its executor subscribed",
          false);
      if (run.tasks.isEmpty()) {
        shutdown(run, "its last task ended");
      }
      return;
    }
    if (run.stream == null) {
      task.pendingKill = grace; // sent when it re-subscribes
      return;
    }
    sendKill(run, task, grace);
  }

  private void sendKill(Run run, ExecutorTask task, Duration grace) {
    LOG.info(
        "task {} of framework {}: asking executor {} to kill it (grace {})",
        task.info.getTaskId(),
        run.frameworkId(),
        run.executorId(),
        grace);
    run.send(
        Event.newBuilder()
            .setKill(
                Event.Kill.newBuilder()
                    .setTaskId(task.info.getTaskId())
                    .setGracePeriod(Durations.fromNanos(grace.toNanos())))
            .build());
  }

  /** The framework was shut down: its executors are. */
  public synchronized void shutdownFramework(String frameworkId) {
    for (Run run : List.copyOf(runs.values())) {
      if (run.frameworkId().equals(frameworkId)) {
        run.agentKilled = true;
        shutdown(run, "its framework was shut down");
      }
    }
  }

  /** SHUTDOWN to the executor; its processes are killed after the grace period. */
  private void shutdown(Run run, String why) {
    if (run.phase == Phase.SHUTTING_DOWN || run.phase == Phase.TERMINATED) {
      return;
    }
    boolean subscribed = run.stream != null;
    run.phase = Phase.SHUTTING_DOWN;
    LOG.info(
        "executor {} of framework {}: shutting down ({}), killed after {} if still there",
        run.executorId(),
        run.frameworkId(),
        why,
        subscribed ? shutdownGracePeriod : "0s");
    run.send(shutdownEvent());
    Duration grace = subscribed ? shutdownGracePeriod : Duration.ZERO;
    try {
      run.forceKill = timers.schedule(() -> destroy(run), grace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      destroy(run);
    }
  }

  private Event shutdownEvent() {
    return Event.newBuilder()
        .setShutdown(
            Event.Shutdown.newBuilder()
                .setGracePeriod(Durations.fromNanos(shutdownGracePeriod.toNanos())))
        .build();
  }

  /** Kills the executor's whole session (its process's end reports its tasks). */
  private void destroy(Run run) {
    ProcessHandle process;
    synchronized (this) {
      process = run.process;
    }
    if (process != null && ProcessTree.alive(process.pid())) {
      LOG.info(
          "executor {} of framework {}: killing process group {}",
          run.executorId(),
          run.frameworkId(),
          process.pid());
      SessionSupervisor.killSession(process, List.of());
    }
  }

  /**
   * Takes over an executor a previous agent started that still runs (recovery, {@code
   * --recover=reconnect}): its tasks' resources are taken, and it has the re-registration timeout
   * to re-subscribe (with the token it was given) or it is destroyed and its tasks end with
   * REASON_EXECUTOR_REREGISTRATION_TIMEOUT. Its end is seen by polling /proc.
   *
   * @param tasks its tasks that have not reached a terminal state, with their latest states
   * @param taken the uuids of every update of its tasks the agent recorded
   * @param acknowledged those of them the framework acknowledged
   */
  public synchronized void adopt(
      FrameworkInfo framework,
      ExecutorInfo info,
      String runId,
      Path sandbox,
      String token,
      ProcessHandle process,
      Map<TaskInfo, TaskState> tasks,
      Set<ByteString> taken,
      Set<ByteString> acknowledged) {
    Key key = new Key(framework.getId(), info.getExecutorId());
    Run run = new Run(key, framework, info, runId, sandbox, token);
    run.taken.addAll(taken); // what the executor re-sends of these is not queued twice
    run.acknowledgedBefore.addAll(acknowledged);
    run.process = process;
    run.phase = Phase.DISCONNECTED;
    tasks.forEach(
        (task, state) -> {
          ExecutorTask t = new ExecutorTask(task);
          t.launched = true;
          t.state = state;
          run.tasks.put(task.getTaskId(), t);
          owners.put(new TaskKey(framework.getId(), task.getTaskId()), run);
          resources.reserve(task.getResourcesList());
        });
    runs.put(key, run);
    byToken.put(token, run);
    sessions.watchAdopted(process, () -> exited(run));
    timers.schedule(
        () -> reregistrationTimedOut(run), reregistrationTimeout.toMillis(), TimeUnit.MILLISECONDS);
    LOG.info(
        "executor {} of framework {}: re-adopted its process {} with {} tasks; it has {} to"
            + " re-subscribe",
        info.getExecutorId(),
        framework.getId(),
        process.pid(),
        tasks.size(),
        reregistrationTimeout);
  }

  private void reregistrationTimedOut(Run run) {
    synchronized (this) {
      if (run.phase != Phase.DISCONNECTED || run.stream != null) {
        return; // re-subscribed (or gone) in time
      }
      run.terminationReason = Reason.REASON_EXECUTOR_REREGISTRATION_TIMEOUT;
      run.phase = Phase.SHUTTING_DOWN;
      LOG.warn(
          "executor {} of framework {}: did not re-subscribe within {}: destroying it",
          run.executorId(),
          run.frameworkId(),
          reregistrationTimeout);
    }
    destroy(run);
  }

  /** The executor's process ended: what it left is killed, its live tasks end. */
  private void exited(Run run) {
    SessionSupervisor.clearUp(run.process.pid(), new HashSet<>());
    Reason reason;
    synchronized (this) {
      reason = run.terminationReason;
    }
    String message =
        reason == Reason.REASON_EXECUTOR_REREGISTRATION_TIMEOUT
            ? "Executor "
                + run.executorId()
                + " did not re-subscribe within "
                + reregistrationTimeout
                + " of the agent's restart and was destroyed"
            : run.child != null
                ? "Executor "
                    + run.executorId()
                    + " terminated (status "
                    + run.child.exitValue()
                    + ")"
                : "Executor " + run.executorId() + " terminated";
    terminated(run, message, reason);
  }

  private synchronized void terminated(Run run, String message, Reason reason) {
    if (run.forceKill != null) {
      run.forceKill.cancel(false);
    }
    boolean expected = run.phase == Phase.SHUTTING_DOWN;
    run.phase = Phase.TERMINATED;
    runs.remove(run.key, run);
    byToken.remove(run.token);
    if (run.stream != null) {
      try {
        run.stream.onCompleted();
      } catch (RuntimeException e) {
        // broken already
      }
      run.stream = null;
    }
    LOG.info(
        "executor {} of framework {}: {} ({} tasks left)",
        run.executorId(),
        run.frameworkId(),
        message,
        run.tasks.size());
    for (ExecutorTask t : List.copyOf(run.tasks.values())) {
      resources.unreserve(t.info.getResourcesList());
      boolean killed = run.agentKilled && expected;
      emit(
          run.framework,
          t.info.getTaskId(),
          killed ? TaskState.TASK_KILLED : TaskState.TASK_FAILED,
          killed ? Reason.REASON_FRAMEWORK_REMOVED : reason,
          message,
          false);
    }
    if (run.child == null && run.process != null) {
      // Re-adopted: its session may hold what it left; the agent is not its parent to be told.
      long pid = run.process.pid();
      try {
        timers.execute(
            () -> {
              ProcessTree.signalGroup(pid, "KILL");
              removeCgroups(run);
            });
      } catch (RejectedExecutionException e) {
        // the agent stops: the next agent's sweep removes them once empty
      }
    } else {
      removeCgroups(run);
    }
    run.tasks.clear();
  }

  /**
   * The run's cgroups, once its processes are gone (one still holding a process stays, for the
   * agent's sweep at its next start).
   */
  private void removeCgroups(Run run) {
    if (run.framework.getCheckpoint()) {
      sessions.removeCgroups(run.runId);
    }
  }

  /** The framework acknowledged an update: the executor that sent it hears of it. */
  synchronized void acknowledged(String frameworkId, String taskId, ByteString uuid) {
    TaskKey key = new TaskKey(frameworkId, taskId);
    Run run = owners.get(key);
    if (run == null) {
      return;
    }
    if (!run.tasks.containsKey(taskId)) {
      owners.remove(key); // its terminal update (the last) was acknowledged
    }
    if (run.taken.contains(uuid)) {
      run.send(
          Event.newBuilder()
              .setAcknowledged(Event.Acknowledged.newBuilder().setTaskId(taskId).setUuid(uuid))
              .build());
    }
  }

  /**
   * The agent's update path, with acknowledgements also told to the executor whose update was
   * acknowledged (as Mesos's agent forwards them).
   */
  public StatusUpdates acknowledging(StatusUpdates updates) {
    return new StatusUpdates() {
      @Override
      public TaskStatus add(FrameworkInfo framework, TaskStatus status) {
        return updates.add(framework, status);
      }

      @Override
      public boolean acknowledge(String frameworkId, String taskId, ByteString uuid) {
        boolean head = updates.acknowledge(frameworkId, taskId, uuid);
        if (head) {
          acknowledged(frameworkId, taskId, uuid);
        }
        return head;
      }

      @Override
      public void connected(Consumer<StatusUpdate> sender) {
        updates.connected(sender);
      }

      @Override
      public void disconnected() {
        updates.disconnected();
      }

      @Override
      public void dropFramework(String frameworkId) {
        updates.dropFramework(frameworkId);
      }

      @Override
      public List<Pending> pending() {
        return updates.pending();
      }
    };
  }

  /** The executors' live tasks, for re-registration. */
  public synchronized List<Task> tasks() {
    List<Task> tasks = new ArrayList<>();
    for (Run run : runs.values()) {
      for (ExecutorTask t : run.tasks.values()) {
        tasks.add(
            Task.newBuilder()
                .setInfo(t.info)
                .setFrameworkId(run.frameworkId())
                .setState(t.state)
                .build());
      }
    }
    return tasks;
  }

  public synchronized Map<String, FrameworkInfo> frameworks() {
    Map<String, FrameworkInfo> f = new LinkedHashMap<>();
    runs.values().forEach(r -> f.put(r.frameworkId(), r.framework));
    return f;
  }

  /** Live tasks run by executors. */
  public synchronized int running() {
    return runs.values().stream().mapToInt(r -> r.tasks.size()).sum();
  }

  /** Executors whose process has not ended. */
  public synchronized int executors() {
    return runs.size();
  }

  /** The run of an executor, while its process runs. */
  synchronized Optional<Run> run(String frameworkId, String executorId) {
    return Optional.ofNullable(runs.get(new Key(frameworkId, executorId)));
  }

  /** Whether a run of this executor is starting, running or stopping (its sandbox is in use). */
  public synchronized boolean runs(String frameworkId, String executorId) {
    return runs.containsKey(new Key(frameworkId, executorId));
  }

  /** The process of an executor, while it runs (for tests and the operator). */
  public synchronized Optional<Long> pid(String frameworkId, String executorId) {
    Run run = runs.get(new Key(frameworkId, executorId));
    return run == null || run.process == null ? Optional.empty() : Optional.of(run.process.pid());
  }

  /**
   * The agent stops: every executor is killed at once (executors are not checkpointed: no agent
   * could recover them).
   */
  @Override
  public void close() {
    stop(false);
  }

  /** Kills every executor, checkpointed or not (the agent was declared gone). */
  public void killAllAndClose() {
    stop(true);
  }

  private void stop(boolean killCheckpointed) {
    List<Run> doomed = new ArrayList<>();
    synchronized (this) {
      closed = true;
      sessions.close();
      for (Run run : runs.values()) {
        if (killCheckpointed || !run.framework.getCheckpoint()) {
          run.agentKilled = true;
          doomed.add(run);
        }
      }
      if (doomed.size() < runs.size()) {
        LOG.info(
            "leaving {} executors of checkpointing frameworks running for the agent's recovery",
            runs.size() - doomed.size());
      }
    }
    doomed.forEach(this::destroy);
  }

  private static Event error(String message) {
    return Event.newBuilder().setError(Event.Error.newBuilder().setMessage(message)).build();
  }

  private void emit(
      FrameworkInfo framework,
      String taskId,
      TaskState state,
      Reason reason,
      String message,
      boolean fromAgent) {
    TaskStatus s =
        TaskStatus.newBuilder()
            .setTaskId(taskId)
            .setAgentId(resources.agentId())
            .setFrameworkId(framework.getId())
            .setState(state)
            .setReason(reason)
            .setSource(TaskStatus.Source.SOURCE_AGENT)
            .setMessage(message)
            .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()))
            .build();
    LOG.info("task {} of framework {}: {} {}", taskId, framework.getId(), state, message);
    listener.update(framework, s);
  }

  private static TaskState dropped(FrameworkInfo framework) {
    return framework.getCapabilitiesList().contains(FrameworkInfo.Capability.PARTITION_AWARE)
        ? TaskState.TASK_DROPPED
        : TaskState.TASK_LOST;
  }
}
