package io.kmesos.agent.recovery;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Timestamps;
import io.kmesos.agent.checkpoint.CheckpointCorruptException;
import io.kmesos.agent.checkpoint.CheckpointReader;
import io.kmesos.agent.checkpoint.CheckpointStore;
import io.kmesos.agent.checkpoint.Problem;
import io.kmesos.agent.checkpoint.RecoveredAgent;
import io.kmesos.agent.checkpoint.RecoveredExecutor;
import io.kmesos.agent.checkpoint.RecoveredFramework;
import io.kmesos.agent.checkpoint.RecoveredRun;
import io.kmesos.agent.checkpoint.RecoveredTask;
import io.kmesos.agent.checkpoint.RunProcesses;
import io.kmesos.agent.executors.ExecutorRunner;
import io.kmesos.agent.tasks.ProcessTree;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.KmesosVersion;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.api.v1.TaskStatus.Reason;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a starting agent does with what an earlier agent left on its work directory, before it talks
 * to the master (Mesos's {@code Slave::recover}; the seed {@code agent-recovery.txt}).
 *
 * <p>Guarantees, once {@link #recover} returns:
 *
 * <ul>
 *   <li>Every checkpointed task whose run did not complete is accounted for: re-adopted by the
 *       runner if its process still runs ({@code --recover=reconnect}), or given a terminal update:
 *       TASK_FINISHED/TASK_FAILED with the exit status its shell left; TASK_KILLED if a kill was
 *       under way; TASK_GONE/TASK_LOST (REASON_AGENT_REBOOTED) after a reboot, since no process
 *       survives one; TASK_KILLED (REASON_AGENT_RESTARTED) for what {@code --recover=cleanup}
 *       killed; TASK_DROPPED/TASK_LOST (REASON_AGENT_RESTARTED) for a task whose process never
 *       started. Each such update is checkpointed before it is queued, like any other.
 *   <li>Every unacknowledged update is back in its task's queue, in order, the head first: sent
 *       again as soon as a session is up, and never a different state for the same UUID.
 *   <li>No process of an earlier agent's task runs unless it was re-adopted: the tasks of
 *       frameworks without {@code checkpoint}, runs already completed, and what cleanup or another
 *       agent ID leaves are killed with their whole session.
 *   <li>{@code agent.info} names this agent and {@code boot_id} this boot; completed runs are due
 *       for garbage collection (after what is left of their GC delay).
 * </ul>
 *
 * A damaged checkpoint in strict mode throws {@link CheckpointCorruptException} before anything is
 * changed: the agent stops and says which file and what to do.
 */
public final class AgentRecovery {
  private static final Logger LOG = LoggerFactory.getLogger(AgentRecovery.class);

  /** {@code --recover}. */
  public enum Mode {
    /** Re-adopt the tasks that still run. */
    RECONNECT,
    /** Kill them, report them, start clean (an incompatible upgrade). */
    CLEANUP
  }

  /** What recovery did, for the log and the start-up message. */
  public record Outcome(
      boolean registeredBefore,
      int adopted,
      int ended,
      int killed,
      int resent,
      int orphansKilled,
      List<Problem> problems) {
    @Override
    public String toString() {
      return adopted
          + " tasks re-adopted, "
          + ended
          + " ended while the agent was away, "
          + killed
          + " killed (cleanup), "
          + resent
          + " with updates to deliver, "
          + orphansKilled
          + " orphaned processes killed, "
          + problems.size()
          + " problems";
    }
  }

  private final Path workDir;
  private final Mode mode;
  private final boolean strict;
  private final String agentId;
  private final String hostname;
  private final String bootId;
  private final Duration gcDelay;
  private final TaskCheckpoints checkpoints;
  private final TaskRunner runner;
  private final StatusUpdateQueues updates;
  private final ExecutorRunner executors;

  private int adopted;
  private int ended;
  private int killed;
  private int resent;

  /**
   * @param executors where the runs of custom executors are re-adopted (the agent's, or one that
   *     has no executors yet; never null)
   */
  public AgentRecovery(
      Path workDir,
      Mode mode,
      boolean strict,
      String agentId,
      String hostname,
      String bootId,
      Duration gcDelay,
      TaskCheckpoints checkpoints,
      TaskRunner runner,
      StatusUpdateQueues updates,
      ExecutorRunner executors) {
    this.executors = java.util.Objects.requireNonNull(executors, "executors");
    this.workDir = workDir;
    this.mode = mode;
    this.strict = strict;
    this.agentId = agentId;
    this.hostname = hostname;
    this.bootId = bootId;
    this.gcDelay = gcDelay;
    this.checkpoints = checkpoints;
    this.runner = runner;
    this.updates = updates;
  }

  /** How long each step of the last {@link #recover} took, in ms, in order (the debug log). */
  private final Map<String, Double> phases = new LinkedHashMap<>();

  private long phaseStart;

  private void phase(String name) {
    long now = System.nanoTime();
    phases.put(name, (now - phaseStart) / 1e6);
    phaseStart = now;
  }

  /**
   * How long each step of the last {@link #recover} took, in ms, in order: {@code read} (the
   * checkpoints), {@code orphans_wait} (for the /proc scan, after the reading), {@code orphans}
   * (the scan itself, on its own thread while the checkpoints are read: not part of the sum),
   * {@code reconcile} (runs re-adopted or ended, updates queued), {@code sync} (the terminal
   * updates made durable), {@code kill} (orphans killed), {@code write} (agent.info, boot_id). For
   * the benchmark and the debug log.
   */
  public Map<String, Double> phases() {
    return Collections.unmodifiableMap(new LinkedHashMap<>(phases));
  }

  public Outcome recover() throws IOException {
    long begin = System.nanoTime();
    phases.clear();
    phaseStart = begin;
    // The /proc scan for orphans needs nothing of the checkpoints: it runs while they are read.
    FutureTask<Map<Path, List<Long>>> scan =
        new FutureTask<>(
            () -> {
              long t = System.nanoTime();
              Map<Path, List<Long>> found =
                  Orphans.bySandbox(workDir.resolve("sandboxes"), workDir.resolve("executors"));
              scanNanos = System.nanoTime() - t;
              return found;
            });
    Thread scanner = new Thread(scan, "recovery-orphan-scan");
    scanner.setDaemon(true);
    scanner.start();
    CheckpointReader.Recovery found =
        CheckpointReader.recover(
            workDir, strict ? CheckpointReader.Options.STRICT : CheckpointReader.Options.LENIENT);
    for (Problem p : found.problems()) {
      if (p.isDamage()) {
        LOG.error("recovery: skipped a damaged checkpoint: {}", p);
      } else {
        LOG.info("recovery: {}", p);
      }
    }
    RecoveredAgent agent = found.agent();
    Optional<String> checkpointedId = agent.info().map(AgentRecord::getAgentId);
    boolean foreign = checkpointedId.isPresent() && !checkpointedId.get().equals(agentId);
    if (foreign) {
      LOG.warn(
          "recovery: the checkpoints are of agent {}, this agent is {} (its Agent was deleted and"
              + " created again): nothing of them is recovered, their processes are killed",
          checkpointedId.get(),
          agentId);
    }
    phase("read");
    Map<Path, List<Long>> orphans = orphans(scan);
    phase("orphans_wait");
    phases.put("orphans", scanNanos / 1e6);
    checkpoints.beginBatch();
    Set<Path> kept = new HashSet<>();
    CheckpointStore store = checkpoints.store();
    for (RecoveredFramework framework : agent.frameworks().values()) {
      for (RecoveredExecutor executor : framework.executors().values()) {
        for (RecoveredRun run : executor.runs().values()) {
          if (foreign) {
            continue;
          }
          if (recoverRun(agent, framework, executor, run, orphans)) {
            kept.add(sandbox(framework, executor, run));
          }
        }
      }
    }
    // The terminal updates recovery wrote are durable before anything is sent (the session starts
    // after this returns), and before the processes they report are killed.
    phase("reconcile");
    checkpoints.endBatch();
    phase("sync");
    int orphansKilled = killOrphans(orphans, kept);
    phase("kill");
    if (foreign) {
      for (String frameworkId : agent.frameworks().keySet()) {
        store.removeFramework(frameworkId);
      }
    }
    store.writeAgent(
        AgentRecord.newBuilder()
            .setAgentId(agentId)
            .setHostname(hostname)
            .setVersion(KmesosVersion.version())
            .setRecordedAt(Timestamps.fromMillis(System.currentTimeMillis()))
            .build());
    if (!bootId.isEmpty() && !agent.bootId().equals(Optional.of(bootId))) {
      // Unchanged, it is not written again: an atomic write is two fsyncs.
      store.writeBootId(bootId);
    }
    phase("write");
    LOG.debug("recovery: steps in ms: {}", phases);
    boolean registeredBefore =
        !foreign && (checkpointedId.isPresent() || !agent.frameworks().isEmpty());
    Outcome outcome =
        new Outcome(
            registeredBefore, adopted, ended, killed, resent, orphansKilled, found.problems());
    LOG.info(
        "recovery ({}) done in {} ms: {}",
        mode.name().toLowerCase(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin),
        outcome);
    return outcome;
  }

  /** How long the last orphan scan took (written by its thread, read after it ended). */
  private volatile long scanNanos;

  private static Map<Path, List<Long>> orphans(FutureTask<Map<Path, List<Long>>> scan)
      throws IOException {
    try {
      return scan.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while scanning /proc for orphans");
    } catch (ExecutionException e) {
      // Orphans.bySandbox catches what /proc throws; anything else is a bug.
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(e.getCause());
    }
  }

  /** One run; true if its process still runs, re-adopted. */
  private boolean recoverRun(
      RecoveredAgent agent,
      RecoveredFramework framework,
      RecoveredExecutor executor,
      RecoveredRun run,
      Map<Path, List<Long>> orphans)
      throws IOException {
    FrameworkInfo info = framework.info();
    String frameworkId = framework.id();
    if (run.completed().isPresent()) {
      Instant completedAt =
          Instant.ofEpochMilli(Timestamps.toMillis(run.completed().get().getCompletedAt()));
      Duration left = gcDelay.minus(Duration.between(completedAt, Instant.now()));
      for (String taskId : run.tasks().keySet()) {
        checkpoints.collectLater(frameworkId, executor.id(), taskId, run.id(), left);
      }
      return false;
    }
    Optional<RunProcessRecord> record = run.process();
    boolean rebooted =
        record.isPresent()
            ? !record.get().getBootId().isEmpty() && !record.get().getBootId().equals(bootId)
            : agent.rebootedSince(bootId);
    Optional<ProcessHandle> live = Optional.empty();
    if (!rebooted) {
      live =
          record.isPresent()
              ? stillRunning(record.get())
              : sessionLeader(orphans.get(sandbox(framework, executor, run)));
    }
    if (executor.info().hasExecutorInfo()) {
      return recoverExecutorRun(info, executor, run, record, rebooted, live);
    }
    boolean adoptedHere = false;
    if (!run.tasks().isEmpty()
        && run.tasks().values().stream().allMatch(RecoveredTask::isTerminalAndAcknowledged)) {
      // The agent stopped between the last acknowledgement and marking the run completed.
      checkpoints.completeRecovered(frameworkId, executor.id(), run);
      return false;
    }
    for (RecoveredTask task : run.tasks().values()) {
      if (task.isTerminalAndAcknowledged()) {
        continue;
      }
      checkpoints.reopen(frameworkId, executor.id(), run.id(), task.id());
      List<TaskStatus> unacknowledged = task.unacknowledged();
      updates.recover(info, unacknowledged);
      if (!unacknowledged.isEmpty()) {
        resent++;
      }
      Optional<TaskState> latest = task.latestState();
      if (latest.isPresent() && TaskStates.isTerminal(latest.get())) {
        continue; // ended and reported; only the delivery is left
      }
      if (live.isPresent() && mode == Mode.RECONNECT) {
        if (record.isEmpty()) {
          checkpoints.started(info, task.info(), run.id(), live.get());
        }
        runner.adopt(
            info, task.info(), run.id(), live.get(), latest.orElse(TaskState.TASK_RUNNING));
        adopted++;
        adoptedHere = true;
        if (latest.isEmpty()) {
          // The agent died after the process started and before TASK_RUNNING was checkpointed:
          // the framework has heard nothing of it yet.
          update(
              info,
              task,
              TaskState.TASK_RUNNING,
              Reason.REASON_UNSPECIFIED,
              TaskStatus.Source.SOURCE_EXECUTOR,
              "",
              null);
        }
        continue;
      }
      if (live.isPresent()) {
        killRun(live.get().pid());
        killed++;
        terminal(
            info,
            task,
            TaskState.TASK_KILLED,
            Reason.REASON_AGENT_RESTARTED,
            "Killed by the agent's recovery (--recover=cleanup)",
            null);
        continue;
      }
      ended++;
      boolean partitionAware =
          info.getCapabilitiesList().contains(FrameworkInfo.Capability.PARTITION_AWARE);
      if (rebooted) {
        terminal(
            info,
            task,
            partitionAware ? TaskState.TASK_GONE : TaskState.TASK_LOST,
            Reason.REASON_AGENT_REBOOTED,
            "The host rebooted while the agent was away: the task's process did not survive",
            null);
        continue;
      }
      Optional<Integer> status =
          TaskRunner.readExitStatus(TaskRunner.exitStatusFile(workDir, run.id()));
      if (status.isPresent()) {
        int s = status.get();
        if (latest.orElse(null) == TaskState.TASK_KILLING) {
          terminal(
              info,
              task,
              TaskState.TASK_KILLED,
              Reason.REASON_UNSPECIFIED,
              "Command killed (status " + s + ")",
              null);
        } else if (s == 0) {
          terminal(
              info,
              task,
              TaskState.TASK_FINISHED,
              Reason.REASON_COMMAND_EXITED,
              "Command exited with status 0",
              0);
        } else if (s > 128 && s <= 128 + 64) {
          terminal(
              info,
              task,
              TaskState.TASK_FAILED,
              Reason.REASON_UNSPECIFIED,
              "Command terminated by signal " + (s - 128) + " (status " + s + ")",
              null);
        } else {
          terminal(
              info,
              task,
              TaskState.TASK_FAILED,
              Reason.REASON_COMMAND_EXITED,
              "Command exited with status " + s,
              s);
        }
      } else if (latest.orElse(null) == TaskState.TASK_KILLING) {
        terminal(
            info, task, TaskState.TASK_KILLED, Reason.REASON_UNSPECIFIED, "Command killed", null);
      } else if (record.isEmpty() && latest.isEmpty()) {
        terminal(
            info,
            task,
            partitionAware ? TaskState.TASK_DROPPED : TaskState.TASK_LOST,
            Reason.REASON_AGENT_RESTARTED,
            "The agent stopped while it launched the task; the task did not start",
            null);
      } else {
        terminal(
            info,
            task,
            TaskState.TASK_FAILED,
            Reason.REASON_EXECUTOR_TERMINATED,
            "The task's process ended while the agent was away and left no exit status",
            null);
      }
    }
    return adoptedHere;
  }

  /**
   * A run of a custom executor: its tasks' unacknowledged updates are queued again; if its process
   * still runs ({@code --recover=reconnect}) it is re-adopted with its tasks and has the
   * re-registration timeout to re-subscribe; else its tasks end: TASK_FAILED with
   * REASON_EXECUTOR_TERMINATED (it ended while the agent was away), TASK_GONE/TASK_LOST after a
   * reboot, TASK_KILLED for what cleanup killed.
   */
  private boolean recoverExecutorRun(
      FrameworkInfo info,
      RecoveredExecutor executor,
      RecoveredRun run,
      Optional<RunProcessRecord> record,
      boolean rebooted,
      Optional<ProcessHandle> live)
      throws IOException {
    String frameworkId = info.getId();
    if (!run.tasks().isEmpty()
        && run.tasks().values().stream().allMatch(RecoveredTask::isTerminalAndAcknowledged)) {
      if (live.isPresent()) {
        killRun(live.get().pid()); // its tasks are done with: nothing may run on
      }
      checkpoints.completeRecovered(frameworkId, executor.id(), run);
      return false;
    }
    Map<TaskInfo, TaskState> running = new LinkedHashMap<>();
    Set<ByteString> taken = new HashSet<>();
    Set<ByteString> acknowledged = new HashSet<>();
    List<RecoveredTask> open = new ArrayList<>();
    for (RecoveredTask task : run.tasks().values()) {
      if (task.isTerminalAndAcknowledged()) {
        continue;
      }
      checkpoints.reopen(frameworkId, executor.id(), run.id(), task.id());
      List<TaskStatus> unacknowledged = task.unacknowledged();
      updates.recover(info, unacknowledged);
      if (!unacknowledged.isEmpty()) {
        resent++;
      }
      task.updates().forEach(u -> taken.add(u.getUuid()));
      acknowledged.addAll(task.acknowledged());
      Optional<TaskState> latest = task.latestState();
      if (latest.isPresent() && TaskStates.isTerminal(latest.get())) {
        continue;
      }
      open.add(task);
      running.put(task.info(), latest.orElse(TaskState.TASK_STARTING));
    }
    boolean reconnect = live.isPresent() && mode == Mode.RECONNECT;
    if (reconnect && record.isPresent() && !record.get().getExecutorToken().isEmpty()) {
      executors.adopt(
          info,
          executor.info().getExecutorInfo(),
          run.id(),
          Path.of(record.get().getSandbox()),
          record.get().getExecutorToken(),
          live.get(),
          running,
          taken,
          acknowledged);
      adopted += running.size();
      return true;
    }
    if (live.isPresent()) {
      killRun(live.get().pid());
    }
    boolean partitionAware =
        info.getCapabilitiesList().contains(FrameworkInfo.Capability.PARTITION_AWARE);
    for (RecoveredTask task : open) {
      if (live.isPresent()) {
        killed++;
        terminal(
            info,
            task,
            TaskState.TASK_KILLED,
            Reason.REASON_AGENT_RESTARTED,
            "Killed with its executor by the agent's recovery (--recover=cleanup)",
            null);
      } else if (rebooted) {
        ended++;
        terminal(
            info,
            task,
            partitionAware ? TaskState.TASK_GONE : TaskState.TASK_LOST,
            Reason.REASON_AGENT_REBOOTED,
            "The host rebooted while the agent was away: the task's executor did not survive",
            null);
      } else {
        ended++;
        terminal(
            info,
            task,
            TaskState.TASK_FAILED,
            Reason.REASON_EXECUTOR_TERMINATED,
            "The task's executor ended while the agent was away",
            null);
      }
    }
    return false;
  }

  /** A checkpointed process: its pid and start time (none recorded: the pid alone). */
  private record ProcessKey(long pid, Timestamp startedAt) {}

  /**
   * Whether each process recovery asked of is still the one its run started, for this recovery
   * only: runs that share a process (a custom executor's tasks; the benchmark's 5,000 runs on 100
   * processes) read /proc once for it, not once each.
   */
  private final Map<ProcessKey, Optional<ProcessHandle>> liveProcesses = new HashMap<>();

  /** The record's process if it is still that one and no zombie (asked of /proc once per pass). */
  private Optional<ProcessHandle> stillRunning(RunProcessRecord record) {
    return liveProcesses.computeIfAbsent(
        new ProcessKey(
            record.getPid(), record.hasProcessStartedAt() ? record.getProcessStartedAt() : null),
        k -> RunProcesses.stillRunning(record).filter(h -> ProcessTree.alive(h.pid())));
  }

  /** Kills a run's process; whoever asks of it after is told it ended, as /proc would say. */
  private void killRun(long pid) {
    killSession(pid);
    liveProcesses.keySet().removeIf(k -> k.pid() == pid);
  }

  /** The run's sandbox: a command task's under sandboxes/, a custom executor's under executors/. */
  private Path sandbox(RecoveredFramework framework, RecoveredExecutor executor, RecoveredRun run) {
    String taskId = run.tasks().isEmpty() ? "" : run.tasks().keySet().iterator().next();
    return run.process()
        .map(p -> Path.of(p.getSandbox()))
        .orElse(
            executor.info().hasExecutorInfo()
                ? ExecutorRunner.sandbox(workDir, framework.id(), executor.id(), run.id())
                : TaskRunner.sandbox(workDir, framework.id(), taskId, run.id()))
        .toAbsolutePath()
        .normalize();
  }

  /** The process among {@code pids} that leads its own session: the task's shell. */
  private static Optional<ProcessHandle> sessionLeader(List<Long> pids) {
    if (pids == null) {
      return Optional.empty();
    }
    for (long pid : pids) {
      if (ProcessTree.pgid(pid).orElse(-1) == pid && ProcessTree.alive(pid)) {
        return ProcessHandle.of(pid);
      }
    }
    return Optional.empty();
  }

  private void terminal(
      FrameworkInfo framework,
      RecoveredTask task,
      TaskState state,
      Reason reason,
      String message,
      Integer exitCode) {
    update(framework, task, state, reason, TaskStatus.Source.SOURCE_AGENT, message, exitCode);
  }

  private void update(
      FrameworkInfo framework,
      RecoveredTask task,
      TaskState state,
      Reason reason,
      TaskStatus.Source source,
      String message,
      Integer exitCode) {
    TaskStatus.Builder s =
        TaskStatus.newBuilder()
            .setTaskId(task.id())
            .setAgentId(agentId)
            .setFrameworkId(framework.getId())
            .setState(state)
            .setReason(reason)
            .setSource(source)
            .setMessage(message)
            .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()));
    if (exitCode != null) {
      s.setExitCode(exitCode);
    }
    LOG.debug(
        "recovery: task {} of framework {}: {} {}", task.id(), framework.getId(), state, message);
    updates.add(framework, s.build());
  }

  /** Kills every process found in a sandbox that no re-adopted run owns, with its session. */
  private static int killOrphans(Map<Path, List<Long>> orphans, Set<Path> kept) {
    int n = 0;
    for (Map.Entry<Path, List<Long>> e : orphans.entrySet()) {
      if (kept.contains(e.getKey())) {
        continue;
      }
      for (long pid : e.getValue()) {
        if (ProcessTree.alive(pid)) {
          LOG.info(
              "recovery: killing process {} of {}, which no recovered task owns", pid, e.getKey());
          killSession(pid);
          n++;
        }
      }
    }
    return n;
  }

  /** SIGKILL to the process's group and session, until none is left (bounded). */
  private static void killSession(long pid) {
    long group = ProcessTree.pgid(pid).orElse(pid);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Long> members = new ArrayList<>(List.of(pid));
    while (!members.isEmpty() && System.nanoTime() < deadline) {
      ProcessTree.signalGroup(group, "KILL");
      for (long p : members) {
        ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return;
      }
      members = new ArrayList<>(ProcessTree.sessionMembers(group));
      if (ProcessTree.alive(pid)) {
        members.add(pid);
      }
    }
  }
}
