package io.kmesos.agent.gc;

import io.kmesos.agent.checkpoint.MetaLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The garbage collection of sandboxes no checkpoint accounts for: those of frameworks without
 * {@code checkpoint} (a command task's {@code sandboxes/<framework>/<task>/<run>}, a custom
 * executor's {@code executors/<framework>/<executor>/<run>}) and, after a restart, any run sandbox
 * whose run has no checkpoint (left by an earlier agent; as Mesos's agent schedules the unknown
 * directories it finds at recovery). The checkpointed runs' sandboxes go with their checkpoints
 * ({@code TaskCheckpoints}).
 *
 * <p>A framework without {@code checkpoint} leaves no record of which run a task had: once a task's
 * terminal update is acknowledged, the runs under its sandbox directory, and the framework's
 * executor runs, are scheduled; each is collected after the GC delay only if by then nothing
 * references it ({@link References}), else tried again later.
 */
public final class Sandboxes {
  private static final Logger LOG = LoggerFactory.getLogger(Sandboxes.class);

  /** What still uses a sandbox. Each call takes the lock of what it asks, nothing else. */
  public interface References {
    /** Whether the runner has a run of this task (starting, running or being killed). */
    boolean taskRuns(String frameworkId, String taskId);

    /** Whether a run of this custom executor is known (starting, running or stopping). */
    boolean executorRuns(String frameworkId, String executorId);

    /**
     * Whether updates of this task, or of any task of the framework if null, are unacknowledged.
     */
    boolean updatesPending(String frameworkId, String taskId);
  }

  private final Path workDir;
  private final MetaLayout layout;
  private final GarbageCollector gc;
  private final References references;
  private final Clock clock;
  private final Executor lister;

  /**
   * @param lister where {@link #taskDone} and {@link #frameworkDone} list the directories to
   *     schedule: the collector's thread, so that an acknowledgement (under the update queues'
   *     lock) waits for no file system
   */
  public Sandboxes(
      Path workDir,
      MetaLayout layout,
      GarbageCollector gc,
      References references,
      Clock clock,
      Executor lister) {
    this.workDir = workDir;
    this.layout = layout;
    this.gc = gc;
    this.references = references;
    this.clock = clock;
    this.lister = lister;
  }

  private void later(Runnable listing) {
    try {
      lister.execute(listing);
    } catch (RejectedExecutionException e) {
      // The agent is stopping: the next one schedules what it finds.
    }
  }

  /**
   * A task of a framework without {@code checkpoint} ended and its terminal update was
   * acknowledged.
   */
  public void taskDone(String frameworkId, String taskId) {
    later(() -> scheduleTaskDone(frameworkId, taskId));
  }

  private void scheduleTaskDone(String frameworkId, String taskId) {
    Duration delay = gc.settings().delay();
    for (Path run : children(workDir.resolve("sandboxes").resolve(frameworkId).resolve(taskId))) {
      scheduleTask(frameworkId, taskId, run, delay);
    }
    // Which executor ran it is not recorded: each of the framework's executor runs is scheduled
    // and collected once it ended (checked at its deadline).
    for (Path executor : children(workDir.resolve("executors").resolve(frameworkId))) {
      for (Path run : children(executor)) {
        scheduleExecutor(frameworkId, executor.getFileName().toString(), run, delay);
      }
    }
  }

  /** A framework without {@code checkpoint} was shut down: all of its sandboxes are scheduled. */
  public void frameworkDone(String frameworkId) {
    later(() -> scheduleFrameworkDone(frameworkId));
  }

  private void scheduleFrameworkDone(String frameworkId) {
    Duration delay = gc.settings().delay();
    for (Path task : children(workDir.resolve("sandboxes").resolve(frameworkId))) {
      for (Path run : children(task)) {
        scheduleTask(frameworkId, task.getFileName().toString(), run, delay);
      }
    }
    for (Path executor : children(workDir.resolve("executors").resolve(frameworkId))) {
      for (Path run : children(executor)) {
        scheduleExecutor(frameworkId, executor.getFileName().toString(), run, delay);
      }
    }
  }

  /**
   * After recovery: schedules every run sandbox no checkpoint names, after what is left of the GC
   * delay since the directory was last modified (Mesos's {@code gc_delay - age}).
   *
   * @return how many were scheduled
   */
  public int scheduleLeftovers() {
    int scheduled = 0;
    Instant now = clock.instant();
    for (String root : List.of("sandboxes", "executors")) {
      for (Path framework : children(workDir.resolve(root))) {
        String frameworkId = framework.getFileName().toString();
        for (Path owner : children(framework)) {
          String id = owner.getFileName().toString();
          for (Path run : children(owner)) {
            if (checkpointed(frameworkId, id, run.getFileName().toString())) {
              continue;
            }
            Duration delay = gc.settings().delay().minus(age(run, now));
            boolean added =
                root.equals("sandboxes")
                    ? scheduleTask(frameworkId, id, run, delay)
                    : scheduleExecutor(frameworkId, id, run, delay);
            if (added) {
              scheduled++;
            }
          }
        }
      }
    }
    if (scheduled > 0) {
      LOG.info(
          "garbage collection: {} sandboxes of runs no checkpoint names (frameworks without"
              + " checkpoint, an earlier agent's) scheduled for removal",
          scheduled);
    }
    return scheduled;
  }

  /** The key of a sandbox's item in the collector. */
  public static String key(Path runSandbox) {
    return "sandbox:" + runSandbox;
  }

  private boolean scheduleTask(String frameworkId, String taskId, Path run, Duration delay) {
    return gc.schedule(
        key(run),
        delay,
        () -> {
          if (references.taskRuns(frameworkId, taskId)
              || references.updatesPending(frameworkId, taskId)) {
            return GarbageCollector.Outcome.REFERENCED;
          }
          return remove(frameworkId, taskId, run);
        });
  }

  private boolean scheduleExecutor(
      String frameworkId, String executorId, Path run, Duration delay) {
    return gc.schedule(
        key(run),
        delay,
        () -> {
          // Its tasks are not recorded: any unacknowledged update of the framework keeps it.
          if (references.executorRuns(frameworkId, executorId)
              || references.updatesPending(frameworkId, null)) {
            return GarbageCollector.Outcome.REFERENCED;
          }
          return remove(frameworkId, executorId, run);
        });
  }

  private GarbageCollector.Outcome remove(String frameworkId, String id, Path run) {
    String runId = run.getFileName().toString();
    if (checkpointed(frameworkId, id, runId)) {
      // A checkpointed run's sandbox goes with its checkpoints, when they go.
      return GarbageCollector.Outcome.FAILED;
    }
    try {
      Trees.deleteTree(run);
      Trees.deleteTree(workDir.resolve("runtime").resolve(runId));
      Trees.deleteIfEmpty(run.getParent());
      Trees.deleteIfEmpty(run.getParent().getParent());
      LOG.info("garbage-collected the sandbox {} (no checkpoint names its run)", run);
      return GarbageCollector.Outcome.COLLECTED;
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not garbage-collect the sandbox {}: {}", run, e.toString());
      return GarbageCollector.Outcome.FAILED;
    }
  }

  /** Whether a checkpoint names the run (an ID checkpoints cannot hold: none does). */
  private boolean checkpointed(String frameworkId, String executorId, String runId) {
    try {
      return Files.exists(layout.run(frameworkId, executorId, runId), LinkOption.NOFOLLOW_LINKS);
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static Duration age(Path dir, Instant now) {
    try {
      Instant modified = Files.getLastModifiedTime(dir, LinkOption.NOFOLLOW_LINKS).toInstant();
      return modified.isAfter(now) ? Duration.ZERO : Duration.between(modified, now);
    } catch (IOException e) {
      return Duration.ZERO;
    }
  }

  private static List<Path> children(Path dir) {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).sorted().toList();
    } catch (IOException | RuntimeException e) {
      return List.of();
    }
  }
}
