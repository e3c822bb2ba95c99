package io.kmesos.agent.checkpoint;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.kmesos.agent.checkpoint.CheckpointFormat.UpdatesScan;
import io.kmesos.agent.checkpoint.Problem.Kind;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.BootIdRecord;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.agent.v1.FrameworkRecord;
import io.kmesos.api.agent.v1.LatestRunRecord;
import io.kmesos.api.agent.v1.RunCompletedRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.agent.v1.TaskRecord;
import io.kmesos.api.agent.v1.TaskUpdateRecord;
import io.kmesos.api.v1.TaskStatus;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the checkpoint tree back (Mesos: src/slave/state.cpp): {@link #recover} returns what is
 * intact as an immutable {@link RecoveredAgent}, and the {@link Problem}s it met.
 *
 * <p>Strict mode: the first damaged or unreadable file ends recovery with a {@link
 * CheckpointCorruptException} that names it and tells the operator how to go on. Non-strict: the
 * subtree the file describes is left out (a framework.info its framework, an executor.info its
 * executor, a task.info or damaged task.updates its task), or, for a file that describes no subtree
 * (agent.info, boot_id, latest, forked.pid, completed), that one fact is unknown; either way a
 * {@link Problem.Kind#CORRUPT} problem says what and why.
 *
 * <p>What is not damage, in either mode: a torn last record of an updates file (cut off), the
 * store's scratch left by a crash (removed), a directory whose info file was never written
 * (skipped), entries that are no checkpoint (ignored). With {@code repair}, recovery fixes what it
 * can so that the store can append again: cuts torn tails, removes scratch and empty incomplete
 * directories; it never removes a damaged file.
 */
public final class CheckpointReader {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointReader.class);

  /**
   * @param strict stop at the first damaged file (the agent's {@code --strict}, true by default)
   * @param repair cut torn tails and remove scratch (false: read only, e.g. for inspection)
   */
  public record Options(boolean strict, boolean repair) {
    /** The default: stop at damage, repair what is routine. */
    public static final Options STRICT = new Options(true, true);

    /** Skip what is damaged, recover the rest ({@code --strict=false}). */
    public static final Options LENIENT = new Options(false, true);
  }

  /** What recovery found. */
  public record Recovery(RecoveredAgent agent, List<Problem> problems) {
    public Recovery {
      problems = List.copyOf(problems);
    }

    public List<Problem> problems(Kind kind) {
      return problems.stream().filter(p -> p.kind() == kind).toList();
    }
  }

  private final MetaLayout layout;
  private final Options options;
  private final List<Problem> problems = new ArrayList<>();

  private CheckpointReader(MetaLayout layout, Options options) {
    this.layout = layout;
    this.options = options;
  }

  /**
   * Reads {@code <workDir>/meta}. A work directory without it recovers as {@link
   * RecoveredAgent#empty()}.
   *
   * @throws CheckpointCorruptException in strict mode, at the first damaged or unreadable file
   * @throws IOException if a directory cannot be listed, or a repair fails
   */
  public static Recovery recover(Path workDir, Options options) throws IOException {
    CheckpointReader reader = new CheckpointReader(new MetaLayout(workDir), options);
    RecoveredAgent agent = reader.agent();
    for (Problem p : reader.problems) {
      if (p.isDamage()) {
        LOG.error("checkpoint recovery: {}", p);
      } else {
        LOG.warn("checkpoint recovery: {}", p);
      }
    }
    return new Recovery(agent, reader.problems);
  }

  /** What the strict-mode exception tells the operator. */
  static String advice(Path meta) {
    return "The agent stops rather than guess what its tasks are (--strict, the default). To"
        + " recover everything intact and skip what is damaged, restart it with --strict=false"
        + " (add --recover=cleanup to kill whatever it still finds instead of re-adopting it); to"
        + " start afresh, stop it, make sure no process of its tasks still runs (or reboot the"
        + " node), remove "
        + meta
        + " and start it again: its tasks are then not recovered";
  }

  private RecoveredAgent agent() throws IOException {
    Path meta = layout.meta();
    if (!Files.isDirectory(meta, NOFOLLOW_LINKS)) {
      return RecoveredAgent.empty();
    }
    Optional<AgentRecord> info = Optional.empty();
    Optional<String> bootId = Optional.empty();
    Map<String, RecoveredFramework> frameworks = new LinkedHashMap<>();
    for (Path entry : entries(meta)) {
      String name = entry.getFileName().toString();
      if (name.equals(FileKind.AGENT_INFO.fileName())) {
        info = leaf(entry, FileKind.AGENT_INFO, AgentRecord.class);
      } else if (name.equals(FileKind.BOOT_ID.fileName())) {
        bootId = leaf(entry, FileKind.BOOT_ID, BootIdRecord.class).map(BootIdRecord::getBootId);
      } else if (name.equals(MetaLayout.FRAMEWORKS) && isDir(entry)) {
        for (Path dir : entries(entry)) {
          String id = dir.getFileName().toString();
          if (!isDir(dir) || !MetaLayout.isValidId(id)) {
            unexpected(dir);
            continue;
          }
          RecoveredFramework f = framework(id, dir);
          if (f != null) {
            frameworks.put(id, f);
          }
        }
      } else {
        unexpected(entry);
      }
    }
    if (info.isEmpty()
        && !Files.exists(layout.agentInfo(), NOFOLLOW_LINKS)
        && !frameworks.isEmpty()) {
      // Never written that way (the store writes the agent before any framework): lost since.
      damaged(
          new CheckpointCorruptException(
              layout.agentInfo(),
              "is missing, yet " + frameworks.size() + " framework(s) are checkpointed"),
          null);
    }
    return new RecoveredAgent(info, bootId, frameworks);
  }

  private RecoveredFramework framework(String id, Path dir) throws IOException {
    List<Path> entries = entries(dir);
    Optional<FrameworkRecord> record =
        info(dir, entries, FileKind.FRAMEWORK_INFO, FrameworkRecord.class);
    if (record.isEmpty()) {
      return null;
    }
    Path infoFile = dir.resolve(FileKind.FRAMEWORK_INFO.fileName());
    if (!record.get().getInfo().getId().equals(id)) {
      return mismatch(infoFile, "framework " + record.get().getInfo().getId(), dir);
    }
    Map<String, RecoveredExecutor> executors = new LinkedHashMap<>();
    for (Path entry : entries) {
      String name = entry.getFileName().toString();
      if (name.equals(FileKind.FRAMEWORK_INFO.fileName())) {
        continue;
      }
      if (!name.equals(MetaLayout.EXECUTORS) || !isDir(entry)) {
        unexpected(entry);
        continue;
      }
      for (RecoveredExecutor executor : executors(id, entries(entry))) {
        executors.put(executor.id(), executor);
      }
    }
    return new RecoveredFramework(id, record.get().getInfo(), executors);
  }

  /** From how many executors of a framework their directories are read on several threads. */
  static final int PARALLEL_FROM = 64;

  /**
   * Threads that read executor directories: each directory is independent of the others, and
   * reading one is a dozen small system calls and a few decodings, so a few threads keep the cores
   * and the disk busy where one waits for each call in turn.
   */
  static final int THREADS = Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors()));

  /**
   * The executors in {@code dirs} (a framework's {@code executors/} entries), in their order. Many
   * are read on {@link #THREADS} threads, in contiguous slices each with its own problems, which
   * are then added in the same order as one thread would have: the result, the problems and, in
   * strict mode, which damaged file is reported are the same either way (only routine repairs of
   * slices after a damaged one may have been made as well).
   */
  private List<RecoveredExecutor> executors(String frameworkId, List<Path> dirs)
      throws IOException {
    if (dirs.size() < PARALLEL_FROM) {
      List<RecoveredExecutor> found = new ArrayList<>();
      for (Path dir : dirs) {
        executorDir(frameworkId, dir, found);
      }
      return found;
    }
    int slices = THREADS * 8;
    int size = (dirs.size() + slices - 1) / slices;
    ExecutorService pool =
        Executors.newFixedThreadPool(
            THREADS,
            r -> {
              Thread t = new Thread(r, "checkpoint-reader");
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<Slice>> futures = new ArrayList<>();
      for (int from = 0; from < dirs.size(); from += size) {
        List<Path> slice = dirs.subList(from, Math.min(dirs.size(), from + size));
        futures.add(
            pool.submit(
                () -> {
                  CheckpointReader reader = new CheckpointReader(layout, options);
                  List<RecoveredExecutor> found = new ArrayList<>();
                  for (Path dir : slice) {
                    reader.executorDir(frameworkId, dir, found);
                  }
                  return new Slice(found, reader.problems);
                }));
      }
      List<RecoveredExecutor> found = new ArrayList<>();
      for (Future<Slice> f : futures) {
        Slice slice = result(f);
        problems.addAll(slice.problems());
        found.addAll(slice.executors());
      }
      return found;
    } finally {
      pool.shutdownNow();
      try {
        if (!pool.awaitTermination(1, TimeUnit.MINUTES)) {
          LOG.warn("checkpoint recovery: reader threads still busy after a minute");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private record Slice(List<RecoveredExecutor> executors, List<Problem> problems) {}

  private static Slice result(Future<Slice> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while reading checkpoints");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IOException(cause);
    }
  }

  /** One entry of {@code executors/}: its executor is added to {@code found} if intact. */
  private void executorDir(String frameworkId, Path dir, List<RecoveredExecutor> found)
      throws IOException {
    String eid = dir.getFileName().toString();
    if (!isDir(dir) || !MetaLayout.isValidId(eid)) {
      unexpected(dir);
      return;
    }
    RecoveredExecutor executor = executor(frameworkId, eid, dir);
    if (executor != null) {
      found.add(executor);
    }
  }

  private RecoveredExecutor executor(String frameworkId, String id, Path dir) throws IOException {
    List<Path> entries = entries(dir);
    Optional<ExecutorRecord> record =
        info(dir, entries, FileKind.EXECUTOR_INFO, ExecutorRecord.class);
    if (record.isEmpty()) {
      return null;
    }
    Path infoFile = dir.resolve(FileKind.EXECUTOR_INFO.fileName());
    if (!record.get().getExecutorId().equals(id)) {
      return mismatch(infoFile, "executor " + record.get().getExecutorId(), dir);
    }
    if (!record.get().getFrameworkId().equals(frameworkId)) {
      return mismatch(infoFile, "framework " + record.get().getFrameworkId(), dir);
    }
    Optional<String> latest = Optional.empty();
    boolean latestDamaged = false;
    Map<String, RecoveredRun> runs = new LinkedHashMap<>();
    for (Path entry : entries) {
      String name = entry.getFileName().toString();
      if (name.equals(FileKind.EXECUTOR_INFO.fileName())) {
        continue;
      }
      if (name.equals(FileKind.LATEST_RUN.fileName())) {
        int before = problems.size();
        latest = leaf(entry, FileKind.LATEST_RUN, LatestRunRecord.class).map(r -> r.getRunId());
        latestDamaged = problems.size() > before;
      } else if (name.equals(MetaLayout.RUNS) && isDir(entry)) {
        for (Path r : entries(entry)) {
          String rid = r.getFileName().toString();
          if (!isDir(r) || !MetaLayout.isValidId(rid)) {
            unexpected(r);
            continue;
          }
          RecoveredRun run = run(frameworkId, id, rid, r);
          if (run != null) {
            runs.put(rid, run);
          }
        }
      } else {
        unexpected(entry);
      }
    }
    Path latestFile = dir.resolve(FileKind.LATEST_RUN.fileName());
    if (latest.isPresent() && !runs.containsKey(latest.get())) {
      problems.add(
          Problem.of(
              Kind.NO_LATEST_RUN,
              latestFile,
              "names run "
                  + latest.get()
                  + ", which is not among the recovered runs "
                  + runs.keySet()));
      latest = Optional.empty();
    } else if (latest.isEmpty() && !latestDamaged && !runs.isEmpty()) {
      problems.add(
          Problem.of(
              Kind.NO_LATEST_RUN,
              latestFile,
              "is missing (the agent stopped while starting a run?); runs: " + runs.keySet()));
    }
    return new RecoveredExecutor(id, record.get(), latest, runs);
  }

  private RecoveredRun run(String frameworkId, String executorId, String id, Path dir)
      throws IOException {
    Optional<RunProcessRecord> process = Optional.empty();
    Optional<RunCompletedRecord> completed = Optional.empty();
    Map<String, RecoveredTask> tasks = new LinkedHashMap<>();
    for (Path entry : entries(dir)) {
      String name = entry.getFileName().toString();
      if (name.equals(FileKind.RUN_PROCESS.fileName())) {
        process = leaf(entry, FileKind.RUN_PROCESS, RunProcessRecord.class);
        if (process.isPresent() && !process.get().getRunId().equals(id)) {
          damaged(
              new CheckpointCorruptException(
                  entry,
                  "is inconsistent: it is the process of run "
                      + process.get().getRunId()
                      + " but lies in the directory of run "
                      + id),
              null);
          process = Optional.empty();
        }
      } else if (name.equals(FileKind.RUN_COMPLETED.fileName())) {
        completed = leaf(entry, FileKind.RUN_COMPLETED, RunCompletedRecord.class);
      } else if (name.equals(MetaLayout.TASKS) && isDir(entry)) {
        for (Path t : entries(entry)) {
          String tid = t.getFileName().toString();
          if (!isDir(t) || !MetaLayout.isValidId(tid)) {
            unexpected(t);
            continue;
          }
          RecoveredTask task = task(frameworkId, tid, t);
          if (task != null) {
            tasks.put(tid, task);
          }
        }
      } else {
        unexpected(entry);
      }
    }
    return new RecoveredRun(id, process, completed, tasks);
  }

  private RecoveredTask task(String frameworkId, String id, Path dir) throws IOException {
    List<Path> entries = entries(dir);
    Optional<TaskRecord> record = info(dir, entries, FileKind.TASK_INFO, TaskRecord.class);
    if (record.isEmpty()) {
      return null;
    }
    Path infoFile = dir.resolve(FileKind.TASK_INFO.fileName());
    if (!record.get().getInfo().getTaskId().equals(id)) {
      return mismatch(infoFile, "task " + record.get().getInfo().getTaskId(), dir);
    }
    if (!record.get().getFrameworkId().equals(frameworkId)) {
      return mismatch(infoFile, "framework " + record.get().getFrameworkId(), dir);
    }
    Path updatesFile = dir.resolve(FileKind.TASK_UPDATES.fileName());
    List<TaskStatus> updates = new ArrayList<>();
    Set<ByteString> acks = new LinkedHashSet<>();
    for (Path entry : entries) {
      String name = entry.getFileName().toString();
      if (!name.equals(FileKind.TASK_INFO.fileName())
          && !name.equals(FileKind.TASK_UPDATES.fileName())) {
        unexpected(entry);
      }
    }
    if (entries.contains(updatesFile)) { // listed: no stat of its own
      UpdatesScan scan;
      try {
        scan = CheckpointFormat.scanUpdates(updatesFile, readBytes(updatesFile));
      } catch (CheckpointCorruptException e) {
        damaged(e, dir);
        return null;
      }
      for (TaskUpdateRecord r : scan.records()) {
        if (r.hasUpdate()) {
          TaskStatus u = r.getUpdate();
          if (!u.getTaskId().equals(id)
              || (!u.getFrameworkId().isEmpty() && !u.getFrameworkId().equals(frameworkId))) {
            damaged(
                new CheckpointCorruptException(
                    updatesFile,
                    "is inconsistent: it holds an update of task "
                        + u.getTaskId()
                        + " of framework "
                        + u.getFrameworkId()
                        + ", not of task "
                        + id
                        + " of framework "
                        + frameworkId),
                dir);
            return null;
          }
          updates.add(u);
        } else {
          acks.add(r.getAck());
        }
      }
      if (scan.tornTail().isPresent()) {
        problems.add(
            Problem.of(
                Kind.TORN_TAIL_CUT,
                updatesFile,
                scan.tornTail().get()
                    + (options.repair()
                        ? "; cut off, " + scan.records().size() + " intact record(s) kept"
                        : "; not cut off (read only)")));
        if (options.repair()) {
          try (FileChannel ch = FileChannel.open(updatesFile, WRITE)) {
            ch.truncate(scan.validEnd());
            ch.force(false);
          }
        }
      }
    }
    Set<ByteString> recorded = new LinkedHashSet<>();
    updates.forEach(u -> recorded.add(u.getUuid()));
    for (ByteString ack : acks) {
      if (!recorded.contains(ack)) {
        problems.add(
            Problem.of(
                Kind.UNMATCHED_ACK,
                updatesFile,
                "acknowledges "
                    + HexFormat.of().formatHex(ack.toByteArray())
                    + ", no update of"
                    + " the task has that UUID"));
      }
    }
    acks.retainAll(recorded);
    return RecoveredTask.of(id, record.get().getInfo(), updates, acks);
  }

  /**
   * The info file of {@code dir}, the directory it describes. Missing: if the directory holds
   * nothing else, the agent stopped between creating it and writing the file (skipped, no damage);
   * otherwise it was lost (damage). Damaged: the whole directory is skipped.
   */
  private <M extends Message> Optional<M> info(
      Path dir, List<Path> entries, FileKind kind, Class<M> type) throws IOException {
    Path file = dir.resolve(kind.fileName());
    if (!entries.contains(file)) { // listed: no stat of its own
      if (entries.isEmpty()) {
        problems.add(
            new Problem(
                Kind.INCOMPLETE,
                dir,
                "has no "
                    + kind.fileName()
                    + " and nothing else: created by an agent that stopped before writing it"
                    + (options.repair() ? "; removed" : ""),
                Optional.of(dir)));
        if (options.repair()) {
          Files.deleteIfExists(dir);
          AtomicFiles.fsyncDirectory(dir.getParent());
        }
      } else {
        damaged(
            new CheckpointCorruptException(
                file, "is missing, yet its directory holds " + names(entries)),
            dir);
      }
      return Optional.empty();
    }
    try {
      return Optional.of(type.cast(CheckpointFormat.decodeFile(file, readBytes(file), kind)));
    } catch (CheckpointCorruptException e) {
      damaged(e, dir);
      return Optional.empty();
    }
  }

  /** A file that describes no subtree: damaged, its fact is unknown. */
  private <M extends Message> Optional<M> leaf(Path file, FileKind kind, Class<M> type)
      throws IOException {
    if (!Files.isRegularFile(file, NOFOLLOW_LINKS)) {
      damaged(new CheckpointCorruptException(file, "is not a regular file"), null);
      return Optional.empty();
    }
    try {
      return Optional.of(type.cast(CheckpointFormat.decodeFile(file, readBytes(file), kind)));
    } catch (CheckpointCorruptException e) {
      damaged(e, null);
      return Optional.empty();
    }
  }

  private <T> T mismatch(Path file, String holds, Path dir) throws CheckpointCorruptException {
    damaged(
        new CheckpointCorruptException(
            file,
            "is inconsistent: it holds "
                + holds
                + ", which does not match its directory "
                + dir.getFileName()),
        dir);
    return null;
  }

  private void damaged(CheckpointCorruptException e, Path skipped)
      throws CheckpointCorruptException {
    if (options.strict()) {
      throw new CheckpointCorruptException(e.file(), e.reason(), advice(layout.meta()));
    }
    problems.add(new Problem(Kind.CORRUPT, e.file(), e.reason(), Optional.ofNullable(skipped)));
  }

  /**
   * The whole file: open, fstat, read, close. ({@link Files#readAllBytes} reads once more to find
   * the end: a fifth system call per file, 50,000 for 10^4 tasks. Nothing writes a checkpoint file
   * while recovery reads it: whole files are replaced by rename, never written in place, and only
   * the agent appends to update logs.)
   */
  private static byte[] readBytes(Path file) throws CheckpointCorruptException {
    try (FileChannel ch = FileChannel.open(file, READ)) {
      return TaskUpdatesLog.readAll(ch);
    } catch (IOException e) {
      throw new CheckpointCorruptException(file, "cannot be read (" + e + ")");
    }
  }

  /** The entries of {@code dir}, sorted, without the store's scratch (removed when repairing). */
  private List<Path> entries(Path dir) throws IOException {
    List<Path> all;
    try (Stream<Path> s = Files.list(dir)) {
      all = s.sorted().toList();
    } catch (NoSuchFileException e) {
      return List.of();
    }
    List<Path> entries = new ArrayList<>();
    for (Path p : all) {
      if (AtomicFiles.isScratch(p.getFileName().toString())) {
        problems.add(
            Problem.of(
                Kind.LEFTOVER,
                p,
                "left by an interrupted write or removal"
                    + (options.repair() ? "; removed" : "; ignored (read only)")));
        if (options.repair()) {
          AtomicFiles.deleteRecursively(p);
        }
      } else {
        entries.add(p);
      }
    }
    return entries;
  }

  private void unexpected(Path entry) {
    problems.add(Problem.of(Kind.UNEXPECTED, entry, "is no checkpoint; ignored"));
  }

  private static boolean isDir(Path p) {
    return Files.isDirectory(p, NOFOLLOW_LINKS);
  }

  private static String names(List<Path> entries) {
    return entries.stream().map(p -> p.getFileName().toString()).toList().toString();
  }
}
