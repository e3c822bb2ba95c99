package io.kmesos.agent.recovery;

import io.kmesos.agent.checkpoint.CheckpointFormat;
import io.kmesos.agent.checkpoint.CheckpointStore;
import io.kmesos.agent.checkpoint.FileKind;
import io.kmesos.agent.checkpoint.RecoveredRun;
import io.kmesos.agent.checkpoint.RunProcesses;
import io.kmesos.agent.checkpoint.TaskUpdatesLog;
import io.kmesos.agent.executors.ExecutorRunner;
import io.kmesos.agent.gc.GarbageCollector;
import io.kmesos.agent.gc.Sandboxes;
import io.kmesos.agent.gc.Trees;
import io.kmesos.agent.tasks.ProcessTree;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.UpdateJournal;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.v1.ExecutorInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskStatus;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's checkpointing of the tasks of frameworks with {@code checkpoint}: the runner's runs
 * ({@link TaskRunner.RunCheckpoints}) and the update queues' updates and acknowledgements ({@link
 * UpdateJournal}) go to the {@link CheckpointStore}, in the order recovery relies on (framework,
 * executor, run and task before the process starts; the process once it exists; each update before
 * it is queued; each acknowledgement before the next update goes).
 *
 * <p>A command task is its own executor (executor ID = task ID) with one run per launch (run ID =
 * its sandbox's). Once a task's terminal update is acknowledged its run is marked completed and,
 * after the GC delay, the run's checkpoints, sandbox and runtime directory are removed (the
 * executor's and the framework's too once they hold nothing else): as Mesos's {@code --gc_delay},
 * the sandbox stays for people to read in between. A custom executor's run is completed once its
 * last task's terminal update is acknowledged; its sandbox ({@code executors/…}) goes with its
 * checkpoints after the GC delay, or once its executor's process ended if that is later.
 *
 * <p>The collection itself is the {@link GarbageCollector}'s (sooner when the disk runs short); the
 * sandboxes of frameworks without {@code checkpoint} are scheduled through {@link Sandboxes} once
 * their task's terminal update is acknowledged, when the agent gave it one ({@link
 * #collectUncheckpointed}).
 */
