package io.kmesos.agent.tasks;

import io.kmesos.api.v1.CommandInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The process machinery that a command task's run ({@link TaskRunner}) and a custom executor's run
 * ({@code io.kmesos.agent.executors.ExecutorRunner}) share: both run one OS process that leads a
 * session of its own, and a checkpointed one outlives the agent and is re-adopted by the next. It
 * exists so that what recovery relies on is done one way for both; what a run reports (status
 * updates, the executor protocol) stays in its runner.
 *
 * <p>What it guarantees:
 *
 * <ul>
 *   <li>A run's process is started through {@code setsid} ({@link #command}): it leads a new
 *       session and process group (pid == pgid == sid), so one signal to the group reaches what it
 *       starts, and a scan of /proc finds what left the group.
 *   <li>It starts in its sandbox ({@link #processBuilder}) with exactly the environment given (not
 *       the agent's), stdin from /dev/null and stdout, stderr in the sandbox.
 *   <li>With {@code --task-cgroups} ({@link #useCgroups}) a checkpointed run's cgroups are made
 *       before it starts ({@link #makeCgroups}) and its wrapper shell joins them before the command
 *       runs, so no process of the run ever runs in the agent's container; a run whose cgroups
 *       cannot be made does not start, and what was made of them is removed.
 *   <li>A run the agent re-adopted after a restart (not the JVM's child: the kernel does not tell
 *       the agent of its end) is watched by polling /proc ({@link #watchAdopted}); its end is
 *       reported once.
 *   <li>A killed session is SIGKILLed as a whole ({@link #killSession}), and nothing a run left in
 *       its session, or among the descendants seen at a kill, outlives its leader ({@link
 *       #clearUp}).
 * </ul>
 *
 * <p>A checkpointed run's pid is recorded (forked.pid) by its runner's own checkpoints right after
 * the start; a process whose pid cannot be recorded could not be re-adopted, so its runner kills
 * its session ({@link #killSession}) instead of letting it run.
 */
public final class SessionSupervisor {
  private static final Path SETSID = Path.of("/usr/bin/setsid");

  /** The PATH a run gets, as Mesos's command executor gives a task. */
  static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  /**
   * Adopted runs (not the JVM's children) are watched by polling /proc, every this often: one stat
   * read per adopted run, so a node with thousands of them spends little on it; their ends are
   * reported up to this late.
   */
  public static final Duration ADOPTED_POLL = Duration.ofSeconds(1);

  /** How long a run's cgroups still holding a process are tried again ({@link #removeCgroups}). */
  static final Duration CGROUP_REMOVAL = Duration.ofMinutes(2);

  /** How long {@link #clearUp} keeps killing what a run left before it gives up. */
  private static final Duration CLEAR_UP = Duration.ofSeconds(30);

  private final ScheduledExecutorService timers;

  /** Cgroups of their own for checkpointed runs; null: they stay in the agent's. */
  private volatile TaskCgroups cgroups;

  private final List<Adopted> adopted = new ArrayList<>();
  private ScheduledFuture<?> adoptedPoll;
  private boolean closed;

  private record Adopted(ProcessHandle process, Runnable ended) {}

  /**
   * @param timers runs the poll of adopted runs (its threads run no run's code)
   */
  public SessionSupervisor(ScheduledExecutorService timers) {
    this.timers = timers;
  }

  /**
   * Checkpointed runs started from now on get cgroups of their own there ({@code --task-cgroups}).
   */
  public void useCgroups(TaskCgroups cgroups) {
    this.cgroups = cgroups;
  }

  /**
   * Makes the run's own cgroups, for its wrapper shell to join: none without {@link #useCgroups}.
   *
   * @throws IOException (with {@link TaskCgroups#reason} for the one-line reason) when they cannot
   *     be made; what was made of them is removed
   */
  public List<Path> makeCgroups(String runId) throws IOException {
    TaskCgroups cg = cgroups;
    if (cg == null) {
      return List.of();
    }
    try {
      return cg.create(runId);
    } catch (IOException | RuntimeException e) {
      cg.remove(runId);
      throw asIo(e);
    }
  }

  /**
   * Removes the run's cgroups once its processes are gone. A process SIGKILLed a moment ago still
   * holds its cgroup until the kernel finished its exit, and the run's leader may end before what
   * it started (an executor's tasks), so a cgroup the kernel refuses to remove is tried again, on a
   * timer (0.25 s doubling to 5 s) for up to {@link #CGROUP_REMOVAL} — without that it stayed until
   * the next agent's sweep, which on a node may be days. One still held after that stays for the
   * sweep.
   */
  public void removeCgroups(String runId) {
    TaskCgroups cg = cgroups;
    if (cg != null && !cg.remove(runId, false)) {
      retryRemoval(cg, runId, System.nanoTime() + CGROUP_REMOVAL.toNanos(), 250);
    }
  }

  private void retryRemoval(TaskCgroups cg, String runId, long deadline, long delayMs) {
    synchronized (this) {
      if (closed) {
        return; // the agent stops: the next agent's sweep removes them once empty
      }
    }
    try {
      timers.schedule(
          () -> {
            boolean last = System.nanoTime() + delayMs * 1_000_000L >= deadline;
            if (!cg.remove(runId, last) && !last) {
              retryRemoval(cg, runId, deadline, Math.min(delayMs * 2, 5_000));
            }
          },
          delayMs,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // the agent stops: the next agent's sweep removes them once empty
    }
  }

  /**
   * The run's argv: {@code setsid}, then {@code wrapper} (a shell that joins the run's cgroups or
   * records its exit status, with its arguments; may be empty), then {@code /bin/sh -c value} or
   * value with arguments[1..] (argv[0] is value: Java cannot set argv[0] apart from the executable,
   * so the executable's name stands for it).
   */
  public static List<String> command(List<String> wrapper, CommandInfo command) {
    List<String> argv = new ArrayList<>();
    argv.add(SETSID.toString());
    argv.addAll(wrapper);
    if (!command.hasShell() || command.getShell()) {
      argv.addAll(List.of("/bin/sh", "-c", command.getValue()));
    } else {
      argv.add(command.getValue());
      argv.addAll(command.getArgumentsList().stream().skip(1).toList());
    }
    return argv;
  }

  /** What every run's environment starts with: PATH, HOME and MESOS_SANDBOX (the sandbox). */
  public static Map<String, String> environment(Path sandbox) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", DEFAULT_PATH);
    env.put("HOME", sandbox.toString());
    env.put("MESOS_SANDBOX", sandbox.toString());
    return env;
  }

  /**
   * Makes the sandbox and a builder for the run's process in it: {@code env} is its whole
   * environment, stdin is /dev/null, stdout and stderr go to the sandbox's files of those names.
   */
  public static ProcessBuilder processBuilder(
      List<String> argv, Path sandbox, Map<String, String> env) throws IOException {
    Files.createDirectories(sandbox);
    ProcessBuilder pb = new ProcessBuilder(argv).directory(sandbox.toFile());
    pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    pb.redirectOutput(sandbox.resolve("stdout").toFile());
    pb.redirectError(sandbox.resolve("stderr").toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    return pb;
  }

  /**
   * Watches a re-adopted run's process: once it ended (or is a zombie its new parent did not reap),
   * {@code ended} runs, once, on a timer thread and under no lock of the supervisor's.
   */
  public void watchAdopted(ProcessHandle process, Runnable ended) {
    synchronized (this) {
      adopted.add(new Adopted(process, ended));
      if (adoptedPoll == null && !closed) {
        adoptedPoll =
            timers.scheduleWithFixedDelay(
                this::pollAdopted,
                ADOPTED_POLL.toMillis(),
                ADOPTED_POLL.toMillis(),
                TimeUnit.MILLISECONDS);
      }
    }
  }

  private void pollAdopted() {
    List<Runnable> ended = new ArrayList<>();
    // Runs may share a process (the tasks of one re-adopted shell): one /proc read per pid.
    Map<Long, Boolean> alive = new HashMap<>();
    synchronized (this) {
      for (Iterator<Adopted> i = adopted.iterator(); i.hasNext(); ) {
        Adopted a = i.next();
        if (!alive.computeIfAbsent(a.process().pid(), ProcessTree::alive)) {
          i.remove();
          ended.add(a.ended());
        }
      }
    }
    ended.forEach(Runnable::run);
  }

  /** Stops watching adopted runs (the agent stops: the next agent's recovery sees their ends). */
  public synchronized void close() {
    closed = true;
    if (adoptedPoll != null) {
      adoptedPoll.cancel(false);
    }
  }

  /**
   * SIGKILL to the session's process group (led by {@code leader}), to the leader, and to {@code
   * strays} (descendants seen earlier that may have left the group). The caller checks that the
   * leader still runs: once it ended its pid may be another process's.
   */
  public static void killSession(ProcessHandle leader, Collection<ProcessHandle> strays) {
    ProcessTree.signalGroup(leader.pid(), "KILL");
    leader.destroyForcibly();
    strays.forEach(ProcessHandle::destroyForcibly);
  }

  /**
   * After the session's leader {@code pid} ended: SIGKILLs whatever is left in its session and
   * group, and {@code strays} (descendants seen at a kill; those found gone are removed), until
   * none is left or 30 s passed.
   *
   * @return the session's members that survived
   */
  public static List<Long> clearUp(long pid, Set<ProcessHandle> strays) {
    long deadline = System.nanoTime() + CLEAR_UP.toNanos();
    List<Long> left = ProcessTree.sessionMembers(pid);
    while ((!left.isEmpty() || strays.stream().anyMatch(ProcessHandle::isAlive))
        && System.nanoTime() < deadline) {
      ProcessTree.signalGroup(pid, "KILL");
      for (long p : left) {
        ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
      }
      strays.forEach(ProcessHandle::destroyForcibly);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      left = ProcessTree.sessionMembers(pid);
      strays.removeIf(d -> !ProcessTree.alive(d.pid()));
    }
    return left;
  }

  /** An exception as the IOException its message says. */
  public static IOException asIo(Exception e) {
    return e instanceof IOException io ? io : new IOException(e.getMessage(), e);
  }
}
