package io.kmesos.agent.bench;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.util.Timestamps;
import io.kmesos.agent.checkpoint.BootId;
import io.kmesos.agent.checkpoint.CheckpointFormat;
import io.kmesos.agent.checkpoint.CheckpointStore;
import io.kmesos.agent.checkpoint.FileKind;
import io.kmesos.agent.checkpoint.MetaLayout;
import io.kmesos.agent.checkpoint.RunProcesses;
import io.kmesos.agent.executors.ExecutorRunner;
import io.kmesos.agent.recovery.AgentRecovery;
import io.kmesos.agent.recovery.TaskCheckpoints;
import io.kmesos.agent.tasks.TaskRunner;
import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.agent.v1.LatestRunRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.agent.v1.TaskRecord;
import io.kmesos.api.agent.v1.TaskUpdateRecord;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * How long a restarted agent takes to read and reconcile its checkpoints: {@code tasks} tasks of
 * one checkpointing framework on one agent, of which half still run (their {@code forked.pid}s name
 * {@code processes} real live processes, shared: this machine cannot hold ten thousand task
 * processes beside the build), a quarter ended while the agent was away (an exit status left, their
 * terminal update to checkpoint and queue) and a quarter ended before with their terminal update
 * unacknowledged (to queue again). Each repeat recovers a fresh copy of the same work directory
 * with {@link AgentRecovery#recover} (read, re-adopt, terminal updates checkpointed, updates
 * queued, /proc scanned for orphans), timed alone: not the JVM's start or the master's session.
 * Beside it, the floor: reading every byte of the same files, in the same run.
 *
 * <p>Prints one line per repeat ({@code tasks=... repeat=... recover_ms=... read_ms=... adopted=...
 * ended=... resent=...}); {@code bench/recovery.sh} turns them into the results file.
 */
public final class RecoveryBenchmark {
  private RecoveryBenchmark() {}