public final class TaskCheckpoints
    implements TaskRunner.RunCheckpoints, ExecutorRunner.Checkpoints, UpdateJournal {
  private static final Logger LOG = LoggerFactory.getLogger(TaskCheckpoints.class);

  private final CheckpointStore store;
  private final Path workDir;
  private final String bootId;
  private final Duration gcDelay;
  private final GarbageCollector gc;

  /** Where the sandboxes of frameworks without checkpoint go; null: they are kept. */
  private volatile Sandboxes uncheckpointed;

  private record Key(String frameworkId, String taskId) {}

  /** A checkpointed task whose run is not completed: where its updates go. */
  private static final class Open {
    final String executorId;
    final String runId;

    /** A recovered task's log, opened at its first append: null for one opened at once. */
    private final Path recovered;

    private final Opener opener;

    private TaskUpdatesLog log;

    interface Opener {
      TaskUpdatesLog open() throws IOException;
    }

    Open(String executorId, String runId, TaskUpdatesLog log) {
      this.executorId = executorId;
      this.runId = runId;
      this.recovered = null;
      this.opener = null;
      this.log = log;
    }

    /**
     * A log recovery has read and repaired, left closed until something is appended: most recovered
     * tasks get nothing appended before they end, and opening ten thousand files for writing at the
     * start would only delay re-registration. Only this agent appends to its tasks' logs, so the
     * file's length when it is opened is where appends go, as it was at recovery. Safe for
     * durability: nothing was written that would need syncing.
     */
    static Open recovered(String executorId, String runId, Path file, Opener opener) {
      return new Open(executorId, runId, file, opener);
    }

    private Open(String executorId, String runId, Path recovered, Opener opener) {
      this.executorId = executorId;
      this.runId = runId;
      this.recovered = recovered;
      this.opener = opener;
    }

    String executorId() {
      return executorId;
    }

    String runId() {
      return runId;
    }

    /** Called under the TaskCheckpoints' lock. */
    TaskUpdatesLog log() throws IOException {
      if (log == null) {
        log = opener.open();
      }
      return log;
    }

    void close() throws IOException {
      if (log != null) {
        log.close();
      }
    }

    Path file() {
      return log != null ? log.file() : recovered;
    }
  }

  private final Map<Key, Open> open = new HashMap<>();

  /** The FrameworkInfo last checkpointed of each framework. */
  private final Map<String, FrameworkInfo> written = new HashMap<>();

  /** While recovery runs: logs appended to without a sync each, synced by {@link #endBatch}. */
  private Batch batch;

  public TaskCheckpoints(
      CheckpointStore store,
      Path workDir,
      String bootId,
      Duration gcDelay,
      ScheduledExecutorService timers) {
    this(
        store,
        workDir,
        bootId,
        new GarbageCollector(
            GarbageCollector.Settings.delayOnly(gcDelay),
            Clock.systemUTC(),
            timers,
            GarbageCollector.DiskUsage.of(workDir)));
  }

  public TaskCheckpoints(CheckpointStore store, Path workDir, String bootId, GarbageCollector gc) {
    this.store = store;
    this.workDir = workDir;
    this.bootId = bootId;
    this.gcDelay = gc.settings().delay();
    this.gc = gc;
  }

  public GarbageCollector gc() {
    return gc;
  }

  /** From now on the sandboxes of frameworks without checkpoint are collected through these. */
  public void collectUncheckpointed(Sandboxes sandboxes) {
    this.uncheckpointed = sandboxes;
  }

  public CheckpointStore store() {
    return store;
  }

  @Override
  public synchronized void launching(
      FrameworkInfo framework, TaskInfo task, String runId, Path sandbox) throws IOException {
    String frameworkId = framework.getId();
    String executorId = task.getTaskId();
    // Written again whenever it changed (a re-subscription may change it), or was collected.
    if (!framework.equals(written.get(frameworkId))
        || !Files.exists(store.layout().frameworkInfo(frameworkId))) {
      store.writeFramework(framework);
      written.put(frameworkId, framework);
    }
    store.writeExecutor(
        ExecutorRecord.newBuilder()
            .setExecutorId(executorId)
            .setFrameworkId(frameworkId)
            .setCommandTaskId(task.getTaskId())
            .setName("command executor of task " + task.getTaskId())
            .build());
    store.startRun(frameworkId, executorId, runId);
    store.writeTask(frameworkId, executorId, runId, task);
    TaskUpdatesLog log = store.openUpdates(frameworkId, executorId, runId, task.getTaskId());
    Open previous =
        open.put(new Key(frameworkId, task.getTaskId()), new Open(executorId, runId, log));
    if (previous != null) {
      previous.close();
    }
  }

  @Override
  public void started(FrameworkInfo framework, TaskInfo task, String runId, ProcessHandle process)
      throws IOException {
    // setsid runs in the child after the fork: until it has, the process is still in the
    // agent's session. Wait (briefly) so that the record names the task's own session.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (ProcessTree.pgid(process.pid()).orElse(process.pid()) != process.pid()
        && System.nanoTime() < deadline) {
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    Path sandbox = TaskRunner.sandbox(workDir, framework.getId(), task.getTaskId(), runId);
    synchronized (this) {
      store.writeRunProcess(
          framework.getId(),
          task.getTaskId(),
          RunProcesses.describe(runId, process, sandbox, bootId));
    }
  }

  private void writeFrameworkIfChanged(FrameworkInfo framework) throws IOException {
    if (!framework.equals(written.get(framework.getId()))
        || !Files.exists(store.layout().frameworkInfo(framework.getId()))) {
      store.writeFramework(framework);
      written.put(framework.getId(), framework);
    }
  }

  @Override
  public synchronized void executorLaunching(
      FrameworkInfo framework, ExecutorInfo executor, String runId) throws IOException {
    writeFrameworkIfChanged(framework);
    store.writeExecutor(
        ExecutorRecord.newBuilder()
            .setExecutorId(executor.getExecutorId())
            .setFrameworkId(framework.getId())
            .setName(executor.getName())
            .setExecutorInfo(executor)
            .build());
    store.startRun(framework.getId(), executor.getExecutorId(), runId);
  }

  @Override
  public void executorStarted(
      FrameworkInfo framework,
      String executorId,
      String runId,
      ProcessHandle process,
      Path sandbox,
      String token)
      throws IOException {
    awaitOwnSession(process);
    synchronized (this) {
      store.writeRunProcess(
          framework.getId(),
          executorId,
          RunProcesses.describe(runId, process, sandbox, bootId).toBuilder()
              .setExecutorToken(token)
              .build());
    }
  }

  @Override
  public synchronized void executorTask(
      FrameworkInfo framework, String executorId, String runId, TaskInfo task) throws IOException {
    store.writeTask(framework.getId(), executorId, runId, task);
    TaskUpdatesLog log = store.openUpdates(framework.getId(), executorId, runId, task.getTaskId());
    Open previous =
        open.put(new Key(framework.getId(), task.getTaskId()), new Open(executorId, runId, log));
    if (previous != null) {
      previous.close();
    }
  }

  /** setsid runs in the child after the fork: wait (briefly) until it leads its own session. */
  private static void awaitOwnSession(ProcessHandle process) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (ProcessTree.pgid(process.pid()).orElse(process.pid()) != process.pid()
        && System.nanoTime() < deadline) {
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
  }

  /**
   * A recovered task whose run is not completed: its updates go to its log again. The log is opened
   * at its first append, not now, and without a stat of its own here: {@link
   * CheckpointStore#openRecoveredUpdates} creates it then if the agent died before it did (a
   * durable atomic write, as at launch), so whether it exists need not be asked per task.
   */
  synchronized void reopen(String frameworkId, String executorId, String runId, String taskId) {
    Path file = store.layout().taskUpdates(frameworkId, executorId, runId, taskId);
    Open next =
        Open.recovered(
            executorId,
            runId,
            file,
            () -> store.openRecoveredUpdates(frameworkId, executorId, runId, taskId));
    Open previous = open.put(new Key(frameworkId, taskId), next);
    if (previous != null) {
      try {
        previous.close();
      } catch (IOException e) {
        LOG.debug("closing {}: {}", previous.file(), e.toString());
      }
    }
  }

  /**
   * Recovery starts: updates are appended without waiting for the disk each; each log appended to
   * is synced on one of a few threads meanwhile, and {@link #endBatch} waits for them all. Only for
   * updates nobody is told of before the batch ends.
   */
  synchronized void beginBatch() {
    batch = new Batch();
  }

  /**
   * Makes every update of the batch durable: waits for the fdatasync of every log appended to since
   * {@link #beginBatch}.
   *
   * <p>Why an fdatasync per log and no longer one syncfs(2) of the whole file system: recovery
   * appends to update logs that already exist (their directory entries were made durable when they
   * were created, by an atomic write and an fsync of their directory), so the appended bytes and
   * the log's new length are all that is not yet on disk, and an fdatasync of the log covers
   * exactly that, as the sync of every ordinary append does. Whatever else recovery writes
   * (completed markers, a log it has to create) is written durably on its own. A syncfs covered the
   * same, and everything else dirty on that file system (other Pods', a build's, the node's): its
   * cost was set by everyone's writes, not the agent's. The fdatasyncs run on {@link #SYNC_THREADS}
   * threads while recovery goes on with other runs; the file system's journal commits concurrent
   * ones together, so they cost about one wait for the disk per round, not one each.
   */
  synchronized void endBatch() throws IOException {
    Batch b = batch;
    batch = null;
    if (b != null) {
      b.await();
    }
  }

  /** How many logs are synced at once during recovery. */
  static final int SYNC_THREADS = 16;

  /** The syncs of the logs recovery appended to: started at each append, awaited at the end. */
  private static final class Batch {
    private final List<Future<?>> syncs = new ArrayList<>();
    private ExecutorService pool;

    void sync(TaskUpdatesLog log) {
      if (pool == null) {
        // Idle threads end by themselves: none is left behind should recovery fail before
        // endBatch.
        ThreadPoolExecutor p =
            new ThreadPoolExecutor(
                SYNC_THREADS,
                SYNC_THREADS,
                1,
                TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(),
                r -> {
                  Thread t = new Thread(r, "recovery-sync");
                  t.setDaemon(true);
                  return t;
                });
        p.allowCoreThreadTimeOut(true);
        pool = p;
      }
      syncs.add(
          pool.submit(
              () -> {
                try {
                  log.sync();
                } catch (ClosedChannelException e) {
                  // Closed meanwhile (another run of the same task ID reopened): an fdatasync of
                  // the same file through another descriptor makes the same bytes durable.
                  try (FileChannel ch = FileChannel.open(log.file(), StandardOpenOption.READ)) {
                    ch.force(false);
                  }
                }
                return null;
              }));
    }

    void await() throws IOException {
      if (pool == null) {
        return;
      }
      try {
        IOException failed = null;
        for (Future<?> f : syncs) {
          try {
            f.get();
          } catch (ExecutionException e) {
            IOException io =
                e.getCause() instanceof IOException x ? x : new IOException(e.getCause());
            if (failed == null) {
              failed = io;
            } else {
              failed.addSuppressed(io);
            }
          }
        }
        if (failed != null) {
          throw failed;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while syncing recovered update logs");
      } finally {
        pool.shutdown();
      }
    }
  }

  /** A recovered run whose every task ended and was acknowledged: completed, collected later. */
  synchronized void completeRecovered(String frameworkId, String executorId, RecoveredRun run)
      throws IOException {
    store.markRunCompleted(frameworkId, executorId, run.id(), "recovered: every task acknowledged");
    for (String taskId : run.tasks().keySet()) {
      collectLater(frameworkId, executorId, taskId, run.id(), gcDelay);
    }
  }

  @Override
  public synchronized void updated(FrameworkInfo framework, TaskStatus update) throws IOException {
    Open task = open.get(new Key(framework.getId(), update.getTaskId()));
    if (task != null) {
      if (batch != null) {
        TaskUpdatesLog log = task.log();
        log.update(update, false);
        batch.sync(log);
      } else {
        task.log().update(update);
      }
    }
    // Else an update of no checkpointed run (an invalid task, one that did not fit, a kill of a
    // task the agent does not know): nothing ran that a restarted agent would have to account for.
  }

  @Override
  public synchronized void acknowledged(FrameworkInfo framework, TaskStatus acked, boolean last)
      throws IOException {
    Key key = new Key(framework.getId(), acked.getTaskId());
    Open task = open.get(key);
    if (task == null) {
      Sandboxes sandboxes = uncheckpointed;
      if (last && !framework.getCheckpoint() && sandboxes != null) {
        sandboxes.taskDone(framework.getId(), acked.getTaskId());
      }
      return;
    }
    task.log().acknowledge(acked.getUuid());
    if (last) {
      complete(key, task, "terminal update " + acked.getState() + " acknowledged");
    }
  }

  @Override
  public synchronized void dropped(String frameworkId) throws IOException {
    Sandboxes sandboxes = uncheckpointed;
    if (sandboxes != null && !written.containsKey(frameworkId)) {
      sandboxes.frameworkDone(frameworkId);
    }
    for (Map.Entry<Key, Open> e : List.copyOf(open.entrySet())) {
      if (e.getKey().frameworkId().equals(frameworkId)) {
        complete(e.getKey(), e.getValue(), "framework shut down");
      }
    }
  }

  private void complete(Key key, Open task, String reason) throws IOException {
    task.close();
    open.remove(key);
    if (sharesRun(key.frameworkId(), task)) {
      return; // a custom executor's run with other tasks still open: not completed yet
    }
    store.markRunCompleted(key.frameworkId(), task.executorId(), task.runId(), reason);
    collectLater(key.frameworkId(), task.executorId(), key.taskId(), task.runId(), gcDelay);
  }

  /** Whether another open task is of the same executor run. */
  private boolean sharesRun(String frameworkId, Open task) {
    return open.entrySet().stream()
        .anyMatch(
            e ->
                e.getKey().frameworkId().equals(frameworkId)
                    && e.getValue().executorId().equals(task.executorId())
                    && e.getValue().runId().equals(task.runId()));
  }

  /**
   * Removes a completed run's checkpoints, sandbox and runtime directory after {@code delay} (or
   * sooner, when the disk runs short). The agent stopping drops it: the next one schedules it again
   * from the checkpoints.
   */
  void collectLater(
      String frameworkId, String executorId, String taskId, String runId, Duration delay) {
    gc.schedule(
        "run:" + frameworkId + "/" + executorId + "/" + runId + "/" + taskId,
        delay,
        () -> collect(frameworkId, executorId, taskId, runId));
  }

  /**
   * How often the collection of a custom executor's run is tried again while its executor still
   * runs (it is being shut down: its last task ended).
   */
  static final Duration EXECUTOR_STILL_RUNS_RETRY = GarbageCollector.MIN_RETRY;

  private synchronized GarbageCollector.Outcome collect(
      String frameworkId, String executorId, String taskId, String runId) {
    Path executorSandbox = ExecutorRunner.sandbox(workDir, frameworkId, executorId, runId);
    if (executorStillRuns(frameworkId, executorId, runId)) {
      // Its sandbox is in use (its output, its tasks' directories) and its checkpoints name it:
      // both go once it ended (the collector tries again, every EXECUTOR_STILL_RUNS_RETRY at the
      // least).
      LOG.debug("run {} of executor {} still runs: collected once it ended", runId, executorId);
      return GarbageCollector.Outcome.REFERENCED;
    }
    if (open.values().stream()
        .anyMatch(o -> o.executorId().equals(executorId) && o.runId().equals(runId))) {
      // Not completed any more: never collected while one of its tasks is open.
      return GarbageCollector.Outcome.REFERENCED;
    }
    try {
      if (open.containsKey(new Key(frameworkId, taskId))
          || open.entrySet().stream()
              .anyMatch(
                  e ->
                      e.getKey().frameworkId().equals(frameworkId)
                          && e.getValue().executorId().equals(executorId))) {
        // The task ID was launched again, or a custom executor of that ID runs again.
        store.removeRun(frameworkId, executorId, runId);
      } else {
        store.removeExecutor(frameworkId, executorId);
        if (isEmpty(store.layout().framework(frameworkId).resolve("executors"))
            && open.keySet().stream().noneMatch(k -> k.frameworkId().equals(frameworkId))) {
          store.removeFramework(frameworkId);
        }
      }
      Path sandbox = TaskRunner.sandbox(workDir, frameworkId, taskId, runId);
      Trees.deleteTree(sandbox);
      Trees.deleteTree(TaskRunner.exitStatusFile(workDir, runId).getParent());
      Trees.deleteIfEmpty(sandbox.getParent());
      Trees.deleteIfEmpty(sandbox.getParent().getParent());
      if (Files.exists(executorSandbox, LinkOption.NOFOLLOW_LINKS)) {
        // A custom executor's run (run IDs are unique: no command task's is the same).
        Trees.deleteTree(executorSandbox);
        Trees.deleteIfEmpty(executorSandbox.getParent());
        Trees.deleteIfEmpty(executorSandbox.getParent().getParent());
        LOG.info(
            "garbage-collected run {} of executor {} of framework {} and its sandbox",
            runId,
            executorId,
            frameworkId);
        return GarbageCollector.Outcome.COLLECTED;
      }
      LOG.info("garbage-collected run {} of task {} of framework {}", runId, taskId, frameworkId);
      return GarbageCollector.Outcome.COLLECTED;
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not garbage-collect run {} of task {}: {}", runId, taskId, e.toString());
      return GarbageCollector.Outcome.FAILED;
    }
  }

  /** Whether the run's checkpointed process (a custom executor's) still runs. */
  private boolean executorStillRuns(String frameworkId, String executorId, String runId) {
    Path record = store.layout().runProcess(frameworkId, executorId, runId);
    if (!Files.exists(ExecutorRunner.sandbox(workDir, frameworkId, executorId, runId))
        || !Files.exists(record)) {
      return false;
    }
    try {
      RunProcessRecord process =
          (RunProcessRecord)
              CheckpointFormat.decodeFile(record, Files.readAllBytes(record), FileKind.RUN_PROCESS);
      return RunProcesses.stillRunning(process).filter(h -> ProcessTree.alive(h.pid())).isPresent();
    } catch (IOException | RuntimeException e) {
      return false; // unreadable: nothing to wait for
    }
  }

  private static boolean isEmpty(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return true;
    }
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.findAny().isEmpty();
    }
  }

  /** Closes every open update log (the agent stops). */
  public synchronized void close() {
    for (Open task : open.values()) {
      try {
        task.close();
      } catch (IOException e) {
        LOG.debug("closing {}: {}", task.file(), e.toString());
      }
    }
    open.clear();
  }
}
