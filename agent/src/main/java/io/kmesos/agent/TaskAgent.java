package io.kmesos.agent;

import com.google.protobuf.util.Durations;
import io.kmesos.agent.executors.ExecutorRunner;
import io.kmesos.agent.session.MasterSession;
import io.kmesos.agent.status.AgentStatusReporter;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.StatusUpdates;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.ShutdownFramework;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's parts put together for the master's session: what the master sends goes to the {@link
 * TaskRunner}, what the runner reports goes to the {@link StatusUpdates}.
 */
public final class TaskAgent implements MasterSession.Agent, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskAgent.class);

  private final Supplier<Optional<String>> agentId;
  private final StatusUpdates updates;
  private final TaskRunner runner;
  private final ExecutorRunner executors;

  /** How long an executor waits for a restarted agent, unless the agent says (Mesos's default). */
  public static final Duration DEFAULT_RECOVERY_TIMEOUT = Duration.ofMinutes(15);

  /** How long a re-adopted executor has to re-subscribe, unless the agent says. */
  public static final Duration DEFAULT_EXECUTOR_REREGISTRATION_TIMEOUT = Duration.ofSeconds(10);

  /** What the agent does once it is gone and its tasks are killed: it stops ({@link #onGone}). */
  private volatile Consumer<String> onGone = why -> {};

  /** Frameworks the master shut down: no one acknowledges their updates any more. */
  private final Set<String> shutDown = ConcurrentHashMap.newKeySet();

  public TaskAgent(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      StatusUpdates updates,
      Supplier<Optional<String>> agentId) {
    this(
        workDir,
        total,
        defaultGracePeriod,
        timers,
        updates,
        agentId,
        TaskRunner.RunCheckpoints.NONE);
  }

  /** As above, with the runs of frameworks with {@code checkpoint} checkpointed there. */
  public TaskAgent(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      StatusUpdates updates,
      Supplier<Optional<String>> agentId,
      TaskRunner.RunCheckpoints checkpoints) {
    this(
        workDir,
        total,
        defaultGracePeriod,
        timers,
        updates,
        agentId,
        checkpoints,
        DEFAULT_RECOVERY_TIMEOUT,
        DEFAULT_EXECUTOR_REREGISTRATION_TIMEOUT);
  }

  /**
   * As above; {@code recoveryTimeout} is what custom executors are told to wait for a restarted
   * agent, {@code executorReregistrationTimeout} how long a re-adopted one has to re-subscribe (the
   * runs of custom executors are checkpointed where {@code checkpoints} is also an {@link
   * ExecutorRunner.Checkpoints}).
   */
  public TaskAgent(
      Path workDir,
      Map<String, Double> total,
      Duration defaultGracePeriod,
      ScheduledExecutorService timers,
      StatusUpdates updates,
      Supplier<Optional<String>> agentId,
      TaskRunner.RunCheckpoints checkpoints,
      Duration recoveryTimeout,
      Duration executorReregistrationTimeout) {
    this.agentId = agentId;
    this.runner =
        new TaskRunner(workDir, total, defaultGracePeriod, timers, this::update, checkpoints);
    this.executors =
        new ExecutorRunner(
            workDir,
            timers,
            this::update,
            runner,
            defaultGracePeriod,
            recoveryTimeout,
            checkpoints instanceof ExecutorRunner.Checkpoints c
                ? c
                : ExecutorRunner.Checkpoints.NONE,
            executorReregistrationTimeout);
    this.updates = executors.acknowledging(updates);
  }

  /** The custom executors' runner (its server is started by the agent: ExecutorServer). */
  public ExecutorRunner executors() {
    return executors;
  }

  /**
   * The update path as the session must use it: acknowledgements of a custom executor's updates
   * also reach that executor.
   */
  public StatusUpdates updates() {
    return updates;
  }

  /** The runner, for recovery to re-adopt tasks into before the session starts. */
  public TaskRunner runner() {
    return runner;
  }

  private void update(FrameworkInfo framework, TaskStatus status) {
    if (shutDown.contains(framework.getId())) {
      LOG.debug(
          "not sending {} of task {}: framework {} is shut down",
          status.getState(),
          status.getTaskId(),
          framework.getId());
      return;
    }
    updates.add(framework, status);
  }

  @Override
  public Optional<String> agentId() {
    Optional<String> id = agentId.get();
    id.ifPresent(runner::setAgentId);
    return id;
  }

  @Override
  public List<Resource> resources() {
    List<Resource> resources = new ArrayList<>();
    runner
        .total()
        .forEach((k, v) -> resources.add(Resource.newBuilder().setName(k).setScalar(v).build()));
    return resources;
  }

  @Override
  public List<Task> tasks() {
    List<Task> tasks = new ArrayList<>(runner.tasks());
    tasks.addAll(executors.tasks());
    return tasks;
  }

  @Override
  public Map<String, FrameworkInfo> frameworks() {
    Map<String, FrameworkInfo> running = new LinkedHashMap<>();
    Map<String, FrameworkInfo> known = runner.frameworks();
    for (Task t : runner.tasks()) {
      running.put(t.getFrameworkId(), known.get(t.getFrameworkId()));
    }
    running.putAll(executors.frameworks());
    return running;
  }

  @Override
  public void runTask(RunTask run) {
    if (shutDown.contains(run.getFramework().getId())) {
      LOG.warn("ignoring a task of framework {}, which was shut down", run.getFramework().getId());
      return;
    }
    if (run.getTask().hasExecutor()) {
      executors.launch(run.getFramework(), run.getTask());
    } else {
      runner.launch(run.getFramework(), run.getTask());
    }
  }

  @Override
  public void killTask(KillTask kill) {
    Optional<Duration> grace =
        kill.hasKillGracePeriod()
            ? Optional.of(Duration.ofNanos(Durations.toNanos(kill.getKillGracePeriod())))
            : Optional.empty();
    if (executors.owns(kill.getFrameworkId(), kill.getTaskId())) {
      executors.kill(kill.getFrameworkId(), kill.getTaskId(), grace);
    } else {
      runner.kill(kill.getFrameworkId(), kill.getTaskId(), grace);
    }
  }

  @Override
  public void shutdownFramework(ShutdownFramework shutdown) {
    shutDown.add(shutdown.getFrameworkId());
    updates.dropFramework(shutdown.getFrameworkId());
    runner.shutdownFramework(shutdown.getFrameworkId());
    executors.shutdownFramework(shutdown.getFrameworkId());
  }

  @Override
  public void gone(String message) {
    LOG.error("the master says this agent is gone ({}): killing every task", message);
    runner.killAllAndClose();
    executors.killAllAndClose();
    onGone.accept(message);
  }

  /** Called (once, on the session's thread) after the tasks of a gone agent were killed. */
  public void onGone(Consumer<String> then) {
    this.onGone = then;
  }

  /** What the Agent resource's status shows. */
  public AgentStatusReporter.Report report() {
    Map<String, Double> used = new LinkedHashMap<>();
    Map<String, Double> inUse = runner.used();
    // Every offered resource, 0 when unused: see AgentStatusReporter on why keys never go away.
    runner.total().keySet().forEach(k -> used.put(k, inUse.getOrDefault(k, 0.0)));
    return new AgentStatusReporter.Report(
        runner.running() + executors.running(), used, runner.free());
  }

  /**
   * The agent stops: tasks of frameworks without {@code checkpoint} are killed, checkpointed ones
   * keep running for the next agent's recovery.
   */
  @Override
  public void close() {
    runner.close();
    executors.close();
  }
}
