package io.kmesos.agent.checkpoint;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import com.google.protobuf.Message;
import com.google.protobuf.util.Timestamps;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.BootIdRecord;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.agent.v1.FrameworkRecord;
import io.kmesos.api.agent.v1.LatestRunRecord;
import io.kmesos.api.agent.v1.RunCompletedRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.agent.v1.TaskRecord;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the agent's checkpoints (docs/agent-checkpoints.md). Every method returns once what it
 * wrote is durable: whole files are replaced atomically (temporary file, fsync, rename, fsync of
 * the directory), new directories are synced into their parents, update records are fdatasync'd.
 *
 * <p>The store keeps the tree readable at every instant: a level is written only below an existing
 * one (a framework after the agent, an executor after its framework, a run after its executor, a
 * task in an existing run), so a crash leaves nothing {@link CheckpointReader} would take for
 * damage. Calls out of that order throw {@link IllegalStateException}. Thread-safe: calls for
 * different files may run concurrently; callers serialize rewrites of the same file.
 */
public final class CheckpointStore {
  private final MetaLayout layout;

  private CheckpointStore(MetaLayout layout) {
    this.layout = layout;
  }

  /** The store of {@code <workDir>/meta}, created (durably) if missing. */
  public static CheckpointStore open(Path workDir) throws IOException {
    MetaLayout layout = new MetaLayout(workDir);
    Path root = layout.meta().getParent();
    Files.createDirectories(root);
    AtomicFiles.createDirectories(root, layout.meta());
    return new CheckpointStore(layout);
  }

  public MetaLayout layout() {
    return layout;
  }

  /** Who the agent is (written once its ID is known, before any framework). */
  public void writeAgent(AgentRecord agent) throws IOException {
    MetaLayout.checkId("agent", agent.getAgentId());
    write(layout.agentInfo(), FileKind.AGENT_INFO, agent);
  }

  /**
   * The host's boot ID, once the agent has recovered (or found nothing to recover) on this boot.
   */
  public void writeBootId(String bootId) throws IOException {
    if (bootId == null || bootId.isBlank()) {
      throw new IllegalArgumentException("cannot checkpoint an empty boot ID");
    }
    write(layout.bootId(), FileKind.BOOT_ID, BootIdRecord.newBuilder().setBootId(bootId).build());
  }

  /** A framework the agent runs tasks of (written again when its info changes). */
  public void writeFramework(FrameworkInfo info) throws IOException {
    String frameworkId = MetaLayout.checkId("framework", info.getId());
    require(layout.agentInfo(), "the agent's info");
    Path dir = layout.framework(frameworkId);
    AtomicFiles.createDirectories(layout.meta(), dir);
    write(
        layout.frameworkInfo(frameworkId),
        FileKind.FRAMEWORK_INFO,
        FrameworkRecord.newBuilder().setInfo(info).build());
  }

  /** An executor of a checkpointed framework (for a command task: its ID is the task's). */
  public void writeExecutor(ExecutorRecord executor) throws IOException {
    String frameworkId = MetaLayout.checkId("framework", executor.getFrameworkId());
    String executorId = MetaLayout.checkId("executor", executor.getExecutorId());
    require(layout.frameworkInfo(frameworkId), "framework " + frameworkId);
    AtomicFiles.createDirectories(layout.meta(), layout.executor(frameworkId, executorId));
    write(layout.executorInfo(frameworkId, executorId), FileKind.EXECUTOR_INFO, executor);
  }

  /**
   * A new run of an executor: its directory, then the executor's {@code latest} pointer to it.
   * Called before anything of the run starts.
   */
  public void startRun(String frameworkId, String executorId, String runId) throws IOException {
    require(
        layout.executorInfo(frameworkId, executorId),
        "executor " + executorId + " of framework " + frameworkId);
    AtomicFiles.createDirectories(layout.meta(), layout.run(frameworkId, executorId, runId));
    write(
        layout.latestRun(frameworkId, executorId),
        FileKind.LATEST_RUN,
        LatestRunRecord.newBuilder().setRunId(runId).build());
  }

  /** The process of a run, as soon as it exists (Mesos: forked.pid). */
  public void writeRunProcess(String frameworkId, String executorId, RunProcessRecord process)
      throws IOException {
    String runId = process.getRunId();
    requireRun(frameworkId, executorId, runId);
    write(layout.runProcess(frameworkId, executorId, runId), FileKind.RUN_PROCESS, process);
  }

