package io.kmesos.agent.tasks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Signals for a task's processes. Every task runs as the leader of its own session and process
 * group (started through setsid, whose pid, session id and group id are the same), so one signal to
 * the group reaches the whole tree, including children that the task's command started in the
 * background. Java has no call to signal a group, hence {@code kill -s SIG -- -PGID}; a process
 * that left the group (setpgid) is still in the session, which {@link #sessionMembers} finds in
 * /proc; one that started a session of its own is only found as a descendant while its parents live
 * ({@link ProcessHandle#descendants}), which is why a kill takes that snapshot first.
 */
public final class ProcessTree {
  private static final Path KILL = Path.of("/bin/kill");

  private ProcessTree() {}

  /** Sends the signal (TERM, KILL) to every process of the group; false if none was left. */
  public static boolean signalGroup(long pgid, String signal) {
    try {
      Process kill =
          new ProcessBuilder(KILL.toString(), "-s", signal, "--", "-" + pgid)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!kill.waitFor(10, TimeUnit.SECONDS)) {
        kill.destroyForcibly();
        return false;
      }
      return kill.exitValue() == 0;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + KILL + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * The live (not zombie) processes of the session {@code sid}, or whose process group is {@code
   * sid}.
   */
  public static List<Long> sessionMembers(long sid) {
    return sessionMembers(Set.of(sid)).getOrDefault(sid, List.of());
  }

  /**
   * {@link #sessionMembers(long)} of several sessions in one scan of /proc: each of {@code sids}
   * that has any, with them.
   */
  static Map<Long, List<Long>> sessionMembers(Set<Long> sids) {
    Map<Long, List<Long>> members = new HashMap<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        Stat stat = stat(Long.parseLong(name));
        if (stat == null || stat.zombie()) {
          continue;
        }
        long of =
            sids.contains(stat.sid()) ? stat.sid() : sids.contains(stat.pgid()) ? stat.pgid() : -1;
        if (of != -1) {
          members.computeIfAbsent(of, k -> new ArrayList<>()).add(stat.pid());
        }
      }
    } catch (IOException e) {
      // No /proc (not Linux): only the group signal and the descendants reach the tree.
    }
    return members;
  }

  /** The process group of a live process. */
  public static OptionalLong pgid(long pid) {
    Stat stat = stat(pid);
    return stat == null ? OptionalLong.empty() : OptionalLong.of(stat.pgid());
  }

  /** Whether the process exists and is not a zombie. */
  public static boolean alive(long pid) {
    Stat stat = stat(pid);
    return stat != null && !stat.zombie();
  }

  record Stat(long pid, char state, long ppid, long pgid, long sid) {
    boolean zombie() {
      return state == 'Z' || state == 'X';
    }
  }

  /** /proc/PID/stat; null if the process is gone. */
  static Stat stat(long pid) {
    String s;
    try {
      s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return null;
    }
    // "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    int close = s.lastIndexOf(')');
    if (close < 0) {
      return null;
    }
    String[] f = s.substring(close + 2).split(" ");
    return new Stat(
        pid, f[0].charAt(0), Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]));
  }

  /** A signal's name for the usual Linux numbers ("signal 9 (SIGKILL)"). */
  static String signalName(int signal) {
    String[] names = {
      null, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
      "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM"
    };
    return signal > 0 && signal < names.length
        ? "signal " + signal + " (" + names[signal] + ")"
        : "signal " + signal;
  }
}