  /** Arguments: {@code tasks processes repeats}, e.g. {@code 10000 100 5}. */
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: RecoveryBenchmark <tasks> <processes> <repeats>");
      System.exit(2);
    }
    int tasks = Integer.parseInt(args[0]);
    int processes = Integer.parseInt(args[1]);
    int repeats = Integer.parseInt(args[2]);
    Path root = Files.createTempDirectory("kmesos-recovery-bench");
    List<Process> live = new ArrayList<>();
    try {
      for (int i = 0; i < processes; i++) {
        live.add(new ProcessBuilder("/usr/bin/setsid", "sleep", "3600").start());
      }
      Path template = root.resolve("template");
      long prepare = System.nanoTime();
      prepare(template, tasks, live);
      System.err.printf(
          "prepared %d tasks in %.1f s%n", tasks, (System.nanoTime() - prepare) / 1e9);
      for (int r = 1; r <= repeats; r++) {
        Path work = root.resolve("run-" + r);
        copy(template, work);
        syncFileSystem(work);
        long read0 = System.nanoTime();
        long bytes = readAll(work.resolve("meta"));
        long readNanos = System.nanoTime() - read0;
        ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);
        try {
          TaskCheckpoints checkpoints =
              new TaskCheckpoints(
                  CheckpointStore.open(work), work, BootId.current(), Duration.ofDays(7), timers);
          StatusUpdateQueues updates =
              new StatusUpdateQueues(
                  RetryTimer.of(timers),
                  Duration.ofSeconds(10),
                  Duration.ofMinutes(10),
                  checkpoints,
                  e -> {
                    throw new IllegalStateException(e);
                  });
          TaskRunner runner =
              new TaskRunner(
                  work,
                  Map.of("cpus", (double) tasks),
                  Duration.ofSeconds(3),
                  timers,
                  (f, s) -> updates.add(f, s),
                  checkpoints);
          // The agent's executor runner; the benchmark's runs are command tasks, none of its.
          ExecutorRunner executors =
              new ExecutorRunner(
                  work,
                  timers,
                  (f, s) -> updates.add(f, s),
                  runner,
                  Duration.ofSeconds(3),
                  Duration.ofMinutes(15),
                  checkpoints,
                  Duration.ofSeconds(10));
          long begin = System.nanoTime();
          AgentRecovery recovery =
              new AgentRecovery(
                  work,
                  AgentRecovery.Mode.RECONNECT,
                  true,
                  "bench-agent",
                  "bench-host",
                  BootId.current(),
                  Duration.ofDays(7),
                  checkpoints,
                  runner,
                  updates,
                  executors);
          AgentRecovery.Outcome o = recovery.recover();
          long nanos = System.nanoTime() - begin;
          StringBuilder phases = new StringBuilder();
          try {
            recovery
                .phases()
                .forEach((k, v) -> phases.append(String.format(" phase_%s_ms=%.1f", k, v)));
          } catch (LinkageError e) {
            // An AgentRecovery without phase timings (a build from before them, for an A/B).
          }
          System.out.printf(
              "tasks=%d repeat=%d recover_ms=%.1f read_ms=%.1f bytes=%d adopted=%d ended=%d"
                  + " resent=%d pending=%d%s%n",
              tasks,
              r,
              nanos / 1e6,
              readNanos / 1e6,
              bytes,
              o.adopted(),
              o.ended(),
              o.resent(),
              updates.pending().size(),
              phases);
          executors.close();
          runner.close();
          checkpoints.close();
        } finally {
          timers.shutdownNow();
        }
        deleteTree(work);
      }
    } finally {
      live.forEach(Process::destroyForcibly);
      deleteTree(root);
    }
  }

  /**
   * Writes the template: the agent and the framework through the store, the 10^4 tasks' files with
   * the bytes the store would write (same format, same layout) but without an fsync each, which
   * made preparing take minutes on a busy disk. Each repeat's copy is synced before it is timed
   * (see {@link #syncFileSystem}), as a restarted agent's checkpoints were long durable.
   */
  private static void prepare(Path work, int tasks, List<Process> live) throws IOException {
    CheckpointStore store = CheckpointStore.open(work);
    MetaLayout layout = store.layout();
    String boot = BootId.current();
    store.writeAgent(AgentRecord.newBuilder().setAgentId("bench-agent").setHostname("h").build());
    store.writeBootId(boot);
    FrameworkInfo framework =
        FrameworkInfo.newBuilder()
            .setId("bench-framework")
            .setName("bench")
            .setCheckpoint(true)
            .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
            .build();
    store.writeFramework(framework);
    String fw = framework.getId();
    for (int i = 0; i < tasks; i++) {
      String id = String.format("task-%05d", i);
      String run = UUID.randomUUID().toString();
      TaskInfo info =
          TaskInfo.newBuilder()
              .setTaskId(id)
              .setName(id)
              .setCommand(CommandInfo.newBuilder().setValue("sleep 3600"))
              .addResources(Resource.newBuilder().setName("cpus").setScalar(0.5))
              .build();
      Files.createDirectories(layout.task(fw, id, run, id));
      write(
          layout.executorInfo(fw, id),
          FileKind.EXECUTOR_INFO,
          ExecutorRecord.newBuilder()
              .setExecutorId(id)
              .setFrameworkId(fw)
              .setCommandTaskId(id)
              .build());
      write(
          layout.latestRun(fw, id),
          FileKind.LATEST_RUN,
          LatestRunRecord.newBuilder().setRunId(run).build());
      write(
          layout.taskInfo(fw, id, run, id),
          FileKind.TASK_INFO,
          TaskRecord.newBuilder().setInfo(info).setFrameworkId(fw).build());
      Process p = live.get(i % live.size());
      Path sandbox = TaskRunner.sandbox(work, fw, id, run);
      RunProcessRecord process = RunProcesses.describe(run, p.toHandle(), sandbox, boot);
      ByteArrayOutputStream updates = new ByteArrayOutputStream();
      updates.write(CheckpointFormat.updatesHeader());
      TaskStatus running = status(id, TaskState.TASK_RUNNING);
      updates.write(record(TaskUpdateRecord.newBuilder().setUpdate(running).build()));
      updates.write(record(TaskUpdateRecord.newBuilder().setAck(running.getUuid()).build()));
      int kind = i % 4;
      if (kind == 2) {
        // Ended while the agent was away: a dead process and the status its shell left.
        process = process.toBuilder().setPid(Integer.MAX_VALUE - i).build();
        Path status = TaskRunner.exitStatusFile(work, run);
        Files.createDirectories(status.getParent());
        Files.writeString(status, "0\n");
      } else if (kind == 3) {
        // Sent, not acknowledged yet.
        updates.write(
            record(
                TaskUpdateRecord.newBuilder()
                    .setUpdate(status(id, TaskState.TASK_FINISHED))
                    .build()));
      }
      write(layout.runProcess(fw, id, run), FileKind.RUN_PROCESS, process);
      Files.write(layout.taskUpdates(fw, id, run, id), updates.toByteArray());
    }
  }

  private static void write(Path file, FileKind kind, Message payload) throws IOException {
    Files.write(file, CheckpointFormat.encodeFile(kind, payload));
  }

  private static byte[] record(TaskUpdateRecord r) {
    return CheckpointFormat.encodeRecord(r);
  }

  /**
   * syncfs(2) of the file system holding {@code dir} ({@code sync -f}), untimed: the fresh copy is
   * on disk before recovery starts, as a restarted agent's checkpoints are, so that whatever
   * recovery syncs is its own writes, not the benchmark's copy.
   */
  private static void syncFileSystem(Path dir) throws IOException, InterruptedException {
    Process sync = new ProcessBuilder("sync", "-f", dir.toString()).inheritIO().start();
    if (!sync.waitFor(10, TimeUnit.MINUTES) || sync.exitValue() != 0) {
      throw new IOException("sync -f " + dir + " failed");
    }
  }

  private static TaskStatus status(String taskId, TaskState state) {
    UUID uuid = UUID.randomUUID();
    ByteBuffer b = ByteBuffer.allocate(16);
    b.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
    return TaskStatus.newBuilder()
        .setTaskId(taskId)
        .setFrameworkId("bench-framework")
        .setAgentId("bench-agent")
        .setState(state)
        .setSource(TaskStatus.Source.SOURCE_EXECUTOR)
        .setUuid(ByteString.copyFrom(b.array()))
        .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()))
        .build();
  }

  private static long readAll(Path dir) throws IOException {
    long bytes = 0;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        if (Files.isRegularFile(p)) {
          bytes += Files.readAllBytes(p).length;
        }
      }
    }
    return bytes;
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