  /** The run ended and was reported (Mesos: the executor sentinel). */
  public void markRunCompleted(String frameworkId, String executorId, String runId, String reason)
      throws IOException {
    requireRun(frameworkId, executorId, runId);
    write(
        layout.runCompleted(frameworkId, executorId, runId),
        FileKind.RUN_COMPLETED,
        RunCompletedRecord.newBuilder()
            .setCompletedAt(Timestamps.fromMillis(System.currentTimeMillis()))
            .setReason(reason)
            .build());
  }

  /** A task of a run, as launched (before its first update). */
  public void writeTask(String frameworkId, String executorId, String runId, TaskInfo info)
      throws IOException {
    String taskId = MetaLayout.checkId("task", info.getTaskId());
    requireRun(frameworkId, executorId, runId);
    AtomicFiles.createDirectories(
        layout.meta(), layout.task(frameworkId, executorId, runId, taskId));
    write(
        layout.taskInfo(frameworkId, executorId, runId, taskId),
        FileKind.TASK_INFO,
        TaskRecord.newBuilder().setInfo(info).setFrameworkId(frameworkId).build());
  }

  /**
   * The task's update record, open for appending (created if missing; an existing one is checked
   * and a torn last record cut off). The caller closes it when the task is done.
   */
  public TaskUpdatesLog openUpdates(
      String frameworkId, String executorId, String runId, String taskId) throws IOException {
    require(
        layout.taskInfo(frameworkId, executorId, runId, taskId),
        "task " + taskId + " of run " + runId);
    return TaskUpdatesLog.open(layout.taskUpdates(frameworkId, executorId, runId, taskId));
  }

  /** {@link #openUpdates} of a file recovery has just read and repaired: not read again. */
  public TaskUpdatesLog openRecoveredUpdates(
      String frameworkId, String executorId, String runId, String taskId) throws IOException {
    Path file = layout.taskUpdates(frameworkId, executorId, runId, taskId);
    if (!Files.exists(file, NOFOLLOW_LINKS)) {
      return openUpdates(frameworkId, executorId, runId, taskId);
    }
    return TaskUpdatesLog.openRecovered(file);
  }

  /** Removes a run's checkpoints (garbage collection); false if there were none. */
  public boolean removeRun(String frameworkId, String executorId, String runId) throws IOException {
    return delete(layout.run(frameworkId, executorId, runId));
  }

  /** Removes an executor's checkpoints, every run included. */
  public boolean removeExecutor(String frameworkId, String executorId) throws IOException {
    return delete(layout.executor(frameworkId, executorId));
  }

  /** Removes a framework's checkpoints, every executor included. */
  public boolean removeFramework(String frameworkId) throws IOException {
    return delete(layout.framework(frameworkId));
  }

  /**
   * Removes a file or tree inside {@code meta/}, so that no reader sees it half removed (it is
   * renamed to a scratch name first). Whether anything still needs it is the caller's business.
   *
   * @throws IllegalArgumentException for {@code meta/} itself or anything outside it
   * @return false if there was nothing to remove
   */
  public boolean delete(Path path) throws IOException {
    Path meta = layout.meta();
    Path target = path.toAbsolutePath().normalize();
    if (!target.startsWith(meta) || target.equals(meta)) {
      throw new IllegalArgumentException(
          "refusing to delete " + path + ": only what lies inside " + meta + " may be deleted");
    }
    // A symbolic link on the way could lead outside meta/: compare where it really is.
    Path parent = target.getParent();
    if (Files.exists(parent) && !parent.toRealPath().startsWith(meta.toRealPath())) {
      throw new IllegalArgumentException(
          "refusing to delete " + path + ": it resolves to a place outside " + meta);
    }
    if (!Files.exists(target, NOFOLLOW_LINKS)) {
      return false;
    }
    return AtomicFiles.deleteTree(target);
  }

  private void requireRun(String frameworkId, String executorId, String runId) {
    Path run = layout.run(frameworkId, executorId, runId);
    if (!Files.isDirectory(run, NOFOLLOW_LINKS)) {
      throw new IllegalStateException(
          "checkpoint order: run "
              + runId
              + " of executor "
              + executorId
              + " of framework "
              + frameworkId
              + " was not started (startRun)");
    }
  }

  private static void require(Path info, String what) {
    if (!Files.exists(info, NOFOLLOW_LINKS)) {
      throw new IllegalStateException(
          "checkpoint order: " + what + " must be checkpointed first (" + info + " is missing)");
    }
  }

  private static void write(Path file, FileKind kind, Message payload) throws IOException {
    AtomicFiles.write(file, CheckpointFormat.encodeFile(kind, payload));
  }
}
